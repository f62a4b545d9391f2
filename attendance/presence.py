"""Which operators wait on this process's event streams, for the live panel's "aguardando ligação".

A polling console writes its membership's console_seen_at at most every few seconds (services.note_console_poll).
A stream costs nothing while it waits, so one task per event loop writes console_seen_at instead: for the
operators who just opened a stream within about a second (a burst of connections is one UPDATE), and for all of
its open streams every SEEN_EVERY_SECONDS (the panel counts a console seen in the last 10 s).

The same round asks which of the streams' sessions have ended (a logout, an expiry, a login elsewhere that
replaced the session, an administrator deleting it): those streams are told to close, so a signed-out console
stops receiving calls within seconds instead of at its next reconnection.
"""

import asyncio
import contextlib
import logging
import weakref
from collections import Counter

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from common import async_db
from tenants.models import Membership

logger = logging.getLogger(__name__)
SEEN_EVERY_SECONDS = 5
JOINED_DELAY_SECONDS = 0.5  # the connections of a burst are written together


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


def touch_and_check(membership_ids, session_keys) -> set[str]:
    touch(membership_ids)
    return ended_sessions(session_keys)


class Seat:
    """One open stream as presence sees it: `ended` turns true (and `on_end` is called) when its session ends."""

    def __init__(self, session_key: str, on_end):
        self.session_key = session_key
        self.on_end = on_end
        self.ended = False

    def end(self) -> None:
        self.ended = True
        if self.on_end:
            self.on_end()


class Presence:
    def __init__(self):
        self.open: Counter[int] = Counter()
        self.joined: set[int] = set()
        self.seats: dict[str, set[Seat]] = {}
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

    def add_seat(self, seat: Seat) -> None:
        if seat.session_key:
            self.seats.setdefault(seat.session_key, set()).add(seat)

    def remove_seat(self, seat: Seat) -> None:
        group = self.seats.get(seat.session_key)
        if group is not None:
            group.discard(seat)
            if not group:
                del self.seats[seat.session_key]

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
            keys = []
            if loop.time() >= due:
                ids, due, keys = list(self.open), loop.time() + SEEN_EVERY_SECONDS, list(self.seats)
            else:
                ids = list(self.joined)
            self.joined.clear()
            try:
                ended = await async_db.run(touch_and_check, ids, keys)
            except Exception:  # the database is away: the next round writes again
                logger.warning("Não foi possível registrar os consoles abertos", exc_info=True)
                continue
            for key in ended:
                for seat in list(self.seats.get(key, ())):
                    seat.end()


_presences: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Presence]" = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def waiting(membership_id: int, session_key: str = "", on_end=None):
    """The operator counts as waiting at the console while this block lasts. Yields a Seat whose `ended` turns
    true, and `on_end()` is called, when the session `session_key` ends (checked every SEEN_EVERY_SECONDS)."""
    loop = asyncio.get_running_loop()
    presence = _presences.get(loop) or _presences.setdefault(loop, Presence())
    seat = Seat(session_key, on_end)
    presence.add_seat(seat)
    presence.add(membership_id)
    try:
        yield seat
    finally:
        presence.remove(membership_id)
        presence.remove_seat(seat)
