"""The read replica's router against a REAL streaming replica: a private primary and its standby (initdb in a temp
dir on free ports, `pg_basebackup -R`), started for this module and stopped after it. The machine's PostgreSQL
server is never touched. Reads in a `replica_reads` block go to the standby; above the lag limit they fall back to
the primary; a user who just wrote reads the primary."""

import subprocess
import time
import uuid

import pytest
from django.db import connection, connections, router
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from benchmarks import replica_pair
from common import replica
from tenants.models import Tenant

PRIMARY, STANDBY = "pair_primary", "pair_replica"


BIN = replica_pair.binaries()
pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a streaming replica is a PostgreSQL feature"),
    pytest.mark.skipif(BIN is None, reason="the PostgreSQL server binaries (initdb, pg_basebackup) are not installed"),
]


def _alias(port: int) -> dict:
    default = dict(connections.settings["default"])
    database = {**default, "NAME": "postgres", "USER": "postgres", "PASSWORD": "", "HOST": "127.0.0.1"}
    database.update(PORT=port, CONN_MAX_AGE=0, OPTIONS={}, TEST={})
    return connections.configure_settings({"default": default, "x": database})["x"]


@pytest.fixture(scope="module")
def pair(django_db_blocker):
    pair = replica_pair.Pair(BIN)
    try:
        pair.start()
    except (subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired) as error:
        pair.stop()
        pytest.skip(f"could not start a private primary and standby: {error}")
    connections.settings[PRIMARY] = _alias(pair.primary_port)
    connections.settings[STANDBY] = _alias(pair.standby_port)
    with django_db_blocker.unblock():
        with connections[PRIMARY].schema_editor() as editor:
            editor.create_model(Tenant)
        _wait_until(lambda: _standby_has_table())
        yield pair
        for alias in (PRIMARY, STANDBY):
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]
    pair.stop()


def _standby_has_table() -> bool:
    with connections[STANDBY].cursor() as cursor:
        cursor.execute("SELECT to_regclass('tenants_tenant') IS NOT NULL")
        return cursor.fetchone()[0]


def _wait_until(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the standby did not catch up")
        time.sleep(0.05)


@pytest.fixture
def routed(pair, monkeypatch, settings):
    """The project's router on the private pair, a fresh lag reading per test."""
    monkeypatch.setattr(router, "routers", [replica.ReplicaRouter(primary=PRIMARY, replica=STANDBY)])
    settings.DATABASE_REPLICA_MAX_LAG = 5
    settings.DATABASE_REPLICA_LAG_CHECK_SECONDS = 1
    replica.lag_guard.forget()
    yield
    with connections[STANDBY].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    replica.lag_guard.forget()


def _new_tenant() -> Tenant:
    slug = f"t{uuid.uuid4().hex[:10]}"
    return Tenant.objects.using(PRIMARY).create(name=slug, slug=slug)


def _on_standby(slug) -> bool:
    return Tenant.objects.using(STANDBY).filter(slug=slug).exists()


def _pause_replay_and_write() -> Tenant:
    """The standby stops replaying; a tenant written after that exists only on the primary."""
    with connections[STANDBY].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    _wait_until(lambda: _replay_paused())
    return _new_tenant()


def _replay_paused() -> bool:
    with connections[STANDBY].cursor() as cursor:
        cursor.execute("SELECT pg_get_wal_replay_pause_state()")
        return cursor.fetchone()[0] == "paused"


def _get(session=None):
    request = RequestFactory().get("/admin/core/client/")
    request.session = session if session is not None else {}
    return request


def test_reads_in_a_replica_block_go_to_the_standby_and_others_to_the_primary(routed):
    tenant = _new_tenant()
    _wait_until(lambda: _on_standby(tenant.slug))
    with (
        CaptureQueriesContext(connections[STANDBY]) as on_standby,
        CaptureQueriesContext(connections[PRIMARY]) as on_primary,
    ):
        with replica.replica_reads(_get()):
            assert Tenant.objects.filter(slug=tenant.slug).get().pk == tenant.pk
        assert Tenant.objects.filter(slug=tenant.slug).exists()  # outside the block: the primary
    reads = [q["sql"] for q in on_standby if "tenants_tenant" in q["sql"]]
    assert len(reads) == 1 and len([q for q in on_primary if "tenants_tenant" in q["sql"]]) == 1
    # A POST never reads the standby.
    with replica.replica_reads(RequestFactory().post("/")):
        assert Tenant.objects.filter(slug=tenant.slug).db == PRIMARY


def test_a_standby_behind_by_more_than_the_limit_is_left_for_the_primary(routed, settings):
    settings.DATABASE_REPLICA_MAX_LAG = 1
    settings.DATABASE_REPLICA_LAG_CHECK_SECONDS = 0.2
    fresh = _pause_replay_and_write()
    with replica.replica_reads(_get()):
        assert not Tenant.objects.filter(slug=fresh.slug).exists(), "within the limit: read on the standby"
    time.sleep(1.5)  # the standby now lags (the replay stopped, the primary wrote since)
    with replica.replica_reads(_get()):
        time.sleep(0.3)  # past the cached reading
        assert Tenant.objects.filter(slug=fresh.slug).exists(), "above the limit: read on the primary"
    assert replica.lag_guard.lag(STANDBY) > 1


def test_the_lag_is_asked_once_per_interval(routed, settings):
    settings.DATABASE_REPLICA_LAG_CHECK_SECONDS = 60
    with CaptureQueriesContext(connections[STANDBY]) as on_standby:
        with replica.replica_reads(_get()):
            for _ in range(5):
                list(Tenant.objects.all()[:1])
    assert sum("pg_last_wal_replay_lsn" in q["sql"] for q in on_standby) == 1


def test_read_your_writes(routed, monkeypatch):
    fresh = _pause_replay_and_write()
    # Inside a block, a write turns the block's later reads to the primary.
    with replica.replica_reads(_get()):
        assert not Tenant.objects.filter(slug=fresh.slug).exists()
        Tenant.objects.filter(slug=fresh.slug).update(name="renomeada")
        assert Tenant.objects.filter(slug=fresh.slug, name="renomeada").exists()
    # A user whose last request wrote reads the primary on the next pages, for the sticky window.
    monkeypatch.setattr(replica, "configured", lambda alias=replica.REPLICA: True)
    session = {}
    post = RequestFactory().post("/admin/core/client/1/change/")
    post.session, post.user = session, type("User", (), {"is_authenticated": True})()
    replica.ReadYourWritesMiddleware(lambda request: None)(post)
    with replica.replica_reads(_get(session)):
        assert Tenant.objects.filter(slug=fresh.slug).exists(), "the user who just wrote reads the primary"
    with replica.replica_reads(_get({})):
        assert not Tenant.objects.filter(slug=fresh.slug).exists(), "another user still reads the standby"


def test_an_unreachable_standby_falls_back_to_the_primary(routed, monkeypatch):
    tenant = _new_tenant()
    monkeypatch.setattr(router, "routers", [replica.ReplicaRouter(primary=PRIMARY, replica="pair_gone")])
    connections.settings["pair_gone"] = _alias(replica_pair.free_port())
    try:
        with replica.replica_reads(_get()):
            assert Tenant.objects.filter(slug=tenant.slug).exists()
    finally:
        connections["pair_gone"].close()
        del connections["pair_gone"]
        del connections.settings["pair_gone"]
