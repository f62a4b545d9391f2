"""Which operators wait on this process's event streams, for the live panel's "aguardando ligação", and whether
each stream may still wait.

A polling console writes its membership's console_seen_at at most every few seconds (services.note_console_poll).
A stream costs nothing while it waits, so one task per event loop writes console_seen_at instead: for the
operators who just opened a stream within about a second (a burst of connections is one UPDATE), and for all of
its open streams every SEEN_EVERY_SECONDS (the panel counts a console seen in the last 10 s).

The same round checks, for all of the loop's streams at once, that each may still receive calls: its session
exists and has not expired (a logout, an expiry, an administrator deleting it), its user is active with the
password it had when the stream opened (a reset or a change), and its membership still belongs to that user, tenant
and agent ID (removed, or the agent ID moved to someone else). A stream that may not is told to close, so revoked
access stops receiving calls within seconds instead of at its next reconnection.

On PostgreSQL (where streams are served) a round is two statements whatever the number of streams, each with one
parameter (not one per stream): the memberships as one array, the accesses as one JSON array joined from each
access's text, made once when its stream opened; the check answers only the streams that must go. With thousands of
streams per process, thousands of placeholders cost a fifth of a core in psycopg's client-side query parsing alone.

A session holds at most ATTENDANCE_STREAMS_PER_SESSION streams per process: a new one closes the oldest, so one
session cannot hold a thread's worth of sockets by the hundred.
"""

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import weakref
from collections import Counter

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from common import async_db
from tenants.models import Membership, Tenant

logger = logging.getLogger(__name__)
SEEN_EVERY_SECONDS = 5
JOINED_DELAY_SECONDS = 0.5  # the connections of a burst are written together

# Why a stream ends: its access was revoked (the console reloads into the sign-in page or "sem permissão"), or a
# newer stream of the same session took its place (the console stops without reloading: no tab takes turns).
REVOKED = "encerrado"
REPLACED = "substituido"


@dataclasses.dataclass(frozen=True)
class Access:
    """What a stream was opened with: it may go on while all of it still holds."""

    session_key: str
    # The user's password (its hash) when the stream opened: AuthenticationMiddleware had just checked that the
    # session was signed in with it, so a different one now is a reset or a change.
    password: str = dataclasses.field(repr=False)
    user_id: int
    membership_id: int
    tenant_id: int
    agent_id: str

    @functools.cached_property
    def row(self) -> str:
        """This access as a JSON array, for the round's check (revoked_in_postgresql): made once per stream. The
        password goes as its SHA-256, never as it is: the statement's text may reach pg_stat_activity and logs."""
        digest = hashlib.sha256(self.password.encode()).hexdigest()
        return json.dumps([self.membership_id, self.user_id, self.tenant_id, self.agent_id, digest, self.session_key])


def touch(membership_ids) -> int:
    if not membership_ids:
        return 0
    if connection.vendor != "postgresql":
        return Membership.objects.filter(pk__in=membership_ids).update(console_seen_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Membership._meta.db_table} SET console_seen_at = %s "
            "WHERE id = ANY(string_to_array(%s, ',')::bigint[])",
            [timezone.now(), ",".join(map(str, membership_ids))],
        )
        return cursor.rowcount


DATABASE_SESSIONS = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


def sessions_stored_in_database() -> bool:
    return settings.SESSION_ENGINE in DATABASE_SESSIONS


def ended_sessions(session_keys) -> set[str]:
    """The keys, of those given, whose session no longer exists or has expired."""
    if not session_keys or not sessions_stored_in_database():
        return set()
    alive = Session.objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
    return set(session_keys) - set(alive.values_list("session_key", flat=True))


def revoked(accesses) -> list[Access]:
    """The accesses, of those given (the same objects), that no longer hold."""
    accesses = list(accesses)
    if not accesses:
        return []
    if connection.vendor == "postgresql":
        return revoked_in_postgresql(accesses)
    ended = ended_sessions({access.session_key for access in accesses})
    rows = Membership.objects.filter(pk__in={access.membership_id for access in accesses}, tenant__active=True)
    current = {
        pk: (user_id, tenant_id, agent_id, is_active, password)
        for pk, user_id, tenant_id, agent_id, is_active, password in rows.values_list(
            "pk", "user_id", "tenant_id", "threecplus_agent_id", "user__is_active", "user__password"
        )
    }
    return [
        access
        for access in accesses
        if access.session_key in ended
        or current.get(access.membership_id)
        != (access.user_id, access.tenant_id, access.agent_id, True, access.password)
    ]


