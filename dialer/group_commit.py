"""Group commit for the webhook: a 2xx means the delivery is on PostgreSQL's disk, at a thousand deliveries a second.

A synchronous commit waits for the WAL to reach the disk; paid once per delivery it caps ingestion at what the disk
flushes per second. Here the deliveries that arrive within DIALER_WEBHOOK_GROUP_COMMIT_MS of one another (at most
DIALER_WEBHOOK_GROUP_COMMIT_MAX) are stored in ONE transaction and one synchronous commit, and each is answered only
after that commit returned: one flush for the whole group. At most DIALER_WEBHOOK_GROUP_COMMIT_BATCHES groups commit
at once per process (the rest of the database threads stay free for the consoles' reads); while they do, the next
group gathers.

A group that fails (a deadlock between two groups holding the same call's retries, a lost prepared statement, a
bug in one delivery) is stored again one delivery per transaction, so one bad delivery costs only itself. A commit
that fails (the database crashed under it) answers every delivery of its group with an error (503): 3C Plus retries,
and a delivery that was committed after all is a repeat then. Never is a delivery answered 2xx before its commit.

PostgreSQL only: SQLite (the demo) has one writer and no group to gain; there each delivery commits alone.
"""

import asyncio
import logging
import weakref

from django.conf import settings
from django.db import DatabaseError, connections, transaction

from common import async_db
from dialer import calls

logger = logging.getLogger(__name__)


def available() -> bool:
    return settings.DIALER_WEBHOOK_GROUP_COMMIT and connections["default"].vendor == "postgresql"


def store_group(deliveries: list[tuple[str, bytes]]) -> list:
    """Each delivery's receive_webhook answer (or the exception it raised), the group stored in one transaction."""
    answers, follow_ups = commit_group(deliveries)
    follow_up(follow_ups)
    return answers


def commit_group(deliveries: list[tuple[str, bytes]]) -> tuple[list, list]:
    """(each delivery's answer or the exception it raised, the follow-ups still to do): the group stored in one
    transaction and committed. The follow-ups (calls.after_commit) are left to the caller, who answers first."""
    try:
        with transaction.atomic():
            stored = [calls.store_webhook(secret, raw) for secret, raw in deliveries]
    except Exception:  # a database error, or a bug one delivery brought: each again alone, in its own transaction
        if len(deliveries) == 1:
            raise
        return [alone(secret, raw) for secret, raw in deliveries], []
    answers, follow_ups = [], []
    for item in stored:
        if item is None:
            answers.append(None)
            continue
        answer, after = item
        answers.append(answer)
        if after is not None:
            follow_ups.append(after)
    return answers, follow_ups


def follow_up(follow_ups: list) -> None:
    """The committed deliveries' follow-ups (a history qualified inside 3C Plus becomes a tabulação), each in its
    own transactions."""
    for after in follow_ups:
        calls.after_commit(after)


def alone(secret: str, raw: bytes):
    try:
        return calls.receive_webhook(secret, raw)
    except Exception as error:  # handed to that delivery's request, which answers it (503 or 500)
        return error


class Group:
    """The deliveries of one event loop waiting for their group's commit."""

    def __init__(self):
        self.pending: list[tuple[str, bytes, asyncio.Future]] = []
        self.arrived = asyncio.Event()
        self.slots = asyncio.Semaphore(max(1, settings.DIALER_WEBHOOK_GROUP_COMMIT_BATCHES))
        self.task: asyncio.Task | None = None
        self.flushing: set[asyncio.Task] = set()

    async def submit(self, secret: str, raw: bytes):
        """receive_webhook(secret, raw), answered once the group holding it has committed."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append((secret, raw, future))
        self.arrived.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.gather(), name="webhook-group-commit")
        return await future

    async def gather(self) -> None:
        window = settings.DIALER_WEBHOOK_GROUP_COMMIT_MS / 1000
        largest = max(1, settings.DIALER_WEBHOOK_GROUP_COMMIT_MAX)
        while True:
            await self.arrived.wait()
            self.arrived.clear()
            await self.slots.acquire()
            if len(self.pending) < largest:
                await asyncio.sleep(window)  # a few milliseconds: the deliveries arriving meanwhile commit together
            # A delivery whose request gave up (its timeout, a 503) before its group formed is never stored.
            live = [item for item in self.pending if not item[2].done()]
            group, self.pending = live[:largest], live[largest:]
            if self.pending:
                self.arrived.set()
            if not group:
                self.slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self.flush(group))
            self.flushing.add(task)
            task.add_done_callback(self.flushing.discard)

    async def flush(self, group) -> None:
        try:
            answers, follow_ups = await async_db.run(commit_group, [(secret, raw) for secret, raw, _future in group])
        except BaseException as error:
            for _secret, _raw, future in group:
                if not future.done():
                    future.set_exception(error if isinstance(error, Exception) else DatabaseError(str(error)))
            if not isinstance(error, Exception):
                raise
        else:
            for (_secret, _raw, future), answer in zip(group, answers, strict=True):
                if future.done():
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
            # Answered, then the follow-ups: a group's tabulações never delay its 2xx (they are not what the 2xx
            # promises; a crash before them loses them as a crash between the commit and the answer always did).
            # The group's slot is held until they are done, so they cannot pile up behind a flow of deliveries.
            if follow_ups:
                try:
                    await async_db.run(follow_up, follow_ups)
                except Exception:
                    logger.exception("Seguimento das entregas do webhook não concluído")
        finally:
            self.slots.release()


_groups: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Group]" = weakref.WeakKeyDictionary()


async def receive(secret: str, raw: bytes):
    """receive_webhook(secret, raw) through this event loop's group commit."""
    loop = asyncio.get_running_loop()
    if loop not in _groups:
        _groups[loop] = Group()
    return await _groups[loop].submit(secret, raw)
