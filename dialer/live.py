"""Connected calls, live: the webhook NOTIFYs, each server process LISTENs on one connection.

PostgreSQL only. The ingestion statement calls pg_notify(CHANNEL, "tenant:event:agent") when it stores a
call-was-connected event for an agent; PostgreSQL sends it when that statement commits. Each event loop of a
server process keeps ONE connection listening on CHANNEL while any operator waits, and wakes the waiters of
that (tenant, agent); they read the call through the port, like the short poll. A notification sent while the
listening connection is down (a database restart) is lost, so every waiter is woken whenever the connection is
(re)established: reading again finds what arrived meanwhile.

The same connection carries the WhatsApp chat's notes (messaging.services.publish): "m:tenant:client:operator:kind"
when a message arrives or changes status, sent when its transaction commits. They are not read back from the
database: each is told, as it is, to the waiters of that tenant whose audience may see the client (publish_message's
Audience), and the stream passes it on as an event of its own. A note lost while the connection is down is not
replayed; the chat and the console's counts read everything again whenever their stream (re)opens.
"""

import asyncio
import contextlib
import dataclasses
import logging
import weakref
from collections import defaultdict, deque

import psycopg
from django.db import connections

logger = logging.getLogger(__name__)

CHANNEL = "dialer_connected_calls"
RECONNECT_DELAYS = (0.2, 0.5, 1, 2, 5)  # seconds, then 5 s between tries
MESSAGE = "m"  # a message note's first field; a call's is its tenant's id, always digits
# A message arrived from the debtor; a message's status changed; a client's unread messages were seen.
MESSAGE_KINDS = ("recebida", "status", "vista")
NOTES_KEPT = 50  # a waiter's unsent notes; beyond that the oldest go (the page reads everything on the next one)


def available() -> bool:
    """Pushed wake-ups need PostgreSQL's LISTEN/NOTIFY; elsewhere (the SQLite demo) the console polls."""
    return connections["default"].vendor == "postgresql"


def payload(tenant_id: int, event_id: int, agent_id: str) -> str:
    return f"{tenant_id}:{event_id}:{agent_id}"


def message_payload(tenant_id: int, client_id: int, operator_id: int | None, kind: str) -> str:
    return f"{MESSAGE}:{tenant_id}:{client_id}:{operator_id or 0}:{kind}"


def publish(text: str) -> None:
    """NOTIFY on the default connection: sent when the caller's transaction commits, never if it rolls back.
    Nothing elsewhere (the SQLite demo), where no stream listens."""
    if available():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, text])


@dataclasses.dataclass(frozen=True)
class Audience:
    """Whose message notes a stream gets: its tenant's only, and of those the clients its user may see there —
    all of them for the back office, else those assigned to the user and the client whose page is open."""

    tenant_id: int
    user_id: int
    sees_all: bool = False
    client_id: int | None = None

    def sees(self, tenant_id: int, client_id: int, operator_id: int) -> bool:
        if tenant_id != self.tenant_id:
            return False
        return self.sees_all or operator_id == self.user_id or client_id == self.client_id


class Waiter:
    """One waiting stream: woken when a call may have connected to its agent, or told a message note."""

    def __init__(self, audience: Audience | None = None):
        self._woken = asyncio.Event()
        self._told = False  # woken by a call or a note, not by the end of a wait's timeout
        self.audience = audience
        self.calls = False  # a call may have connected since the caller last took this
        self.notes: deque[dict] = deque(maxlen=NOTES_KEPT)

    def wake(self) -> None:
        self.calls = True
        self._told = True
        self._woken.set()

    def tell(self, note: dict) -> None:
        self.notes.append(note)
        self._told = True
        self._woken.set()

    def take_notes(self) -> list[dict]:
        notes = list(self.notes)
        self.notes.clear()
        return notes

    def take_calls(self) -> bool:
        calls, self.calls = self.calls, False
        return calls

    async def wait(self, timeout: float) -> bool:
        """True when woken (read the calls again), False after `timeout` seconds of nothing.

        The timeout is a plain timer that sets the same event, not asyncio.wait_for: thousands of idle streams each
        end a wait every heartbeat, and wait_for ends one by cancelling, raising and catching in the stream's task.
        """
        if not self._woken.is_set():
            timer = asyncio.get_running_loop().call_later(timeout, self._woken.set)
            try:
                await self._woken.wait()
            finally:
                timer.cancel()
        # Cleared before the caller reads: a wake-up during that read is kept for the next wait.
        told, self._told = self._told, False
        self._woken.clear()
        return told


class Listener:
    """The LISTEN connection of one event loop, fanned out in memory to the waiters by (tenant, agent)."""

    def __init__(self):
        self.waiters: dict[tuple[int, str], set[Waiter]] = defaultdict(set)
        self.tenants: dict[int, set[Waiter]] = defaultdict(set)  # the waiters with an audience, by its tenant
        self.task: asyncio.Task | None = None

    def add(self, key: tuple[int, str], waiter: Waiter) -> None:
        self.waiters[key].add(waiter)
        if waiter.audience is not None:
            self.tenants[waiter.audience.tenant_id].add(waiter)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run(), name="dialer-listen")

    def remove(self, key: tuple[int, str], waiter: Waiter) -> None:
        group = self.waiters.get(key)
        if group is not None:
            group.discard(waiter)
            if not group:
                del self.waiters[key]
        if waiter.audience is not None:
            group = self.tenants.get(waiter.audience.tenant_id)
            if group is not None:
                group.discard(waiter)
                if not group:
                    del self.tenants[waiter.audience.tenant_id]
        if not self.waiters and self.task is not None:
            # Nobody waits on this loop: the connection goes; the next waiter opens it again.
            self.task.cancel()
            self.task = None

    def dispatch(self, text: str) -> None:
        if text.startswith(MESSAGE + ":"):
            self.dispatch_message(text)
            return
        tenant_id, _event_id, agent_id = text.split(":", 2)
        for waiter in self.waiters.get((int(tenant_id), agent_id), ()):
            waiter.wake()

    def dispatch_message(self, text: str) -> None:
        """A message note, told to the waiters of its tenant that may see its client: never another tenant's."""
        _prefix, tenant_id, client_id, operator_id, kind = text.split(":")
        tenant_id, client_id, operator_id = int(tenant_id), int(client_id), int(operator_id)
        if kind not in MESSAGE_KINDS:
            raise ValueError(kind)
        note = {"cliente": client_id, "tipo": kind}
        for waiter in self.tenants.get(tenant_id, ()):
            if waiter.audience.sees(tenant_id, client_id, operator_id):
                waiter.tell(note)

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
def waiter(tenant_id: int, agent_id: str, audience: Audience | None = None):
    """A Waiter for the calls connected to this tenant's agent, registered before the caller's first read; with an
    audience (of the same tenant) it is also told the message notes that audience may see."""
    if audience is not None and audience.tenant_id != tenant_id:
        raise ValueError("audience of another tenant")
    key = (tenant_id, agent_id)
    waiting = Waiter(audience)
    hub = listener()
    hub.add(key, waiting)
    try:
        yield waiting
    finally:
        hub.remove(key, waiting)
