"""Reads of the Carteira and the dashboard on a streaming replica, when one is configured (DATABASE_REPLICA_URL).

Only code that asks for it reads the replica: a view wraps its reading in `replica_reads(request)`; everything else
(writes, the worker, the atendimento page, an export's freeze) stays on the primary. Inside `replica_reads` the
router sends a read to the replica unless:

- the replica lags by more than DATABASE_REPLICA_MAX_LAG seconds (asked of the replica itself, at most once every
  DATABASE_REPLICA_LAG_CHECK_SECONDS per process: one tiny query, not one per read), or cannot be reached;
- the user wrote recently (read-your-writes): a request that changes something (any method but GET, HEAD, OPTIONS)
  marks the session, and for DATABASE_REPLICA_STICKY_SECONDS that user's pages read the primary; a write inside the
  block itself turns the rest of the block to the primary too.

Export selection replays stay on the primary on purpose: the freeze decides who may be dialled and must see a
"não ligar" marked a second ago (a replica a few seconds behind would send that phone to the dialer), and it
reads and inserts in one statement, which a read-only standby refuses.
"""

import contextlib
import contextvars
import dataclasses
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections

REPLICA = "replica"
PRIMARY = "default"
SESSION_KEY = "_primary_reads_until"  # a timestamp: this user reads the primary until then
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclasses.dataclass
class _Block:
    """One replica_reads block: whether it may read the replica, and whether it wrote."""

    allowed: bool
    wrote: bool = False


_block: contextvars.ContextVar[_Block | None] = contextvars.ContextVar("replica_block", default=None)


def configured(alias: str = REPLICA) -> bool:
    return alias in settings.DATABASES


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


class LagGuard:
    """The replica's lag, asked of the replica at most once per check interval (per process); None when it could
    not be asked. Zero when the replica has replayed all it received (an idle primary sends nothing: the replay
    timestamp then ages without the replica being behind)."""

    QUERY = (
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
        "WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
        "ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0) END"
    )

    def __init__(self):
        self._lock = threading.Lock()
        self._checked: dict[str, tuple[float, float | None]] = {}

    def lag(self, alias: str) -> float | None:
        now = time.monotonic()
        with self._lock:
            checked = self._checked.get(alias)
            if checked and now - checked[0] < _setting("DATABASE_REPLICA_LAG_CHECK_SECONDS", 1):
                return checked[1]
        lag = self._ask(alias)
        with self._lock:
            self._checked[alias] = (time.monotonic(), lag)
        return lag

    def _ask(self, alias: str) -> float | None:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            return None
        try:
            with connection.cursor() as cursor:
                cursor.execute(self.QUERY)
                (lag,) = cursor.fetchone()
        except DatabaseError:
            connection.close()  # asked again after the interval, on a new connection
            return None
        return None if lag is None else float(lag)

    def forget(self) -> None:
        with self._lock:
            self._checked.clear()


lag_guard = LagGuard()


def replica_fresh(alias: str = REPLICA) -> bool:
    """Whether the replica answers and lags by at most DATABASE_REPLICA_MAX_LAG seconds."""
    lag = lag_guard.lag(alias)
    return lag is not None and lag <= _setting("DATABASE_REPLICA_MAX_LAG", 5)


def wrote_recently(request) -> bool:
    session = getattr(request, "session", None)
    return session is not None and session.get(SESSION_KEY, 0) > time.time()


@contextlib.contextmanager
def replica_reads(request=None):
    """The block's reads go to the replica when it is configured and fresh and the user did not just write."""
    allowed = request is not None and request.method in SAFE_METHODS
    token = _block.set(_Block(allowed=allowed and not wrote_recently(request)))
    try:
        yield
    finally:
        _block.reset(token)


class ReplicaRouter:
    """DATABASE_ROUTERS' entry. `primary` and `replica` name the two aliases (the tests give their own pair)."""

    def __init__(self, primary: str = PRIMARY, replica: str = REPLICA):
        self.primary = primary
        self.replica = replica

    def db_for_read(self, model, **hints):
        block = _block.get()
        if block is None or not block.allowed or block.wrote or self.replica not in connections.settings:
            return self.primary
        if hints.get("instance") is not None and hints["instance"]._state.db == self.primary:
            return self.primary  # a relation followed from an object read on the primary stays there
        return self.replica if replica_fresh(self.replica) else self.primary

    def db_for_write(self, model, **hints):
        block = _block.get()
        if block is not None:
            block.wrote = True  # read-your-writes inside the block
        return self.primary

    def allow_relation(self, obj1, obj2, **hints):
        databases = {self.primary, self.replica}
        return True if obj1._state.db in databases and obj2._state.db in databases else None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == self.replica else None


class ReadYourWritesMiddleware:
    """A user's request that changes something sends that user's replica reads to the primary for a while."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            configured()
            and request.method not in SAFE_METHODS
            and user is not None
            and user.is_authenticated
            and hasattr(request, "session")
        ):
            request.session[SESSION_KEY] = time.time() + _setting("DATABASE_REPLICA_STICKY_SECONDS", 15)
        return response
