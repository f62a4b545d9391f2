"""The atendimento's WhatsApp chat in Chromium, against the WhatsApp sandbox on loopback: a template outside the
window, the debtor's reply popping in live, the operator answering inside the window, statuses updating. Served by
Django's test server (no stream: the page refreshes every few seconds, the fallback) and by uvicorn on PostgreSQL
(the reply, the statuses and the console's counts pushed on the console's stream, nothing polled)."""

import time

import pytest
from django.test import Client
from playwright.sync_api import expect

from attendance.models import Message
from messaging import services
from sandbox.whatsapp_fake import WhatsAppSandbox
from sandbox.whatsapp_server import WhatsAppSandboxServer
from tenants.settings_schema import clean_settings
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNID = "1234567890123"
SECRET = "app-secret-browser"


def sandbox_posting_to(app_url, tenant):
    """A WhatsApp sandbox on loopback, the tenant's settings pointing at it, its webhooks posted to `app_url`."""
    server = WhatsAppSandboxServer(WhatsAppSandbox()).start()
    tenant.settings = clean_settings(
        {
            "whatsapp_phone_number_id": PNID,
            "whatsapp_waba_id": "2223334445556",
            "whatsapp_access_token": "sandbox-wa-alfa",
            "whatsapp_app_secret": SECRET,
            "whatsapp_base_url": server.url,
        }
    )
    tenant.save()
    server.sandbox.connect(PNID, f"{app_url}/mensagens/webhooks/whatsapp/{tenant.pk}/", SECRET)
    return server


@pytest.fixture
def wa_sandbox(live_server, tenant):
    server = sandbox_posting_to(live_server.url, tenant)
    yield server.sandbox
    server.stop()


def deliver_queued():
    """The worker's part, run here: every queued message handed to the sandbox."""
    for pk in Message.objects.filter(status=Message.Status.QUEUED).values_list("pk", flat=True):
        services.deliver(pk)


def test_chat_template_live_reply_and_answer(page, live_server, operator, tenant, make_client, wa_sandbox):
    debtor = make_client(name="Maria Souza")
    login(page, live_server, operator, next_url=f"/atendimento/{debtor.pk}/")
    page.locator("#tab-whatsapp").click()
    chat = page.get_by_test_id("chat")
    expect(chat.get_by_test_id("chat-window-closed")).to_be_visible()
    expect(page.locator("#whatsapp-input")).to_be_disabled()

    # Outside the window: a template, filled from the client; its variables editable, its text not.
    template = chat.get_by_test_id("template-cobranca_lembrete")
    expect(template).to_contain_text("Maria")
    expect(template.get_by_test_id("template-variable-1")).to_have_value("Maria")
    expect(template.get_by_test_id("template-variable-2")).to_have_value("R$ 100,00")
    template.get_by_test_id("template-variable-1").fill("Dona Maria")
    expect(template.locator("[data-preview]")).to_contain_text("Olá Dona Maria, consta um saldo de R$ 100,00")
    template.get_by_role("button", name="Enviar modelo").click()
    expect(page.get_by_test_id("chat-notice")).to_contain_text("Mensagem na fila")
    deliver_queued()
    [sent] = wa_sandbox.sent.values()
    assert sent["to"] == "5511987654321" and "Olá Dona Maria" in sent["body"]
    expect(page.locator(f"#status-{Message.objects.get(direction='enviada').pk}")).to_have_text("Enviada")

    # The debtor replies: it pops in the open tab, and the free-text box opens.
    wa_sandbox.advance(sent["id"], "read")
    wa_sandbox.reply(PNID, "5511987654321", "Quero negociar, pode ser em 3x?")
    expect(page.get_by_test_id("chat-log")).to_contain_text("Quero negociar, pode ser em 3x?")
    expect(page.get_by_test_id("chat-window-open")).to_be_visible(timeout=10_000)
    first = Message.objects.get(direction="enviada")
    expect(page.locator(f"#status-{first.pk}")).to_have_text("Lida")

    page.locator("#whatsapp-input").fill("Pode sim, vou simular para você.")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("chat-log")).to_contain_text("Pode sim, vou simular para você.")
    deliver_queued()
    answer = Message.objects.get(body="Pode sim, vou simular para você.")
    assert answer.status == "enviada" and answer.author == operator
    expect(page.locator(f"#status-{answer.pk}")).to_have_text("Enviada")


# -- as production serves it: uvicorn on PostgreSQL, the chat and the counts on the console's stream ---------------


