"""Workers outlive the database, and no background work waits for a human when its worker dies.

The real db_worker against a PostgreSQL restarted under it is tests/core/test_worker_outage.py; here each rule
on its own, on whichever database the suite runs.
"""

import datetime
import threading
import time

import pytest
from django.db import OperationalError
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult
from freezegun import freeze_time

from attendance import payments
from attendance.models import Agreement, CallDisposition, DispositionType
from attendance.tasks import break_overdue_agreements, send_qualification
from core import task_leases
from core.daily import queue_daily_tasks
from core.management.commands.db_worker import Heartbeat, Worker
from core.models import WorkerHeartbeat
from dialer.tasks import remove_from_lists
from tests.attendance.test_payments import TODAY, agreement_for, at

pytestmark = pytest.mark.django_db


def worker(**kwargs) -> Worker:
    options = dict(
        heartbeat=False,
        queue_names=["default"],
        interval=0,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="w-teste",
        excluded_queue_names=[],
    )
    return Worker(**{**options, **kwargs})


def running_task(task, *args, worker_id="morto", minutes=5) -> DBTaskResult:
    """A run of `task` claimed `minutes` ago by a worker that then died (no heartbeat since)."""
    result = DBTaskResult.objects.get(pk=task.enqueue(*args).id)
    DBTaskResult.objects.filter(pk=result.pk).update(
        status="RUNNING", worker_ids=[worker_id], started_at=timezone.now() - datetime.timedelta(minutes=minutes)
    )
    return result


def test_the_heartbeat_beats_only_while_the_task_loop_is_alive(client, settings):
    loop = worker()
    beat = Heartbeat(loop, interval=1)
    # The loop's thread has ended (what --reload left behind when the database went away): no beat.
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    loop.thread = dead
    assert beat.tick() is False and not WorkerHeartbeat.objects.exists()
    assert client.get("/healthz").json()["worker"] == "sem sinal"
    # A live loop that went round just now beats.
    loop.thread = threading.current_thread()
    loop.last_tick = time.monotonic()
    assert beat.tick() is True and WorkerHeartbeat.objects.get().worker_id == "w-teste"
    # A live thread that has not gone round for WORKER_STALE_SECONDS, and is in no task, is a stuck loop.
    loop.last_tick = time.monotonic() - settings.WORKER_STALE_SECONDS - 1
    assert beat.tick() is False
    loop.running_task = True  # inside a long task (an export): alive
    assert beat.tick() is True


def test_the_loop_waits_out_a_lost_connection_and_a_locked_database(monkeypatch):
    loop = worker()
    rounds = iter(
        [
            OperationalError("server closed the connection unexpectedly"),
            OperationalError("terminating connection due to administrator command"),
            OperationalError("database is locked"),
            "done",
        ]
    )

    def poll():
        outcome = next(rounds)
        if isinstance(outcome, Exception):
            raise outcome
        return True

    waits = []
    monkeypatch.setattr(loop, "poll", poll)
    monkeypatch.setattr(loop, "wait", waits.append)
    loop.run()  # returns instead of raising
    assert len(waits) == 3 and waits[0] <= 0.5 < waits[1] * 2 and all(w <= 15 for w in waits)


