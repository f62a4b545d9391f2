"""The atendimento's WhatsApp chat in Chromium, against the WhatsApp sandbox on loopback: a template outside the
window, the debtor's reply popping in live, the operator answering inside the window, statuses updating."""

import pytest
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


@pytest.fixture
def wa_sandbox(live_server, tenant):
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
    server.sandbox.connect(PNID, f"{live_server.url}/mensagens/webhooks/whatsapp/{tenant.pk}/", SECRET)
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

    # Outside the window: a template, filled from the client.
    template = chat.get_by_test_id("template-cobranca_lembrete")
    expect(template).to_contain_text("Maria")
    template.get_by_role("button", name="Enviar modelo").click()
    expect(page.get_by_test_id("chat-notice")).to_contain_text("Mensagem na fila")
    deliver_queued()
    [sent] = wa_sandbox.sent.values()
    assert sent["to"] == "5511987654321" and "Maria" in sent["body"]
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
