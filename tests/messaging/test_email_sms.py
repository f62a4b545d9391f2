"""E-mail (django-anymail, its test backend) and SMS (the Twilio sandbox over loopback) from the régua: sent by the
worker, their delivery statuses back through anymail's tracking signal and Twilio's signed StatusCallback, each on
the client's timeline; an opted-out channel gets nothing."""

import datetime

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.core import mail
from django.test import Client as HttpClient
from freezegun import freeze_time

from attendance.models import Message
from core import timeline
from messaging import cadence
from messaging.models import OptOut, Step
from sandbox.sms_fake import SmsSandbox
from sandbox.whatsapp_server import WhatsAppSandboxServer
from tenants.settings_schema import clean_settings

MORNING = datetime.datetime(2026, 3, 10, 13, 0, tzinfo=datetime.UTC)  # 10:00 in São Paulo


class Outbox(list):
    def __call__(self, url, body, headers):
        self.append((url, body, headers))
        return 200


@pytest.fixture
def sms(tenant, settings):
    outbox = Outbox()
    server = WhatsAppSandboxServer(SmsSandbox(post=outbox)).start()  # any fake with handle() serves
    settings.PUBLIC_BASE_URL = "http://testserver"
    tenant.settings = clean_settings(
        {
            "sms_twilio_account_sid": "AC123",
            "sms_twilio_auth_token": "sandbox-sms-alfa",
            "sms_twilio_from": "+5511940000000",
            "sms_twilio_base_url": server.url.removesuffix("/v21.0") + "/2010-04-01",
        }
    )
    tenant.save()
    yield server.sandbox, outbox
    server.stop()


@pytest.mark.real_calling_hours
def test_email_and_sms_steps_go_out_and_come_back_delivered(
    tenant, creditor, make_client, sms, settings, run_worker, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    sandbox, callbacks = sms
    today = datetime.date(2026, 3, 10)
    ana = make_client(name="Ana Lima", email="ana@example.com", state="SP")
    bruno = make_client(name="Bruno Reis", email="bruno@example.com", state="SP")
    for client in (ana, bruno):
        client.debts.update(due_date=today - datetime.timedelta(days=5))
    OptOut.objects.create(tenant=tenant, client=bruno, channel="sms", reason="SAIR")
    for channel in ("email", "sms"):
        Step.objects.create(
            tenant=tenant,
            creditor=creditor,
            name=f"D+5 {channel}",
            offset_days=5,
            channel=channel,
            text="Olá {nome}, seu saldo é {valor}.",
            active=True,
        )
    with freeze_time(MORNING), django_capture_on_commit_callbacks(execute=True):
        assert cadence.run(tenant) == {"email": 2, "sms": 1}
    run_worker()

    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "bruno@example.com"]
    assert mail.outbox[0].body.startswith("Olá ")
    email = Message.objects.get(client=ana, channel="email")
    assert email.status == "enviada" and email.external_id.startswith("email:")
    event = AnymailTrackingEvent(event_type="delivered", message_id=email.external_id.removeprefix("email:"))
    tracking.send(sender=object, event=event, esp_name="Test")
    email.refresh_from_db()
    assert email.status == "entregue"

    [text] = sandbox.messages.values()
    assert text["to"] == "+5511987654321" and text["body"] == "Olá Ana, seu saldo é R$ 100,00."
    sandbox.advance(text["sid"], "delivered")
    url, body, headers = callbacks.pop()
    forged = HttpClient().post(
        "/" + url.split("/", 3)[3], body, content_type=headers["Content-Type"], headers={"X-Twilio-Signature": "x"}
    )
    assert forged.status_code == 403
    answer = HttpClient().post(
        "/" + url.split("/", 3)[3],
        body,
        content_type=headers["Content-Type"],
        headers={"X-Twilio-Signature": headers["X-Twilio-Signature"]},
    )
    assert answer.status_code == 200
    sent_sms = Message.objects.get(channel="sms")
    assert sent_sms.client == ana and sent_sms.status == "entregue"
    assert not Message.objects.filter(client=bruno, channel="sms").exists()
    titles = [entry.title for entry in timeline.page(ana)[0]]
    assert "SMS enviada · entregue" in titles and "E-mail enviada · entregue" in titles
