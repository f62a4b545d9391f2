"""Which operators wait on this process's event streams, for the live panel's "aguardando ligação".

A polling console writes its membership's console_seen_at at most every few seconds (services.note_console_poll).
A stream costs nothing while it waits, so one task per event loop writes console_seen_at instead: for the
operators who just opened a stream within about a second (a burst of connections is one UPDATE), and for all of
its open streams every SEEN_EVERY_SECONDS (the panel counts a console seen in the last 10 s).
"""

import asyncio
import contextlib
import logging
import weakref
from collections import Counter

from django.utils import timezone

from common import async_db
from tenants.models import Membership

logger = logging.getLogger(__name__)
SEEN_EVERY_SECONDS = 5
JOINED_DELAY_SECONDS = 0.5  # the connections of a burst are written together


def touch(membership_ids) -> int:
    return Membership.objects.filter(pk__in=membership_ids).update(console_seen_at=timezone.now())


class Presence:
    def __init__(self):
        self.open: Counter[int] = Counter()
        self.joined: set[int] = set()
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

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
            if loop.time() >= due:
                ids, due = list(self.open), loop.time() + SEEN_EVERY_SECONDS
            else:
                ids = list(self.joined)
            self.joined.clear()
            try:
                await async_db.run(touch, ids)
            except Exception:  # the database is away: the next round writes again
                logger.warning("Não foi possível registrar os consoles abertos", exc_info=True)


_presences: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Presence]" = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def waiting(membership_id: int):
    """The operator counts as waiting at the console while this block lasts."""
    loop = asyncio.get_running_loop()
    presence = _presences.get(loop) or _presences.setdefault(loop, Presence())
    presence.add(membership_id)
    try:
        yield
    finally:
        presence.remove(membership_id)
