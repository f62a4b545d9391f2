"""Live removal: who must not be called leaves the 3C Plus campaigns it was sent to (the sandbox drops it)."""

import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from attendance.models import Agreement
from core import services as core_services
from core.models import Client
from core.timeline import page as timeline_page
from dialer import exports, removals
from dialer.models import DialerRemoval
from sandbox.fake import Sandbox
from sandbox.server import SandboxServer
from tests.attendance.test_views import negotiate
from tests.conftest import open_at_any_hour


@pytest.fixture
def campaigns(dialer_tenant, sandbox):
    return [c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"]]


def sent(tenant, clients, campaign_id):
    export = exports.create_export(
        tenant, None, Client.objects.filter(pk__in=[c.pk for c in clients]), campaign_id=campaign_id, enqueue=False
    )
    return exports.run_export(export.pk)


def in_campaign(sandbox, campaign_id):
    account = sandbox.account("alfa")
    return {
        (c["identifier"], c["phone"])
        for list_id, contacts in account.contacts.items()
        if account.lists[list_id]["campaign_id"] == campaign_id
        for c in contacts
    }


def test_do_not_call_removes_the_client_from_every_campaign(
    dialer_tenant, campaigns, make_client, sandbox, run_worker, django_capture_on_commit_callbacks, operator
):
    stop = make_client(phones=("+5511987654321", "+5511933334444"))
    keep = make_client(phones=("+5511911112222",))
    for campaign_id in campaigns:
        sent(dialer_tenant, [stop, keep], campaign_id)
    assert (str(stop.pk), "11987654321") in in_campaign(sandbox, campaigns[0])
    with django_capture_on_commit_callbacks(execute=True):
        core_services.set_do_not_call(stop, "pedido_devedor", operator)
    run_worker()
    for campaign_id in campaigns:
        assert in_campaign(sandbox, campaign_id) == {(str(keep.pk), "11911112222")}
    removals = DialerRemoval.objects.filter(client=stop)
    assert sorted(r.campaign_id for r in removals) == sorted(campaigns)
    assert {r.status for r in removals} == {DialerRemoval.Status.DONE}
    assert removals[0].requested_by == operator and removals[0].reason == "pedido_devedor"
    titles = [e.title for e in timeline_page(stop)[0]]
    assert "Removido do discador" in titles


def test_a_wrong_phone_removes_only_that_number(
    dialer_tenant, campaigns, make_client, sandbox, run_worker, django_capture_on_commit_callbacks
):
    debtor = make_client(phones=("+5511987654321", "+5511933334444"))
    sent(dialer_tenant, [debtor], campaigns[0])
    wrong = debtor.phones.get(number="+5511987654321")
    with django_capture_on_commit_callbacks(execute=True):
        core_services.set_phone_do_not_call(wrong, "numero_errado")
    run_worker()
    assert in_campaign(sandbox, campaigns[0]) == {(str(debtor.pk), "11933334444")}
    assert DialerRemoval.objects.get().contacts == [{"phone": "11987654321", "identifier": str(debtor.pk)}]


def test_an_agreement_removes_the_client(
    dialer_tenant,
    campaigns,
    make_client,
    creditor,
    sandbox,
    run_worker,
    client,
    operator,
    django_capture_on_commit_callbacks,
):
    creditor.min_entry_percent = Decimal("0")
    creditor.save()
    debtor = make_client(phones=("+5511987654321",), debts=((Decimal("1200"), 40),))
    sent(dialer_tenant, [debtor], campaigns[0])
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        negotiate(client, debtor, "acordo")
    assert Agreement.objects.filter(client=debtor).exists()
    run_worker()
    assert in_campaign(sandbox, campaigns[0]) == set()
    assert DialerRemoval.objects.get(client=debtor).reason == "acordo"


def test_failures_are_retried_with_backoff_then_succeed(
    dialer_tenant, campaigns, make_client, sandbox, run_worker, django_capture_on_commit_callbacks
):
    debtor = make_client()
    sent(dialer_tenant, [debtor], campaigns[0])
    sandbox.set_faults(fail_next=100, fail_status=503)
    with django_capture_on_commit_callbacks(execute=True):
        core_services.set_do_not_call(debtor, "lgpd")
    run_worker()
    removal = DialerRemoval.objects.get()
    assert removal.status == DialerRemoval.Status.PENDING and removal.attempts == 1
    assert removal.next_attempt_at > timezone.now() and "indisponível" in removal.error
    assert removals.sweep_removals() == [], "not due yet"
    sandbox.set_faults(fail_next=0)
    DialerRemoval.objects.filter(pk=removal.pk).update(next_attempt_at=timezone.now())
    assert removals.sweep_removals() == [removal.pk]
    run_worker()
    removal.refresh_from_db()
    assert removal.status == DialerRemoval.Status.DONE and removal.attempts == 2 and removal.error == ""
    assert in_campaign(sandbox, campaigns[0]) == set()


def test_a_client_never_sent_needs_no_removal(dialer_tenant, make_client, django_capture_on_commit_callbacks):
    debtor = make_client()
    with django_capture_on_commit_callbacks(execute=True):
        core_services.set_do_not_call(debtor, "obito")
    assert not DialerRemoval.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_removal_latency_with_the_worker_running(settings, tmp_path):
    """From the mark to the contact gone from the sandbox campaign, with a real db_worker process."""
    if connection.vendor != "postgresql":
        pytest.skip("o worker, outro processo, precisa de um banco compartilhado (PostgreSQL)")
    from core.models import ClientPhone, Creditor, Debt
    from tenants.models import Tenant
    from tests.core.test_operations import database_url

    server = SandboxServer(Sandbox()).start()
    env = {**os.environ, "DATABASE_URL": database_url(settings)}
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--worker-id", "remocao"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        tenant = Tenant.objects.create(name="Remoção", slug="remocao")
        open_at_any_hour(tenant, threecplus_base_url=server.url, threecplus_api_key="sandbox-remocao")
        creditor = Creditor.objects.create(tenant=tenant, name="Credor")
        debtor = Client.objects.create(
            tenant=tenant, creditor=creditor, name="Devedor", cpf="52998224725", external_id="R1"
        )
        ClientPhone.objects.create(tenant=tenant, client=debtor, number="+5511987654321", kind="celular")
        Debt.objects.create(
            tenant=tenant, client=debtor, contract_code="C1", due_date=timezone.localdate(), original_amount=100
        )
        Client.objects.filter(pk=debtor.pk).refresh_summaries()
        campaign = next(c["id"] for c in server.sandbox.account("remocao").campaigns.values() if not c["paused"])
        export = exports.create_export(
            tenant, None, Client.objects.filter(pk=debtor.pk), campaign_id=campaign, enqueue=False
        )
        export = exports.run_export(export.pk)
        account = server.sandbox.account("remocao")
        assert any(c["identifier"] == str(debtor.pk) for c in account.contacts[export.list_id])
        clicked = time.monotonic()
        core_services.set_do_not_call(debtor, "pedido_devedor")  # autocommit: the hook runs at once
        deadline = clicked + 60
        while time.monotonic() < deadline:
            if not any(c["identifier"] == str(debtor.pk) for c in account.contacts[export.list_id]):
                break
            time.sleep(0.05)
        latency = time.monotonic() - clicked
        print(f"\nRemoção ao vivo: do clique ao contato fora da campanha em {latency:.2f}s (worker rodando)")
        assert not any(c["identifier"] == str(debtor.pk) for c in account.contacts[export.list_id])
        while time.monotonic() < deadline + 10:  # the worker records the answer just after 3C Plus gave it
            if DialerRemoval.objects.get(client=debtor).status == DialerRemoval.Status.DONE:
                break
            time.sleep(0.05)
        assert DialerRemoval.objects.get(client=debtor).status == DialerRemoval.Status.DONE
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        server.stop()


def test_admin_lists_the_tenants_removals_with_their_status(client, tenant_admin, make_client, other_tenant):
    mine = make_client(name="Removida Minha")
    theirs = make_client(name="Removida Alheia", tenant=other_tenant)
    for debtor, status in ((mine, DialerRemoval.Status.FAILED), (theirs, DialerRemoval.Status.DONE)):
        DialerRemoval.objects.create(
            tenant_id=debtor.tenant_id,
            client=debtor,
            campaign_id=7,
            contacts=[{"phone": "11987654321", "identifier": str(debtor.pk)}],
            status=status,
            reason="pedido_devedor",
        )
    client.force_login(tenant_admin)
    html = client.get("/admin/dialer/dialerremoval/").content.decode()
    assert "Removida Minha" in html and "Falhou" in html
    # Read as people write: the reason's label and the phone formatted, not the stored codes.
    assert "Pedido do devedor" in html and "pedido_devedor" not in html
    assert "(11) 98765-4321" in html and "11987654321" not in html
    assert "Removida Alheia" not in html


def test_paying_off_removes_the_client(
    dialer_tenant, campaigns, make_client, sandbox, run_worker, operator, django_capture_on_commit_callbacks
):
    from attendance import payments

    debtor = make_client(debts=((Decimal("100.00"), 40),))
    sent(dialer_tenant, [debtor], campaigns[0])
    with django_capture_on_commit_callbacks(execute=True):
        payments.post_payment(
            dialer_tenant,
            operator,
            payments.PaymentInput(Decimal("100.00"), timezone.localdate(), "pix"),
            debt=debtor.debts.get(),
        )
    debtor.refresh_from_db()
    assert debtor.status == Client.Status.PAID
    run_worker()
    assert in_campaign(sandbox, campaigns[0]) == set()
    removal = DialerRemoval.objects.get(client=debtor)
    assert removal.status == DialerRemoval.Status.DONE and removal.get_reason_display() == "Quitado"
