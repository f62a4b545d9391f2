"""The chat against the WhatsApp sandbox over loopback HTTP: a template goes out, the debtor replies, the reply shows
in the operator's tab, the operator answers inside the window and is refused free text outside it."""

import datetime
import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.html import escape
from freezegun import freeze_time

from attendance.models import Message
from messaging import services
from messaging.models import OptOut
from tests.messaging.conftest import APP_SECRET, PHONE_NUMBER_ID

NUMBER = "+5511987654321"


def chat_url(client):
    return f"/mensagens/{client.pk}/chat/"


def test_template_reply_answer_and_window(
    client, operator, wa_tenant, wa_sandbox, outbox, make_client, run_worker, django_capture_on_commit_callbacks
):
    debtor = make_client(name="Maria Souza")
    client.force_login(operator)

    # Outside the window: free text refused, nothing queued.
    page = client.get(chat_url(debtor))
    assert 'data-testid="chat-window-closed"' in page.content.decode()
    refused = client.post(chat_url(debtor), {"kind": "text", "text": "Oi"})
    assert "Fora da janela de 24 horas" in refused.content.decode()
    assert not Message.objects.filter(direction="enviada").exists()

    # A template goes out, filled from the client, through the worker.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            chat_url(debtor),
            {"kind": "template", "template": "cobranca_lembrete|pt_BR", "var1": "{nome}", "var2": "{valor}"},
        )
    run_worker()
    sent = Message.objects.get(direction="enviada")
    assert sent.status == "enviada" and sent.external_id.startswith("wamid.SBX")
    assert "Maria" in sent.body and "R$ 100,00" in sent.body
    conversation = wa_sandbox.conversation_list(PHONE_NUMBER_ID)[0]
    assert conversation["wa_id"] == "5511987654321"
    outbox.flush()  # the "sent" status

    # Delivered and read from the debtor's phone.
    wa_sandbox.advance(sent.external_id, "delivered")
    wa_sandbox.advance(sent.external_id, "read")
    outbox.flush()
    sent.refresh_from_db()
    assert sent.status == "lida"

    # The debtor replies; the operator's open tab picks it up on its next poll.
    last_id = sent.pk
    wa_sandbox.reply(PHONE_NUMBER_ID, "5511987654321", "Quero negociar")
    [answer] = outbox.flush()
    assert answer.status_code == 200 and answer.json()["messages"] == 1
    poll = client.get(chat_url(debtor), {"after": last_id})
    assert "Quero negociar" in poll.content.decode()

    # Inside the window the operator types freely.
    page = client.get(chat_url(debtor))
    assert 'data-testid="chat-window-open"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(chat_url(debtor), {"kind": "text", "text": "Posso te ajudar?"})
    run_worker()
    reply = Message.objects.get(body="Posso te ajudar?")
    assert reply.status == "enviada" and reply.author == operator
    assert wa_sandbox.conversation_list(PHONE_NUMBER_ID)[0]["messages"][-1]["body"] == "Posso te ajudar?"

    # A day later the window is closed again.
    with freeze_time(timezone.now() + datetime.timedelta(hours=25)):
        refused = client.post(chat_url(debtor), {"kind": "text", "text": "Ainda aí?"})
    assert "Fora da janela de 24 horas" in refused.content.decode()
    assert not Message.objects.filter(body="Ainda aí?").exists()


def test_opt_out_blocks_the_channel(client, operator, wa_tenant, wa_sandbox, outbox, make_client):
    debtor = make_client()
    wa_sandbox.reply(PHONE_NUMBER_ID, "5511987654321", "PARAR")
    outbox.flush()
    assert OptOut.objects.filter(client=debtor, channel="whatsapp").exists()
    client.force_login(operator)
    answer = client.post(chat_url(debtor), {"kind": "text", "text": "Oi"})
    assert "pediu para não receber" in answer.content.decode()
    # Every later step of the régua leaves the channel alone.
    from messaging import cadence
    from messaging.models import Step

    Step.objects.create(
        tenant=wa_tenant,
        creditor=debtor.creditor,
        name="D+40",
        offset_days=40,
        template_name="cobranca_lembrete",
        active=True,
    )
    assert cadence.run(wa_tenant) == {}
    assert dict(cadence.preview(wa_tenant, timezone.localdate())[0]["skipped"]) == {
        "pediu para não receber neste canal": 1
    }
    assert not Message.objects.filter(direction="enviada").exists()


