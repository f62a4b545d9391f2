"""No export is ever stranded: pauses with backoff, the workers' sweep, "Continuar envio", /healthz."""

import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core.models import Client, WorkerHeartbeat
from dialer import exports
from dialer.client import dial_number
from dialer.models import DialerExport, DialerExportItem
from sandbox.fake import Sandbox
from sandbox.server import SandboxServer
from tenants.models import Role
from tests.conftest import make_user, open_at_any_hour


def fast_api(tenant):
    from dialer.client import RetryPolicy
    from dialer.tenant_api import api_for

    return api_for(tenant, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01))


def new_export(tenant, campaign_id, **kwargs):
    return exports.create_export(tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False, **kwargs)


def queued_tasks():
    return DBTaskResult.objects.filter(task_path="dialer.tasks.send_export").count()


def test_transient_failures_pause_with_backoff_and_the_sweep_resumes(
    dialer_tenant, campaign_id, make_client, sandbox, run_worker
):
    for _ in range(6):
        make_client(phones=("+5511987654321",))
    export = new_export(dialer_tenant, campaign_id, batch_size=2)
    original = sandbox.handle
    posts = {"n": 0}

    def down_after_first_batch(method, path, *args):
        if path.endswith("mailing.json"):
            posts["n"] += 1
            if posts["n"] > 1:
                return 503, {"Content-Type": "application/json"}, b'{"status":503,"detail":"down"}'  # down
        return original(method, path, *args)

    sandbox.handle = down_after_first_batch
    export = exports.run_export(export.pk, api_factory=fast_api)
    assert export.status == DialerExport.Status.PAUSED
    assert export.sent_count == 2 and export.pauses == 1
    assert "indisponível" in export.error_summary and "nova tentativa automática" in export.error_summary
    first_wait = export.next_attempt_at - timezone.now()
    # Not due yet: the sweep leaves it alone.
    assert exports.sweep_exports() == [] and queued_tasks() == 0
    DialerExport.objects.filter(pk=export.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    assert exports.sweep_exports() == [export.pk] and queued_tasks() == 1
    run_worker()  # still down: paused again, waiting twice as long
    export.refresh_from_db()
    assert export.status == DialerExport.Status.PAUSED and export.pauses == 2
    assert export.next_attempt_at - timezone.now() > first_wait + datetime.timedelta(seconds=20)
    sandbox.handle = original  # 3C Plus is back
    DialerExport.objects.filter(pk=export.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    exports.sweep_exports()
    run_worker()
    export.refresh_from_db()
    assert export.status == DialerExport.Status.DONE and export.sent_count == 6 and export.pauses == 0
    keys = [(c["identifier"], c["phone"]) for c in sandbox.account("alfa").contacts[export.list_id]]
    assert len(keys) == len(set(keys)) == 6


def test_too_many_pauses_fail_the_export(dialer_tenant, campaign_id, make_client, sandbox, settings):
    make_client()
    settings.DIALER_EXPORT_MAX_PAUSES = 1
    export = new_export(dialer_tenant, campaign_id)
    sandbox.set_faults(fail_rate=1.0, fail_status=500)
    assert exports.run_export(export.pk, api_factory=fast_api).status == DialerExport.Status.PAUSED
    export = exports.run_export(export.pk, api_factory=fast_api)
    assert export.status == DialerExport.Status.FAILED and "Continuar envio" in export.error_summary


def test_permanent_errors_fail_clearly(dialer_tenant, campaign_id, make_client, sandbox):
    clients = [make_client() for _ in range(3)]
    export = exports.create_export(dialer_tenant, None, Client.objects.all(), campaign_id=999999, enqueue=False)
    export = exports.run_export(export.pk, api_factory=fast_api)
    assert export.status == DialerExport.Status.FAILED and "não encontrado" in export.error_summary
    # Every batch refused (422): failed, with the reason, not "concluído com falhas".
    sandbox.set_faults(reject_identifiers=frozenset(str(c.pk) for c in clients))
    export = exports.run_export(new_export(dialer_tenant, campaign_id, batch_size=1).pk, api_factory=fast_api)
    assert export.status == DialerExport.Status.FAILED and export.failed_count == 3
    assert "3× O 3C Plus recusou os dados" in export.error_summary
    sandbox.set_faults(reject_identifiers=frozenset(), fail_next=1, fail_status=400)
    export = exports.run_export(new_export(dialer_tenant, campaign_id).pk, api_factory=fast_api)
    assert export.status == DialerExport.Status.FAILED and "Erro 400" in export.error_summary


def test_sweep_requeues_a_running_export_whose_lease_ran_out(dialer_tenant, campaign_id, make_client, settings):
    make_client()
    dead = new_export(dialer_tenant, campaign_id)
    alive = new_export(dialer_tenant, campaign_id)
    expired = timezone.now() - datetime.timedelta(seconds=settings.DIALER_EXPORT_LEASE_SECONDS + 1)
    DialerExport.objects.filter(pk=dead.pk).update(status=DialerExport.Status.RUNNING, heartbeat_at=expired)
    DialerExport.objects.filter(pk=alive.pk).update(status=DialerExport.Status.RUNNING, heartbeat_at=timezone.now())
    assert exports.sweep_exports() == [dead.pk]
    dead.refresh_from_db()
    assert dead.status == DialerExport.Status.QUEUED and queued_tasks() == 1
    assert exports.sweep_exports() == [], "queued once"


def test_continuar_envio_is_for_the_tenants_admin_and_supervisor(
    client,
    dialer_tenant,
    other_tenant,
    campaign_id,
    make_client,
    supervisor,
    operator,
    sandbox,
    django_capture_on_commit_callbacks,
):
    make_client()
    export = new_export(dialer_tenant, campaign_id)
    DialerExport.objects.filter(pk=export.pk).update(status=DialerExport.Status.FAILED, error_summary="Token inválido.")
    page = reverse("admin:dialer_dialerexport_change", args=[export.pk])
    url = reverse("admin:dialer_dialerexport_resume", args=[export.pk])
    stranger = make_user(other_tenant, Role.SUPERVISOR)
    client.force_login(stranger)
    assert client.post(url).status_code == 404
    client.force_login(operator)
    assert client.post(url).status_code in (302, 403) and queued_tasks() == 0  # operators never reach the admin
    client.force_login(supervisor)
    html = client.get(page).content.decode()
    assert "Continuar envio" in html and 'id="resume-export"' in html
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    export.refresh_from_db()
    assert export.status == DialerExport.Status.QUEUED and export.error_summary == "" and queued_tasks() == 1
    assert 'id="resume-export"' not in client.get(page).content.decode(), "a queued export has nothing to continue"
    assert client.post(url).status_code == 403


def test_healthz_reports_stuck_exports(client, dialer_tenant, campaign_id, make_client, settings):
    make_client()
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, started_at=timezone.now(), last_seen=timezone.now()
    )
    export = new_export(dialer_tenant, campaign_id)
    assert client.get("/healthz").json()["exports_stuck"] == 0
    old = timezone.now() - datetime.timedelta(seconds=settings.DIALER_EXPORT_STUCK_SECONDS + 1)
    DialerExport.objects.filter(pk=export.pk).update(status=DialerExport.Status.RUNNING, heartbeat_at=old)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["exports_stuck"] == 1
    DialerExport.objects.filter(pk=export.pk).update(status=DialerExport.Status.PAUSED, next_attempt_at=old)
    assert client.get("/healthz").json()["exports_stuck"] == 1
    DialerExport.objects.filter(pk=export.pk).update(next_attempt_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["exports_stuck"] == 0
    # Queued for long while nothing is being sent: stuck. Behind a running export: just waiting.
    DialerExport.objects.filter(pk=export.pk).update(status=DialerExport.Status.QUEUED, heartbeat_at=old)
    assert client.get("/healthz").json()["exports_stuck"] == 1
    busy = new_export(dialer_tenant, campaign_id)
    DialerExport.objects.filter(pk=busy.pk).update(status=DialerExport.Status.RUNNING, heartbeat_at=timezone.now())
    assert client.get("/healthz").json()["exports_stuck"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_export_is_replaced_and_every_contact_arrives_once(settings, tmp_path):
    """SIGKILL the real worker process mid-export, start another, touch nothing else."""
    if connection.vendor != "postgresql":
        pytest.skip("o worker, outro processo, precisa de um banco compartilhado (PostgreSQL)")
    from core.models import ClientPhone
    from core.seeding import seed_wallet
    from tenants.models import Tenant
    from tests.core.test_operations import database_url

    server = SandboxServer(Sandbox()).start()
    server.sandbox.set_faults(latency_ms=150)
    env = {**os.environ, "DATABASE_URL": database_url(settings)}
    workers = []

    def start_worker(name):
        log = open(tmp_path / f"{name}.log", "w")
        workers.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--no-reload", "--worker-id", name],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        return workers[-1]

    try:
        tenant = Tenant.objects.create(name="Morte Súbita", slug="morte")
        open_at_any_hour(tenant, threecplus_base_url=server.url, threecplus_api_key="sandbox-morte")
        seed_wallet(tenant, 400, seed=3)
        campaign = next(c["id"] for c in server.sandbox.account("morte").campaigns.values() if not c["paused"])
        export = exports.create_export(  # committed: the task is in the queue
            tenant, None, Client.objects.filter(tenant=tenant), campaign_id=campaign, batch_size=10
        )
        first = start_worker("primeiro")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            export.refresh_from_db()
            if export.sent_count >= 60:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        export.refresh_from_db()
        assert export.status == DialerExport.Status.RUNNING and 0 < export.sent_count < export.to_send_count
        at_kill = export.sent_count

        start_worker("segundo")
        resumed_after = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            export.refresh_from_db()
            if resumed_after is None and (export.sent_count > at_kill or export.is_finished):
                resumed_after = time.monotonic() - killed_at
            if export.is_finished:
                break
            time.sleep(0.2)
        finished_after = time.monotonic() - killed_at
        resumed = f"{resumed_after:.1f}s" if resumed_after is not None else "nunca"
        print(
            f"\nEnvio morto com SIGKILL após {at_kill} de {export.to_send_count} clientes: retomado em {resumed}, "
            f"situação {export.status} {finished_after:.1f}s após a morte "
            f"(lease {settings.DIALER_EXPORT_LEASE_SECONDS}s, varredura a cada {settings.WORKER_HEARTBEAT_SECONDS}s)"
        )
        assert export.status == DialerExport.Status.DONE, export.error_summary
        account = server.sandbox.account("morte")
        keys = [(c["identifier"], c["phone"]) for c in account.contacts[export.list_id]]
        expected = {
            (str(client_id), dial_number(number))
            for client_id, number in ClientPhone.objects.filter(client__tenant=tenant, active=True).values_list(
                "client_id", "number"
            )
            if DialerExportItem.objects.filter(export=export, client_id=client_id).exists()
        }
        assert len(keys) == len(set(keys)), "a contact arrived twice"
        assert set(keys) == expected and len(keys) == export.phones_count
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=15)
        server.stop()