@pytest.fixture
def wa_sandbox_asgi(asgi_server, tenant):
    """The sandbox posting its webhooks to uvicorn, where the streams are."""
    server = sandbox_posting_to(asgi_server.url, tenant)
    yield server.sandbox
    server.stop()


def sign_in_by_session(page, url, user):
    browser = Client()  # the test settings hash passwords in a way the server does not: sign in by session
    browser.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": browser.cookies["sessionid"].value, "url": url}])


def test_the_reply_and_the_statuses_arrive_on_the_stream_without_polling(
    page, asgi_server, operator, tenant, make_client, wa_sandbox_asgi
):
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    debtor = make_client(name="Maria Stream")  # not assigned to the operator: the open page is what lets it in
    chat_url = f"/mensagens/{debtor.pk}/chat/"
    asked = []
    page.on("request", lambda request: asked.append((time.monotonic(), request.url)))

    def chat_asks(since):
        return [url for at, url in asked if chat_url in url and at >= since]

    sign_in_by_session(page, asgi_server.url, operator)
    page.goto(f"{asgi_server.url}/atendimento/{debtor.pk}/")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)  # the stream's "pronto" arrived
    assert [url for _at, url in asked if f"/atendimento/ligacoes/?cliente={debtor.pk}" in url]
    page.locator("#tab-whatsapp").click()
    chat = page.get_by_test_id("chat")
    template = chat.get_by_test_id("template-cobranca_lembrete")
    template.get_by_role("button", name="Enviar modelo").click()
    expect(page.get_by_test_id("chat-notice")).to_contain_text("Mensagem na fila")

    # Idle: a polling chat would have asked at least once in 4 s; this one waits on the stream.
    idle = time.monotonic()
    page.wait_for_timeout(4000)
    assert chat_asks(idle) == []

    # The worker hands the template over: its status comes through the stream.
    pushed = time.monotonic()
    deliver_queued()
    [sent] = wa_sandbox_asgi.sent.values()
    expect(page.locator(f"#status-{Message.objects.get(direction='enviada').pk}")).to_have_text("Enviada")
    assert chat_asks(pushed)  # the note made the chat read what is new, once the note came

    # The debtor reads it and replies: both reach the open tab, and the free-text box opens.
    wa_sandbox_asgi.advance(sent["id"], "read")
    wa_sandbox_asgi.reply(PNID, "5511987654321", "Quero negociar pelo stream")
    expect(page.get_by_test_id("chat-log")).to_contain_text("Quero negociar pelo stream")
    expect(page.get_by_test_id("chat-window-open")).to_be_visible(timeout=10_000)
    first = Message.objects.get(direction="enviada")
    expect(page.locator(f"#status-{first.pk}")).to_have_text("Lida")
    expect(page.locator("[data-message-id]")).to_have_count(2)  # no bubble twice after overlapping refreshes

    # Quiet again: no request to the chat until the next note.
    page.wait_for_timeout(500)
    quiet = time.monotonic()
    page.wait_for_timeout(4000)
    assert chat_asks(quiet) == []


def test_the_console_unread_counts_arrive_on_the_stream_without_polling(
    page, asgi_server, operator, tenant, make_client, wa_sandbox_asgi
):
    operator.membership.threecplus_agent_id = "1001"
    operator.membership.save()
    debtor = make_client(name="Joana Contada", assigned_operator=operator)
    asked = []
    page.on("request", lambda request: asked.append((time.monotonic(), request.url)))
    sign_in_by_session(page, asgi_server.url, operator)
    page.goto(f"{asgi_server.url}/atendimento/")
    expect(page.locator("#call-watch[data-ready]")).to_have_count(1)
    expect(page.get_by_test_id("unread")).to_have_count(1)
    page.wait_for_timeout(500)
    idle = time.monotonic()
    page.wait_for_timeout(6000)  # a polling console asks every 5 s
    assert not [url for at, url in asked if "/mensagens/nao-lidas/" in url and at >= idle]
    wa_sandbox_asgi.reply(PNID, "5511987654321", "Oi, recebi a cobrança")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    wa_sandbox_asgi.reply(PNID, "5511987654321", "Podemos conversar?")
    expect(page.get_by_test_id("unread-count")).to_have_text("2")
    # Read in another tab: the console's count goes.
    other = page.context.new_page()
    other.goto(f"{asgi_server.url}/atendimento/{debtor.pk}/")
    expect(other.get_by_test_id("chat-log")).to_contain_text("Podemos conversar?")
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    other.close()