def test_webhook_signature_handshake_and_replay(client, wa_tenant, make_client):
    debtor = make_client()
    url = f"/mensagens/webhooks/whatsapp/{wa_tenant.pk}/"
    ok = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "verifica-123", "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    assert (
        client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "errado", "hub.challenge": "1"}).status_code
        == 403
    )
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                                "messages": [
                                    {
                                        "from": "5511987654321",
                                        "id": "wamid.X1",
                                        "timestamp": "1700000000",
                                        "type": "text",
                                        "text": {"body": "oi"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    forged = client.post(
        url, body, content_type="application/json", headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}
    )
    assert forged.status_code == 403
    for _attempt in range(2):  # Meta retries: stored once
        answer = client.post(url, body, content_type="application/json", headers={"X-Hub-Signature-256": signature})
        assert answer.status_code == 200
    assert Message.objects.filter(client=debtor, external_id="wamid.X1").count() == 1
    not_json = b"{nope"
    bad = client.post(
        url,
        not_json,
        content_type="application/json",
        headers={
            "X-Hub-Signature-256": "sha256=" + hmac.new(APP_SECRET.encode(), not_json, hashlib.sha256).hexdigest()
        },
    )
    assert bad.status_code == 400


def test_other_tenant_cannot_open_the_chat(client, other_tenant, wa_tenant, make_client):
    from tests.conftest import make_user

    debtor = make_client()
    stranger = make_user(other_tenant, "operador")
    client.force_login(stranger)
    assert client.get(chat_url(debtor)).status_code == 404


def test_testar_conexao_lists_approved_templates(client, tenant_admin, wa_tenant):
    client.force_login(tenant_admin)
    page = client.get(f"/admin/tenants/tenant/{wa_tenant.pk}/testar-whatsapp/", headers={"HX-Request": "true"})
    html = page.content.decode()
    assert 'data-testid="whatsapp-ok"' in html and "cobranca_lembrete" in html and "promocao_pendente" not in html


def test_console_unread_counts_until_the_chat_is_opened(
    client, operator, supervisor, wa_tenant, wa_sandbox, outbox, make_client
):
    mine = make_client(name="Cliente Meu", assigned_operator=operator)
    make_client(name="Cliente Outro", phones=("+5511955554444",))
    wa_sandbox.reply(PHONE_NUMBER_ID, "5511987654321", "oi")
    wa_sandbox.reply(PHONE_NUMBER_ID, "5511987654321", "tem alguém?")
    wa_sandbox.reply(PHONE_NUMBER_ID, "5511955554444", "bom dia")
    outbox.flush()
    client.force_login(operator)
    assert 'hx-get="/mensagens/nao-lidas/"' in client.get("/atendimento/").content.decode()
    html = client.get("/mensagens/nao-lidas/").content.decode()
    assert "Cliente Meu" in html and ">2<" in html and "Cliente Outro" not in html  # only the operator's clients
    client.force_login(supervisor)
    assert "Cliente Outro" in client.get("/mensagens/nao-lidas/").content.decode()
    client.force_login(operator)
    client.get(chat_url(mine))
    assert "Cliente Meu" not in client.get("/mensagens/nao-lidas/").content.decode()


def test_a_cadence_step_sends_the_approved_template_as_the_debtor_reads_it(
    wa_tenant, wa_sandbox, creditor, make_client, run_worker, django_capture_on_commit_callbacks
):
    from messaging import cadence
    from messaging.models import Step

    make_client(name="Carla Dias", debts=((Decimal("80.00"), 2),))
    Step.objects.create(
        tenant=wa_tenant,
        creditor=creditor,
        name="D+2",
        offset_days=2,
        template_name="cobranca_lembrete",
        text="{nome}\n{valor}",
        active=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert cadence.run(wa_tenant) == {"whatsapp": 1}
    run_worker()
    message = Message.objects.get(direction="enviada")
    assert message.body == "Olá Carla, consta um saldo de R$ 80,00 em aberto. Responda esta mensagem para negociar."
    assert message.status == "enviada"
    [conversation] = wa_sandbox.conversation_list(PHONE_NUMBER_ID)
    assert conversation["messages"][0]["body"] == message.body


def test_media_from_the_debtor_is_linked_and_served_through_us(
    client, operator, wa_tenant, wa_sandbox, outbox, make_client
):
    debtor = make_client()
    wa_sandbox.reply(PHONE_NUMBER_ID, "5511987654321", "", media={"type": "image", "caption": "comprovante"})
    outbox.flush()
    message = Message.objects.get(client=debtor)
    assert message.media_type == "image" and message.body == "comprovante"
    client.force_login(operator)
    html = client.get(chat_url(debtor)).content.decode()
    link = f"/mensagens/{debtor.pk}/midia/{message.pk}/"
    assert link in html
    image = client.get(link)
    assert image.status_code == 200 and image["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG")


# -- a template's variables, editable; its text, never --------------------------------------------------------------


TEMPLATE = "cobranca_pix|pt_BR"  # "Olá {{1}}, o PIX da sua próxima parcela: {{2}}"


def test_the_chat_offers_each_variable_filled_from_the_client_in_an_input(client, operator, wa_tenant, make_client):
    debtor = make_client(name="maria souza")
    client.force_login(operator)
    page = client.get(chat_url(debtor)).content.decode()
    assert 'name="var1" value="Maria"' in page
    assert 'name="var2" value="R$ 100,00"' in page  # {valor} by default: the operator may put the PIX in its place
    assert f'maxlength="{services.MAX_TEMPLATE_VARIABLE}" required' in page
    assert '<option value="maria souza" label="Nome completo">' in page  # and the others, to pick from
    assert '<option value="R$ 100,00" label="Valor em aberto">' in page
    assert "<textarea" not in page  # the template's text is shown, not editable


def test_an_edited_variable_goes_as_edited_and_the_template_text_as_approved(
    client, operator, wa_tenant, make_client, django_capture_on_commit_callbacks, run_worker
):
    debtor = make_client(name="Maria Souza")
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            chat_url(debtor),
            {
                "kind": "template",
                "template": TEMPLATE,
                "var1": "  Dona Maria ",
                "var2": "00020126-codigo-pix",
                "body": "Pague agora ou {{1}}!",  # not a field: the text is the approved template's
            },
        )
    assert "Mensagem na fila" in answer.content.decode()
    run_worker()
    sent = Message.objects.get(direction="enviada")
    assert sent.body == "Olá Dona Maria, o PIX da sua próxima parcela: 00020126-codigo-pix"
    assert sent.template["parameters"] == ["Dona Maria", "00020126-codigo-pix"]
    assert sent.status == "enviada"


@pytest.mark.parametrize(
    ("var2", "error"),
    [
        ("", "Preencha a variável 2 do modelo."),
        ("   ", "Preencha a variável 2 do modelo."),
        ("x" * 1025, "A variável 2 passa de 1024 caracteres."),
        ("linha um\nlinha dois", "A variável 2 não pode ter quebras de linha, tabulações nem caracteres de controle."),
        ("com\ttab", "A variável 2 não pode ter quebras de linha, tabulações nem caracteres de controle."),
        ("nulo\x00aqui", "A variável 2 não pode ter quebras de linha, tabulações nem caracteres de controle."),
        ("muitos     espaços", "A variável 2 não pode ter mais de 4 espaços seguidos."),
        ("{pix}", "Preencha a variável 2 do modelo."),  # no agreement: no PIX to fill it with
    ],
)
def test_a_bad_variable_is_refused_in_portuguese_and_kept_as_typed(
    client, operator, wa_tenant, make_client, var2, error
):
    debtor = make_client(name="Maria Souza")
    client.force_login(operator)
    answer = client.post(
        chat_url(debtor), {"kind": "template", "template": TEMPLATE, "var1": "Dona Maria", "var2": var2}
    )
    page = answer.content.decode()
    assert answer.status_code == 422
    assert f'data-testid="chat-error">{escape(error)}</div>' in page
    assert 'name="var1" value="Dona Maria"' in page  # what the operator typed stays
    assert not Message.objects.filter(direction="enviada").exists()


def test_a_template_not_approved_is_refused_whatever_its_variables(client, operator, wa_tenant, make_client):
    debtor = make_client(name="Maria Souza")
    client.force_login(operator)
    answer = client.post(
        chat_url(debtor), {"kind": "template", "template": "promocao_pendente|pt_BR", "var1": "x", "var2": "y"}
    )
    assert "Escolha um modelo aprovado." in answer.content.decode()
    assert not Message.objects.filter(direction="enviada").exists()
