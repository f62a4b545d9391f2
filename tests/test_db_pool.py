"""The pool's health check: a round trip only for a connection that sat idle, and a dead one never lent."""

import pytest
from django.db import connection

from common import db_pool

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's")


def test_a_connection_lent_a_moment_ago_is_not_asked_again_and_an_idle_one_is(monkeypatch):
    import psycopg

    asked = []
    monkeypatch.setattr(db_pool.ConnectionPool, "check_connection", staticmethod(lambda conn: asked.append(conn)))
    params = connection.get_connection_params()
    with psycopg.connect(**params) as conn:
        db_pool.check_unless_recent(conn)
        db_pool.check_unless_recent(conn)
        assert asked == [conn]
        conn._cobranca_handed_out_at -= db_pool.RECENT_SECONDS + 1  # as if it sat idle
        db_pool.check_unless_recent(conn)
        assert asked == [conn, conn]


def test_a_dead_idle_connection_fails_the_check():
    import psycopg

    params = connection.get_connection_params()
    conn = psycopg.connect(**params)
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        db_pool.check_unless_recent(conn)
