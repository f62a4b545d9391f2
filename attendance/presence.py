"""Which operators wait on this process's event streams, for the live panel's "aguardando ligação", and whether
each stream may still wait.

A polling console writes its membership's console_seen_at at most every few seconds (services.note_console_poll).
A stream costs nothing while it waits, so one task per event loop writes console_seen_at instead: for the
operators who just opened a stream within about a second (a burst of connections is one UPDATE), and for all of
its open streams every SEEN_EVERY_SECONDS (the panel counts a console seen in the last 10 s).

The same round checks, for all of the loop's streams at once (two queries whatever their number), that each may
still receive calls: its session exists and has not expired (a logout, an expiry, an administrator deleting it),
its user is active with the password the session was signed in with (a reset or a change), and its membership
still belongs to that user, tenant and agent ID (removed, or the agent ID moved to someone else). A stream that
may not is told to close, so revoked access stops receiving calls within seconds instead of at its next
reconnection. A session holds at most ATTENDANCE_STREAMS_PER_SESSION streams per process: a new one closes the
oldest, so one session cannot hold a thread's worth of sockets by the hundred.
"""

import asyncio
import contextlib
import dataclasses
import logging
import weakref
from collections import Counter

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from common import async_db
from tenants.models import Membership

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
    auth_hash: str  # the session's HASH_SESSION_KEY: the user's password when the session signed in
    user_id: int
    membership_id: int
    tenant_id: int
    agent_id: str


def touch(membership_ids) -> int:
    return Membership.objects.filter(pk__in=membership_ids).update(console_seen_at=timezone.now())


DATABASE_SESSIONS = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


def sessions_stored_in_database() -> bool:
    return settings.SESSION_ENGINE in DATABASE_SESSIONS


def ended_sessions(session_keys) -> set[str]:
    """The keys, of those given, whose session no longer exists or has expired."""
    if not session_keys or not sessions_stored_in_database():
        return set()
    alive = Session.objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
    return set(session_keys) - set(alive.values_list("session_key", flat=True))


def revoked(accesses) -> set[Access]:
    """The accesses, of those given, that no longer hold: one query for the sessions, one for the memberships."""
    accesses = set(accesses)
    if not accesses:
        return set()
    ended = ended_sessions({access.session_key for access in accesses})
    rows = Membership.objects.filter(pk__in={access.membership_id for access in accesses}, tenant__active=True)
    current = {
        pk: (user_id, tenant_id, agent_id, is_active, password)
        for pk, user_id, tenant_id, agent_id, is_active, password in rows.values_list(
            "pk", "user_id", "tenant_id", "threecplus_agent_id", "user__is_active", "user__password"
        )
    }
    hashes = {}  # the session auth hash of each password, computed once per round
    gone = set()
    for access in accesses:
        row = current.get(access.membership_id)
        if access.session_key in ended or row is None:
            gone.add(access)
            continue
        user_id, tenant_id, agent_id, is_active, password = row
        if password not in hashes:
            hashes[password] = get_user_model()(password=password).get_session_auth_hash()
        still = (user_id, tenant_id, agent_id, is_active, hashes[password])
        if still != (access.user_id, access.tenant_id, access.agent_id, True, access.auth_hash):
            gone.add(access)
    return gone


def allowed(access: Access) -> bool:
    return not revoked([access])


def touch_and_check(membership_ids, accesses) -> set[Access]:
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
                gone = await async_db.run(touch_and_check, ids, {seat.access for seat in seats})
            except Exception:  # the database is away: the next round writes and checks again
                logger.warning("Não foi possível registrar os consoles abertos", exc_info=True)
                continue
            for seat in seats:
                if seat.access in gone:
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
