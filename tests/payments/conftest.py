import datetime
from decimal import Decimal

import pytest
from django.test import Client as HttpClient

from sandbox.pix_fake import PixSandbox
from sandbox.pix_server import PixSandboxServer
from tenants.settings_schema import clean_settings
from tests.dialer.conftest import dialer_tenant  # noqa: F401

D = Decimal
PIX_SETTINGS = {
    "pix_key": "financeiro@alfa.com.br",
    "pix_nome_recebedor": "Agencia Alfa",
    "pix_cidade_recebedor": "Sao Paulo",
}


@pytest.fixture
def psp_server():
    server = PixSandboxServer(PixSandbox(seed=7)).start()
    yield server
    server.stop()


@pytest.fixture
def psp(psp_server, settings):
    """The sandbox PSP; its webhooks reach our receiver in this thread (the test's database transaction)."""
    receiver = HttpClient()

    def deliver(url, body):
        path = url.removeprefix(settings.PUBLIC_BASE_URL)
        return receiver.post(path, body, content_type="application/json").status_code

    psp_server.sandbox.deliver = deliver
    return psp_server.sandbox


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def configure_provider(tenant, url, **extra):
    stored = tenant.stored_settings
    tenant.settings = clean_settings(
        {
            **stored,
            **PIX_SETTINGS,
            "payments_provider": "api_pix",
            "payments_base_url": url,
            "payments_client_id": "sandbox-alfa",
            "payments_client_secret": "segredo-alfa",
            **extra,
        },
        stored,
    )
    tenant.save()
    return tenant


@pytest.fixture
def pay_tenant(dialer_tenant, psp_server, psp):  # noqa: F811
    return configure_provider(dialer_tenant, psp_server.url)


@pytest.fixture
def no_entry(lenient):
    lenient.min_entry_percent = D("0")
    lenient.monthly_interest_percent = D("1")
    lenient.fine_percent = D("2")
    lenient.save()
    return lenient


def first_due():
    from django.utils import timezone

    return timezone.localdate() + datetime.timedelta(days=3)
