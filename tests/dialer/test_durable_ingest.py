"""A 2xx from the webhook means the delivery is stored, durably: PostgreSQL crashed (pg_ctl stop -m immediate) under
a steady flow of deliveries to a real uvicorn, restarted, and every delivery answered 2xx is in the database.

The database is a private cluster of the test (tests/private_postgres.py), never the machine's server."""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from common.processes import database_url, stop
from dialer import group_commit
from dialer.models import DialerCallEvent
from tests.apart import run_apart
from tests.conftest import free_port, start_asgi_server
from tests.private_postgres import private_cluster

SENDERS = 16
STEADY = 30  # deliveries answered 2xx before the crash, and again after the restart
MAKE_TENANT = (
    "from tenants.models import Tenant; t = Tenant.objects.create(slug='crash', name='Crash'); print(t.webhook_secret)"
)


@pytest.fixture
def crashable_database(django_db_setup, django_db_blocker):
    """A private cluster holding the test database's schema and one tenant: (cluster, its DATABASE_URL, secret)."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.skip("o teste de queda derruba um PostgreSQL (no SQLite não há commit síncrono a provar)")
        schema_of = database_url(connection.settings_dict)
    cluster = private_cluster(free_port())
    try:
        url = cluster.url
        dump = subprocess.run(
            [str(cluster.bin / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", schema_of],
            capture_output=True,
            check=True,
            timeout=120,
        )
        subprocess.run(
            [str(cluster.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
            input=dump.stdout,
            capture_output=True,
            check=True,
            timeout=120,
        )
        env = {**os.environ, "DATABASE_URL": url}
        made = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", MAKE_TENANT],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        yield cluster, url, made.stdout.strip().splitlines()[-1]
    finally:
        cluster.stop()
        cluster.remove()


def connected(call_id: str) -> bytes:
    return json.dumps({"call": {"id": call_id, "phone": "5511987654321", "agent": "1001"}}).encode()


@pytest.mark.django_db  # the test database is made: its schema is copied into the private cluster
def test_every_delivery_answered_2xx_survives_a_database_crash(crashable_database):
    cluster, url, secret = crashable_database
    port = free_port()
    server = start_asgi_server(url, port)
    acked: dict[str, float] = {}  # call id -> when its 2xx came
    refused = {"before": 0, "down": 0, "after": 0}
    phase = {"now": "before"}

    async def sender(http, number, stopping):
        sequence = 0
        while not stopping.is_set():
            sequence += 1
            call_id = f"crash-{number}-{sequence}"
            try:
                response = await http.post(f"/dialer/webhooks/3cplus/{secret}/", content=connected(call_id))
            except httpx.HTTPError:
                refused[phase["now"]] += 1
                await asyncio.sleep(0.05)
                continue
            if 200 <= response.status_code < 300:
                acked[call_id] = time.monotonic()
            else:
                refused[phase["now"]] += 1
                await asyncio.sleep(0.05)

    async def flow():
        stopping = asyncio.Event()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            senders = [asyncio.create_task(sender(http, n, stopping)) for n in range(SENDERS)]
            deadline = time.monotonic() + 60
            while len(acked) < STEADY and time.monotonic() < deadline:  # a steady flow, whatever the machine's load
                await asyncio.sleep(0.05)
            before = len(acked)
            phase["now"] = "down"
            await asyncio.to_thread(cluster.crash)  # under that flow
            crashed_at = time.monotonic()
            await asyncio.sleep(1.5)
            await asyncio.to_thread(cluster.start)
            phase["now"] = "after"
            restarted = len(acked)
            deadline = time.monotonic() + 60
            while len(acked) < restarted + STEADY and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stopping.set()
            await asyncio.gather(*senders)
        return before, crashed_at, restarted

    try:
        before, crashed_at, restarted = run_apart(flow())
    finally:
        stop(server)
    with psycopg.connect(url) as conn:
        stored = {
            call_id for (call_id,) in conn.execute(f"SELECT call_id FROM {DialerCallEvent._meta.db_table}").fetchall()
        }
    lost = sorted(set(acked) - stored)
    answered_while_down = [call_id for call_id, at in acked.items() if at > crashed_at + 0.5 and call_id not in stored]
    print(
        f"2xx antes da queda {before}, até a volta {restarted}, no total {len(acked)}; recusadas {refused}; "
        f"perdidas {len(lost)}"
    )
    assert before >= STEADY, "o fluxo não chegou a ser constante antes da queda"
    assert refused["down"] > 0, "a queda não foi sentida pelo fluxo"
    assert len(acked) >= restarted + STEADY, "a ingestão não voltou depois do reinício"
    assert not answered_while_down
    assert lost == []


def test_a_group_is_answered_only_after_its_commit(monkeypatch, settings):
    """The order that makes a 2xx durable: no answer leaves a group before its transaction has committed; a group
    whose commit fails answers every delivery of it with that error (a 503), none with a 2xx."""
    settings.DIALER_WEBHOOK_GROUP_COMMIT_MS = 5
    events = []

    class Atomic:
        def __enter__(self):
            events.append("begin")

        def __exit__(self, *exc):
            events.append("commit")
            if fail["commit"]:
                raise group_commit.DatabaseError("server closed the connection unexpectedly")

    fail = {"commit": False}
    monkeypatch.setattr(group_commit.transaction, "atomic", Atomic)
    monkeypatch.setattr(group_commit.calls, "store_webhook", lambda s, r: events.append(r) or ((201, {"id": r}), None))
    monkeypatch.setattr(group_commit.calls, "receive_webhook", lambda s, r: (_ for _ in ()).throw(fail["alone"]))

    async def three():
        tasks = [asyncio.create_task(group_commit.receive("s", n)) for n in (1, 2, 3)]
        results = []
        for task in tasks:
            try:
                results.append(await task)
            except Exception as error:
                results.append(error)
            events.append(("answered", results[-1]))
        return results

    answers = run_apart(three())
    assert answers == [(201, {"id": 1}), (201, {"id": 2}), (201, {"id": 3})]
    assert events[:5] == ["begin", 1, 2, 3, "commit"]  # one transaction, then the answers

    events.clear()
    fail["commit"], fail["alone"] = True, group_commit.DatabaseError("the database system is in recovery mode")
    answers = run_apart(three())
    assert all(isinstance(answer, group_commit.DatabaseError) for answer in answers)
    assert not [e for e in events if isinstance(e, tuple) and not isinstance(e[1], Exception)]


@pytest.mark.django_db
def test_one_bad_delivery_costs_only_itself_not_its_group(tenant, monkeypatch):
    """A delivery that fails inside a group undoes the group's transaction; the group is stored again one delivery
    per transaction, so the others are stored and answered 201 and only the bad one gets its error."""
    from dialer import ingestion
    from tests.dialer.test_webhooks import connected as full_connected

    real = ingestion.store

    def store(secret, reading):
        if reading.parsed.call_id == "bad":
            raise group_commit.DatabaseError("value too long")
        return real(secret, reading)

    monkeypatch.setattr(ingestion, "store", store)
    bodies = [json.dumps(full_connected(call_id=call_id)).encode() for call_id in ("good-1", "bad", "good-2")]
    answers = group_commit.store_group([(tenant.webhook_secret, body) for body in bodies])
    assert answers[0][0] == 201 and answers[2][0] == 201
    assert isinstance(answers[1], group_commit.DatabaseError)
    assert sorted(DialerCallEvent.objects.values_list("call_id", flat=True)) == ["good-1", "good-2"]


def test_a_group_is_answered_before_its_follow_ups_run(monkeypatch, settings):
    """A qualified history's follow-up (its tabulação, several queries) runs after its group is answered: the 2xx
    promises the delivery stored, and a group of 64 must not wait for every history's follow-up before any answer
    leaves. The follow-up here holds until all three answers arrived; had they waited for it, it would hold in vain."""
    settings.DIALER_WEBHOOK_GROUP_COMMIT_MS = 5
    answered = threading.Event()
    followed = []

    def follow(after):
        followed.append((after, answered.wait(10)))  # True: the answers had all left before this ran

    monkeypatch.setattr(group_commit.transaction, "atomic", contextlib.nullcontext)
    monkeypatch.setattr(group_commit.calls, "store_webhook", lambda s, r: ((201, {"id": r}), ("after", r)))
    monkeypatch.setattr(group_commit.calls, "after_commit", follow)

    async def three():
        answers = await asyncio.gather(*(group_commit.receive("s", n) for n in (1, 2, 3)))
        answered.set()
        while len(followed) < 3:  # the follow-ups finish on the database threads
            await asyncio.sleep(0.01)
        return answers

    assert run_apart(three()) == [(201, {"id": 1}), (201, {"id": 2}), (201, {"id": 3})]
    assert followed == [(("after", 1), True), (("after", 2), True), (("after", 3), True)]
