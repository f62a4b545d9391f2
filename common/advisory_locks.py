"""PostgreSQL session advisory locks on (namespace, id): held by the process running a job, released by
PostgreSQL if that process dies, so a sweep can tell a stranded job from a live one. Elsewhere (SQLite, one
writer at a time) every lock is free.

Namespaces in use: 3 the dialer's exports, 7301 the Carteira imports.
"""

import contextlib

from django.db import DatabaseError, connection


@contextlib.contextmanager
def try_locks(namespace: int, ids):
    """The ids whose lock nobody holds, holding those locks until the block ends."""
    if connection.vendor != "postgresql":
        yield list(ids)
        return
    free = []
    try:
        with connection.cursor() as cursor:
            for item in ids:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, item])
                if cursor.fetchone()[0]:
                    free.append(item)
        yield free
    finally:
        # A connection lost meanwhile has released them already.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            for item in free:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, item])


@contextlib.contextmanager
def try_lock(namespace: int, item: int):
    """True, holding the lock until the block ends, when nobody else holds it."""
    with try_locks(namespace, [item]) as free:
        yield bool(free)
