"""`manage.py demo` seeds a tenant that looks lived in: on the first run every screen a newcomer opens (Carteira,
dashboard, agreements, callbacks, a client's timeline) has something to show, and a second run changes nothing."""

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from freezegun import freeze_time

from attendance.models import Agreement, CallDisposition, Payment
from core.models import Client, ClientPhone
from dialer.models import DialerCallEvent
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def default_disposition_types(transactional_db):
    """A transactional test's flush empties the tables, the migration's tabulações included: put them back."""
    from attendance.defaults import ensure_default_disposition_types
    from attendance.models import DispositionType

    ensure_default_disposition_types(DispositionType)


@pytest.fixture
def demo(settings):
    settings.DIALER_SANDBOX = True
    with freeze_time("2026-12-07 13:00:00", tick=True):  # a Monday afternoon: today's callbacks are still ahead
        call_command("demo", "--seed-only", verbosity=0)
        yield Tenant.objects.get(slug="demo")


def counts(tenant):
    return {
        "agreements": sorted(Agreement.objects.filter(tenant=tenant).values_list("status", flat=True)),
        "payments": Payment.objects.filter(tenant=tenant).count(),
        "tabulações": CallDisposition.objects.filter(tenant=tenant).count(),
        "calls": DialerCallEvent.objects.filter(tenant=tenant).count(),
    }


def test_the_demo_tenant_has_a_month_of_work_on_every_screen(demo, client):
    statuses = set(counts(demo)["agreements"])
    assert {"ativo", "aguardando_aprovacao", "rejeitado", "quitado"} <= statuses
    assert Client.objects.filter(tenant=demo, status=Client.Status.PAID).exists()
    assert Client.objects.filter(tenant=demo).exclude(do_not_call_reason="").exists()
    assert ClientPhone.objects.filter(client__tenant=demo).exclude(do_not_call_reason="").exists()
    # Nothing for the worker to write back to the dialer: those calls never happened in the sandbox.
    assert not CallDisposition.objects.filter(tenant=demo).exclude(qualification_status="").exists()
    dates = CallDisposition.objects.filter(tenant=demo).values_list("created_at", flat=True)
    assert (max(dates) - min(dates)).days >= 20, "tabulações spread over the month, not all made today"

    client.post("/entrar/", {"username": "admin", "password": "admin12345"})
    carteira = client.get("/admin/core/client/?status=quitado").content.decode()
    assert "Quitado" in carteira and "0 clientes" not in carteira
    agreements = client.get("/admin/attendance/agreement/").content.decode()
    for label in ("Ativo", "Aguardando aprovação", "Rejeitado", "Quitado"):
        assert label in agreements
    dashboard = client.get("/admin/").content.decode()
    assert "Acordos" in dashboard

    operator = HttpClient()
    operator.post("/entrar/", {"username": "operador", "password": "operador12345"})
    callbacks = operator.get("/atendimento/retornos/").content.decode()
    callback = CallDisposition.objects.filter(tenant=demo, callback_at__isnull=False).select_related("client").first()
    assert callback.client.name in callbacks
    paid = Agreement.objects.filter(tenant=demo, status="quitado").select_related("client").first()
    timeline = operator.get(f"/atendimento/{paid.client_id}/").content.decode()
    assert "Quitado" in timeline or "Pagamento" in timeline


def test_running_the_demo_again_adds_nothing(demo):
    before = counts(demo)
    call_command("demo", "--seed-only", verbosity=0)
    assert counts(demo) == before
