import pytest
from django.test import Client as HttpClient

from sandbox.whatsapp_fake import WhatsAppSandbox
from sandbox.whatsapp_server import WhatsAppSandboxServer
from tenants.settings_schema import clean_settings

PHONE_NUMBER_ID = "1234567890123"
APP_SECRET = "app-secret-of-the-test"


class Outbox:
    """Webhooks the sandbox posts, kept to be delivered from the test's thread (its database transaction)."""

    def __init__(self):
        self.pending = []

    def __call__(self, url, body, headers):
        self.pending.append((url, body, headers))
        return 200

    def flush(self):
        answers = []
        while self.pending:
            url, body, headers = self.pending.pop(0)
            path = "/" + url.split("/", 3)[3]
            response = HttpClient().post(
                path,
                data=body,
                content_type="application/json",
                headers={"X-Hub-Signature-256": headers["X-Hub-Signature-256"]},
            )
            answers.append(response)
        return answers


@pytest.fixture
def outbox():
    return Outbox()


@pytest.fixture
def wa_server(outbox):
    server = WhatsAppSandboxServer(WhatsAppSandbox(post=outbox)).start()
    yield server
    server.stop()


@pytest.fixture
def wa_sandbox(wa_server):
    return wa_server.sandbox


@pytest.fixture
def wa_tenant(tenant, wa_server, settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    tenant.settings = clean_settings(
        {
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_waba_id": "2223334445556",
            "whatsapp_access_token": "sandbox-wa-alfa",
            "whatsapp_app_secret": APP_SECRET,
            "whatsapp_verify_token": "verifica-123",
            "whatsapp_base_url": wa_server.url,
        }
    )
    tenant.save()
    wa_server.sandbox.connect(
        PHONE_NUMBER_ID, f"http://testserver/mensagens/webhooks/whatsapp/{tenant.pk}/", APP_SECRET
    )
    return tenant
