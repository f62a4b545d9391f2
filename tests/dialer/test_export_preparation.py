"""“Enviar” answers at once: the worker freezes the selection (replayed from the Carteira's filters as the user
who confirmed sees them), in chunks with progress, then sends it."""

import re

import pytest
from django.urls import reverse

from core.models import Client
from dialer import eligibility, exports
from dialer.exports import freeze
from dialer.models import DialerExport, DialerExportItem
from tenants.models import Membership

CHANGELIST = "/admin/core/client/"


def confirm(client, sandbox, query="", **extra):
    """The confirmation POST of "Enviar para discador", as the page sends it."""
    form = {"action": "send_to_dialer", "index": "0", **extra}
    html = client.post(CHANGELIST + query, form).content.decode()
    token = re.search(r'name="token" value="([0-9a-f-]{36})"', html).group(1)
    campaign = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    return client.post(
        CHANGELIST + query, {**form, "confirm": "1", "campaign": campaign, "list_name": "L", "token": token}
    )


def test_confirming_queues_without_freezing_and_the_worker_prepares_then_sends(
    client, supervisor, dialer_tenant, make_client, sandbox, run_worker, django_capture_on_commit_callbacks
):
    wanted = [make_client(name=f"Atrasado {n}", debts=((100, 120),)) for n in range(3)]
    make_client(name="Recente", debts=((100, 10),))
    make_client(name="Sem telefone", phones=(), debts=((100, 120),))
    client.force_login(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(client, sandbox, "?atraso=91_180", select_across="1", _selected_action=[wanted[0].pk])
    export = DialerExport.objects.get()
    assert response.status_code == 302
    assert export.status == DialerExport.Status.QUEUED and not export.selection_frozen
    assert export.selection == {"filtros": "atraso=91_180"}
    assert not DialerExportItem.objects.exists(), "nothing frozen inside the request"
    page = client.get(response.url).content.decode()
    assert 'data-status="na_fila"' in page and "?preparando=1" in page

    run_worker()
    export.refresh_from_db()
    assert export.status == DialerExport.Status.DONE and export.selection_frozen
    assert (export.selected_count, export.to_send_count, export.sent_count) == (4, 3, 3)
    assert export.skipped == {"sem_telefone": 1}
    assert export.prepare_done == export.prepare_total == 4, "the progress counts the selection, not the tenant"
    assert {c["identifier"] for c in sandbox.account("alfa").contacts[export.list_id]} == {str(c.pk) for c in wanted}
    # The page drawn before the freeze is drawn again once the counts are whole.
    fragment = client.get(reverse("admin:dialer_dialerexport_progress", args=[export.pk]) + "?preparando=1")
    assert fragment["HX-Refresh"] == "true"
    assert "HX-Refresh" not in client.get(reverse("admin:dialer_dialerexport_progress", args=[export.pk]))


def test_the_page_shows_the_preparation_progress(client, supervisor, dialer_tenant, campaign_id):
    export = DialerExport.objects.create(
        tenant=dialer_tenant,
        campaign_id=campaign_id,
        list_name="Grande",
        status=DialerExport.Status.PREPARING,
        selection_frozen=False,
        prepare_done=440_000,
        prepare_total=1_100_000,
    )
    client.force_login(supervisor)
    fragment = client.get(reverse("admin:dialer_dialerexport_progress", args=[export.pk])).content.decode()
    assert 'data-status="preparando"' in fragment and "Preparando" in fragment
    assert "440000 de 1100000 da carteira analisados (40%)" in fragment
    assert "preparando: 440000/1100000 (40%)" in client.get("/admin/dialer/dialerexport/").content.decode()


def test_rows_picked_one_by_one_and_the_tenant_scope_hold_in_the_replay(
    client,
    tenant_admin,
    dialer_tenant,
    other_tenant,
    make_client,
    sandbox,
    run_worker,
    django_capture_on_commit_callbacks,
):
    picked, _other = make_client(name="Escolhido"), make_client(name="Outro")
    foreign = make_client(tenant=other_tenant, name="Alheio")
    client.force_login(tenant_admin)
    # A forged id of another tenant's client rides along with the picked one: it is never frozen.
    with django_capture_on_commit_callbacks(execute=True):
        confirm(client, sandbox, _selected_action=[picked.pk, foreign.pk])
    export = DialerExport.objects.get()
    assert export.selection["ids"] == [picked.pk, foreign.pk]
    run_worker()
    export.refresh_from_db()
    assert export.status == DialerExport.Status.DONE and export.selected_count == 1
    assert list(DialerExportItem.objects.values_list("client_id", flat=True)) == [picked.pk]


def test_a_user_who_lost_access_before_the_freeze_gets_a_failed_export(
    client,
    tenant_admin,
    dialer_tenant,
    other_tenant,
    make_client,
    sandbox,
    run_worker,
    django_capture_on_commit_callbacks,
):
    make_client()
    make_client(tenant=other_tenant)
    client.force_login(tenant_admin)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(client, sandbox, select_across="1", _selected_action=[Client.objects.first().pk])
    Membership.objects.filter(user=tenant_admin).update(tenant=other_tenant)  # moved to another agency
    run_worker()
    export = DialerExport.objects.get()
    assert export.status == DialerExport.Status.FAILED and "não tem mais acesso" in export.error_summary
    assert not DialerExportItem.objects.exists()


def test_a_worker_dying_mid_freeze_resumes_without_duplicates(
    dialer_tenant, supervisor, campaign_id, make_client, sandbox, monkeypatch
):
    from core.seeding import seed_wallet

    seed_wallet(dialer_tenant, 120, seed=4)
    monkeypatch.setattr(freeze, "FREEZE_CHUNK", 25)
    export = exports.queue_export(dialer_tenant, supervisor, selection={"filtros": ""}, campaign_id=campaign_id)
    expected = eligibility.preview(
        Client.objects.filter(tenant=dialer_tenant), dialer_tenant, campaign_id, export.created_at
    )

    class Killed(BaseException):
        pass

    original, chunks = freeze.freeze_chunk, {"n": 0}

    def dying(export, queryset, among):
        chunks["n"] += 1
        if chunks["n"] == 3:
            raise Killed  # the worker dies in the middle of the third chunk
        return original(export, queryset, among)

    monkeypatch.setattr(freeze, "freeze_chunk", dying)
    with pytest.raises(Killed):
        exports.run_export(export.pk)
    export.refresh_from_db()
    assert export.status == DialerExport.Status.PREPARING and not export.selection_frozen
    assert export.prepare_done == 50 and export.prepare_total == 120
    frozen = DialerExportItem.objects.filter(export=export).count()
    assert frozen == DialerExportItem.objects.filter(export=export, client_id__lte=export.frozen_up_to).count() > 0

    monkeypatch.setattr(freeze, "freeze_chunk", original)
    export = exports.run_export(export.pk)  # the sweep queued it again
    assert export.status == DialerExport.Status.DONE, export.error_summary
    assert (export.selected_count, export.to_send_count, export.phones_count) == (
        expected["selected"],
        expected["to_send"],
        expected["phones"],
    )
    assert export.skipped == expected["skipped"] and export.open_balance == expected["balance"]
    keys = [(c["identifier"], c["phone"]) for c in sandbox.account("alfa").contacts[export.list_id]]
    assert len(keys) == len(set(keys)) == export.sent_phones
    assert export.sent_count == export.to_send_count == DialerExportItem.objects.filter(export=export).count()


def test_the_sweep_takes_back_a_preparation_whose_worker_died(dialer_tenant, supervisor, campaign_id, settings):
    import datetime

    from django.utils import timezone

    export = exports.queue_export(dialer_tenant, supervisor, selection={"filtros": ""}, campaign_id=campaign_id)
    expired = timezone.now() - datetime.timedelta(seconds=settings.DIALER_EXPORT_LEASE_SECONDS + 1)
    DialerExport.objects.filter(pk=export.pk).update(status=DialerExport.Status.PREPARING, heartbeat_at=expired)
    assert exports.sweep_exports() == [export.pk]
    export.refresh_from_db()
    assert export.status == DialerExport.Status.QUEUED and not export.selection_frozen