def test_a_task_that_died_with_its_worker_runs_again(tenant):
    orphan = running_task(remove_from_lists, 999_999)
    WorkerHeartbeat.objects.create(
        worker_id="vivo",
        hostname="h",
        pid=1,
        started_at=timezone.now() - datetime.timedelta(minutes=10),
        last_seen=timezone.now(),
    )
    busy = running_task(remove_from_lists, 888_888, worker_id="vivo")  # its worker is alive: left alone
    assert task_leases.sweep_orphaned_tasks() == [str(orphan.pk)]
    assert task_leases.sweep_orphaned_tasks() == []
    orphan.refresh_from_db()
    busy.refresh_from_db()
    assert orphan.status == "READY" and busy.status == "RUNNING"
    # A worker restarted under the same id: what its previous process had claimed is no longer running.
    WorkerHeartbeat.objects.filter(worker_id="vivo").update(started_at=timezone.now())
    assert task_leases.sweep_orphaned_tasks() == [str(busy.pk)]
    # A task that keeps killing its workers is given up after MAX_RUNS runs.
    DBTaskResult.objects.filter(pk=orphan.pk).update(
        status="RUNNING",
        worker_ids=["morto"] * task_leases.MAX_RUNS,
        started_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    assert task_leases.sweep_orphaned_tasks() == []
    orphan.refresh_from_db()
    assert orphan.status == "FAILED" and "Interrompida" in orphan.traceback


def test_a_qualification_left_pending_is_sent_again(tenant, operator, make_client, settings, client, monkeypatch):
    from attendance import services

    sent = []
    monkeypatch.setattr(services, "send_qualification", sent.append)
    disposition = CallDisposition.objects.create(
        tenant=tenant,
        client=make_client(),
        operator=operator,
        type=DispositionType.objects.filter(tenant=None).first(),
        call_id="c1",
        qualification_status=CallDisposition.QualificationStatus.PENDING,
    )
    assert services.sweep_qualifications() == []  # just made: its task may be on its way
    CallDisposition.objects.filter(pk=disposition.pk).update(
        created_at=timezone.now() - datetime.timedelta(seconds=settings.WORKER_STUCK_SECONDS + 1)
    )
    assert client.get("/healthz").json()["qualifications_stuck"] == 1
    assert services.sweep_qualifications() == [disposition.pk]
    assert services.sweep_qualifications() == []  # queued now
    assert client.get("/healthz").json()["qualifications_stuck"] == 0
    assert DBTaskResult.objects.get().task_path == send_qualification.module_path


@pytest.fixture
def overdue(tenant, operator, make_client, creditor, monkeypatch):
    monkeypatch.setattr("core.hooks.stop_calling_hooks", lambda client, **_: None)
    creditor.min_entry_percent = 0
    creditor.save()
    with freeze_time(at(TODAY)):
        return [agreement_for(tenant, operator, make_client(), installments=1) for _ in range(3)]


def test_a_breakage_interrupted_by_an_outage_resumes_the_same_day(overdue, run_worker, monkeypatch):
    real = payments._break_batch

    def outage_midway(ids, today):
        real(ids[:1], today)  # the first agreement broke, then the database went away
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(payments, "_break_batch", outage_midway)
    with freeze_time(at(TODAY + datetime.timedelta(days=30))) as clock:
        break_overdue_agreements.enqueue()
        run_worker()
        assert Agreement.objects.filter(status=Agreement.Status.ACTIVE).count() == 2
        assert DBTaskResult.objects.get().status == "READY"  # back in the queue, not failed until tomorrow
        monkeypatch.setattr(payments, "_break_batch", real)
        clock.tick(datetime.timedelta(seconds=2))
        run_worker()
    assert not Agreement.objects.filter(status=Agreement.Status.ACTIVE).exists()


def test_a_daily_task_that_failed_or_whose_worker_died_runs_again_today(overdue, run_worker, settings):
    day = TODAY + datetime.timedelta(days=30)
    with freeze_time(at(day)) as clock:
        settings.WORKER_DAILY = ["attendance.tasks.break_overdue_agreements"]
        died = running_task(break_overdue_agreements, minutes=2)
        assert queue_daily_tasks() == []  # a run of today is in hand (for now)
        assert task_leases.sweep_orphaned_tasks() == [str(died.pk)]
        DBTaskResult.objects.filter(pk=died.pk).update(
            status="FAILED", finished_at=timezone.now(), exception_class_path="builtins.RuntimeError"
        )
        assert queue_daily_tasks() == []  # failed just now: not before WORKER_DAILY_RETRY_SECONDS
        clock.tick(datetime.timedelta(seconds=settings.WORKER_DAILY_RETRY_SECONDS + 1))
        assert queue_daily_tasks() == settings.WORKER_DAILY
        run_worker()
    assert not Agreement.objects.filter(status=Agreement.Status.ACTIVE).exists()


def test_healthz_reports_missed_daily_tasks_and_orphaned_tasks(client, settings, tenant):
    settings.WORKER_DAILY_GRACE_SECONDS = 0
    WorkerHeartbeat.objects.create(
        worker_id="vivo", hostname="h", pid=1, started_at=timezone.now(), last_seen=timezone.now()
    )
    body = client.get("/healthz").json()
    assert body["status"] == "falha" and len(body["daily_missed"]) == len(settings.WORKER_DAILY)
    assert "break_overdue_agreements" in body["daily_missed"]
    for path in settings.WORKER_DAILY:
        run = import_string(path).enqueue()
        DBTaskResult.objects.filter(pk=run.id).update(status="SUCCESSFUL", finished_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["daily_missed"] == []
    running_task(remove_from_lists, 1)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["tasks_orphaned"] == 1


def test_an_import_cut_by_an_outage_is_queued_again_not_failed(tenant, creditor, run_worker, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core import import_jobs
    from core.models import WalletImport
    from tests.core.test_import import GOOD, csv_bytes

    job = import_jobs.queue_import(tenant, None, SimpleUploadedFile("carteira.csv", csv_bytes([GOOD])), "csv")
    import_jobs.enqueue_import(job)  # the upload's on-commit hook (the test's transaction never commits)
    real = import_jobs._run

    def outage(job):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(import_jobs, "_run", outage)
    with freeze_time(timezone.now()) as clock:
        run_worker()
        job.refresh_from_db()
        assert job.status == WalletImport.Status.QUEUED  # not "falhou: envie o arquivo de novo"
        monkeypatch.setattr(import_jobs, "_run", real)
        clock.tick(datetime.timedelta(seconds=2))
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.imported_rows) == (WalletImport.Status.DONE, 1)