def revoked_in_postgresql(accesses: list[Access]) -> list[Access]:
    """revoked() as one statement: the accesses go in as one JSON array (Access.row), and only the positions of
    those that no longer hold come back (none, on most rounds)."""
    User = get_user_model()
    user = {name: User._meta.get_field(name).column for name in ("id", "is_active", "password")}
    session_alive, params = "TRUE", ["[" + ",".join(access.row for access in accesses) + "]"]
    if sessions_stored_in_database():
        session_alive = (
            f"EXISTS (SELECT 1 FROM {Session._meta.db_table} s WHERE s.session_key = e.a->>5 AND s.expire_date > %s)"
        )
        params.append(timezone.now())
    sql = f"""
        SELECT e.position FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(a, position)
        LEFT JOIN {Membership._meta.db_table} m ON m.id = (e.a->>0)::bigint
        LEFT JOIN {Tenant._meta.db_table} t ON t.id = m.tenant_id
        LEFT JOIN {User._meta.db_table} u ON u.{user["id"]} = m.user_id
        WHERE NOT COALESCE(
            t.active AND m.user_id = (e.a->>1)::bigint AND m.tenant_id = (e.a->>2)::bigint
            AND m.threecplus_agent_id = e.a->>3 AND u.{user["is_active"]}
            AND encode(sha256(convert_to(u.{user["password"]}, 'UTF8')), 'hex') = e.a->>4
            AND {session_alive},
            FALSE
        )
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [accesses[position - 1] for (position,) in cursor.fetchall()]


def allowed(access: Access) -> bool:
    return not revoked([access])


def touch_and_check(membership_ids, accesses) -> list[Access]:
    touch(membership_ids)
    return revoked(accesses)


class Seat:
    """One open stream as presence sees it: `ended` becomes REVOKED or REPLACED (and `on_end` is called) when
    it must close."""

    def __init__(self, access: Access, on_end):
        self.access = access
        self.on_end = on_end
        self.ended = ""

    def end(self, reason: str) -> None:
        if not self.ended:
            self.ended = reason
            if self.on_end:
                self.on_end()


class Presence:
    def __init__(self):
        self.open: Counter[int] = Counter()
        self.joined: set[int] = set()
        self.seats: dict[str, list[Seat]] = {}  # by session key, oldest first
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

    def add_seat(self, seat: Seat) -> None:
        group = self.seats.setdefault(seat.access.session_key, [])
        group.append(seat)
        for oldest in group[: max(0, len(group) - settings.ATTENDANCE_STREAMS_PER_SESSION)]:
            oldest.end(REPLACED)

    def remove_seat(self, seat: Seat) -> None:
        group = self.seats.get(seat.access.session_key)
        if group is not None and seat in group:
            group.remove(seat)
            if not group:
                del self.seats[seat.access.session_key]

    def add(self, membership_id: int) -> None:
        if not self.open[membership_id]:
            self.joined.add(membership_id)
            self.wake.set()
        self.open[membership_id] += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run(), name="console-presence")

    def remove(self, membership_id: int) -> None:
        self.open[membership_id] -= 1
        if self.open[membership_id] <= 0:
            del self.open[membership_id]
            self.joined.discard(membership_id)
        if not self.open and self.task is not None:
            self.task.cancel()
            self.task = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), max(0, due - loop.time()))
            await asyncio.sleep(JOINED_DELAY_SECONDS)
            self.wake.clear()
            seats = []
            if loop.time() >= due:
                ids, due = list(self.open), loop.time() + SEEN_EVERY_SECONDS
                seats = [seat for group in self.seats.values() for seat in group if not seat.ended]
            else:
                ids = list(self.joined)
            self.joined.clear()
            try:
                gone = await async_db.run(touch_and_check, ids, [seat.access for seat in seats])
            except Exception:  # the database is away: the next round writes and checks again
                logger.warning("Não foi possível registrar os consoles abertos", exc_info=True)
                continue
            gone = {id(access) for access in gone}  # by identity: hashing thousands of accesses costs a round
            for seat in seats:
                if id(seat.access) in gone:
                    seat.end(REVOKED)


_presences: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Presence]" = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def waiting(access: Access, on_end=None):
    """The operator counts as waiting at the console while this block lasts. Yields a Seat whose `ended` turns
    true, and `on_end()` is called, when the access is revoked (checked every SEEN_EVERY_SECONDS) or a newer
    stream of the same session replaces it."""
    loop = asyncio.get_running_loop()
    presence = _presences.get(loop) or _presences.setdefault(loop, Presence())
    seat = Seat(access, on_end)
    presence.add_seat(seat)
    presence.add(access.membership_id)
    try:
        yield seat
    finally:
        presence.remove(access.membership_id)
        presence.remove_seat(seat)
