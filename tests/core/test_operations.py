"""Operation: /healthz with the worker's heartbeat, request ids in responses and logs."""

import datetime
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from django.utils import timezone

from core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database_and_the_worker(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "falha",
        "database": "ok",
        "worker": "sem sinal",
        "workers_alive": 0,
        "worker_last_seen_seconds": None,
        "tasks_waiting": 0,
        "exports_stuck": 0,
        "imports_stuck": 0,
        "removals_stuck": 0,
        "qualifications_stuck": 0,
        "tasks_orphaned": 0,
        "reconciliations_failing": 0,
        "daily_missed": [],
    }
    beat = WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="maquina-1", pid=1, started_at=timezone.now(), last_seen=timezone.now()
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["workers_alive"] == 1 and response.json()["status"] == "ok"
    # A worker that stopped beating is down, even though its row is still there.
    beat.last_seen = timezone.now() - datetime.timedelta(seconds=settings.WORKER_STALE_SECONDS + 5)
    beat.save()
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["worker_last_seen_seconds"] >= settings.WORKER_STALE_SECONDS


def test_request_id_is_echoed_or_made_and_reaches_the_logs(client, caplog):
    caplog.set_level(logging.INFO)
    given = client.get("/healthz", headers={"X-Request-ID": "lb-1234"})
    assert given["X-Request-ID"] == "lb-1234"
    made = client.get("/entrar/")["X-Request-ID"]
    assert len(made) == 32
    hostile = client.get("/entrar/", headers={"X-Request-ID": "x\nFalso log"})["X-Request-ID"]
    assert "\n" not in hostile and hostile != "x\nFalso log"
    assert "lb-1234" in [getattr(r, "request_id", None) for r in caplog.records]  # the 503 was logged with it


@pytest.mark.django_db(transaction=True)
def test_db_worker_beats_while_it_runs(settings, tmp_path):
    """The real command, as a process: its heartbeat lands in the database within seconds."""
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        pytest.skip("o worker, outro processo, precisa de um banco compartilhado (PostgreSQL)")
    env = {**os.environ, "DATABASE_URL": database_url(settings)}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--worker-id", "teste-heartbeat"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60  # Django alone takes tens of seconds to start on a busy machine
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.filter(worker_id="teste-heartbeat").exists():
            time.sleep(0.2)
        beat = WorkerHeartbeat.objects.get(worker_id="teste-heartbeat")
        assert beat.pid == worker.pid
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)


def database_url(settings) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
