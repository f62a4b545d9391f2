"""Connected calls, live: the webhook NOTIFYs, each server process LISTENs on one connection.

PostgreSQL only. The ingestion statement calls pg_notify(CHANNEL, "tenant:event:agent") when it stores a
call-was-connected event for an agent; PostgreSQL sends it when that statement commits. Each event loop of a
server process keeps ONE connection listening on CHANNEL while any operator waits, and wakes the waiters of
that (tenant, agent); they read the call through the port, like the short poll. A notification sent while the
listening connection is down (a database restart) is lost, so every waiter is woken whenever the connection is
(re)established: reading again finds what arrived meanwhile.
"""

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict

import psycopg
from django.db import connections

logger = logging.getLogger(__name__)

CHANNEL = "dialer_connected_calls"
RECONNECT_DELAYS = (0.2, 0.5, 1, 2, 5)  # seconds, then 5 s between tries


def available() -> bool:
    """Pushed wake-ups need PostgreSQL's LISTEN/NOTIFY; elsewhere (the SQLite demo) the console polls."""
    return connections["default"].vendor == "postgresql"


def payload(tenant_id: int, event_id: int, agent_id: str) -> str:
    return f"{tenant_id}:{event_id}:{agent_id}"


class Waiter:
    """One waiting stream: woken when a call may have connected to its agent."""

    def __init__(self):
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken (read the calls again), False after `timeout` seconds of nothing."""
        try:
            await asyncio.wait_for(self._woken.wait(), timeout)
        except TimeoutError:
            return False
        # Cleared before the caller reads: a wake-up during that read is kept for the next wait.
        self._woken.clear()
        return True


class Listener:
    """The LISTEN connection of one event loop, fanned out in memory to the waiters by (tenant, agent)."""

    def __init__(self):
        self.waiters: dict[tuple[int, str], set[Waiter]] = defaultdict(set)
        self.task: asyncio.Task | None = None

    def add(self, key: tuple[int, str], waiter: Waiter) -> None:
        self.waiters[key].add(waiter)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run(), name="dialer-listen")

    def remove(self, key: tuple[int, str], waiter: Waiter) -> None:
        group = self.waiters.get(key)
        if group is not None:
            group.discard(waiter)
            if not group:
                del self.waiters[key]
        if not self.waiters and self.task is not None:
            # Nobody waits on this loop: the connection goes; the next waiter opens it again.
            self.task.cancel()
            self.task = None

    def dispatch(self, text: str) -> None:
        tenant_id, _event_id, agent_id = text.split(":", 2)
        for waiter in self.waiters.get((int(tenant_id), agent_id), ()):
            waiter.wake()

    def wake_all(self) -> None:
        for group in self.waiters.values():
            for waiter in group:
                waiter.wake()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(**conninfo(), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self.wake_all()  # whatever was stored before LISTEN took effect is read now
                    async for notify in conn.notifies():
                        try:
                            self.dispatch(notify.payload)
                        except ValueError:
                            logger.warning("Notificação de ligação ilegível: %r", notify.payload[:80])
            except Exception as error:  # the database restarting, a network cut: listen again
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                logger.warning("Escuta de ligações conectadas caiu (%s); nova tentativa em %ss", error, delay)
                await asyncio.sleep(delay)


def conninfo() -> dict:
    """Django's own connection parameters, less the ones only its cursor wrapper understands."""
    params = connections["default"].get_connection_params()
    for name in ("context", "cursor_factory", "prepare_threshold", "pool"):
        params.pop(name, None)
    # A peer gone without a word (a failover) is noticed within a minute, then the loop reconnects.
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", 30)
    params.setdefault("keepalives_interval", 10)
    params.setdefault("keepalives_count", 3)
    return params


_listeners: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Listener]" = weakref.WeakKeyDictionary()


def listener() -> Listener:
    loop = asyncio.get_running_loop()
    if loop not in _listeners:
        _listeners[loop] = Listener()
    return _listeners[loop]


@contextlib.contextmanager
def waiter(tenant_id: int, agent_id: str):
    """A Waiter for the calls connected to this tenant's agent, registered before the caller's first read."""
    key = (tenant_id, agent_id)
    waiting = Waiter()
    hub = listener()
    hub.add(key, waiting)
    try:
        yield waiting
    finally:
        hub.remove(key, waiting)
