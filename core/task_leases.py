"""The task queue's lease: a running task holds it while its worker's heartbeat is fresh.

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again: a worker killed (or
whose task loop died) mid-task leaves it RUNNING for good, and the removal, qualification or daily breakage
behind it waits for a human. Every worker's beat runs `sweep_orphaned_tasks`, which puts such a task back in
the queue; the work behind each task is idempotent (a removal or a qualification no longer pending, an agreement
already broken, an export or import resumed from its checkpoint do nothing the second time).

The apps' own sweeps use `queued_ids` to find work whose task was lost before it was even queued (the database
went away between a commit and its enqueue); `queued_since` tells an app whether it asked for a call lately. The
queue's table is read here only: the other apps ask these functions.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

READY, RUNNING, FAILED = "READY", "RUNNING", "FAILED"
# A task whose workers died this many times is left failed: it is more likely killing them than unlucky.
MAX_RUNS = 5
# Exceptions that say the database went away, not that the task is wrong (Django wraps psycopg's and sqlite3's).
OUTAGE_ERRORS = {"django.db.utils.OperationalError", "django.db.utils.InterfaceError"}


def orphaned_tasks(now=None):
    """RUNNING tasks whose worker is gone: it has not beaten for WORKER_STALE_SECONDS (and the task was claimed
    before that, so a worker that has just started and not yet beaten is not taken for dead), or its process
    started after it claimed the task (a worker restarted under the same --worker-id)."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    live = dict(WorkerHeartbeat.objects.filter(last_seen__gte=since).values_list("worker_id", "started_at"))
    orphans = []
    for pk, workers, started_at in DBTaskResult.objects.filter(status=RUNNING).values_list(
        "pk", "worker_ids", "started_at"
    ):
        worker = workers[-1] if workers else None
        claimed = started_at or now
        if (worker in live and claimed < live[worker]) or (worker not in live and claimed < since):
            orphans.append(pk)
    return orphans


def sweep_orphaned_tasks() -> list[str]:
    """Queue again the tasks whose worker died while running them (run by every worker at each heartbeat)."""
    requeued = []
    for pk in orphaned_tasks():
        with transaction.atomic():
            # Several workers sweep: the row lock (skipped when taken) lets one of them have it.
            task = DBTaskResult.objects.select_for_update(skip_locked=True).filter(pk=pk, status=RUNNING).first()
            if task is None:
                continue
            if requeue(task, RUNNING, reason="o worker parou"):
                requeued.append(str(pk))
    return requeued


def requeue(task: DBTaskResult, status: str, *, reason: str, delay: float = 0) -> bool:
    """Put a task interrupted by its worker's death or a database outage back in the queue; after MAX_RUNS
    interrupted runs it is marked failed instead, with the reason."""
    runs = len(task.worker_ids or [])
    if runs >= MAX_RUNS:
        DBTaskResult.objects.filter(pk=task.pk, status=status).update(
            status=FAILED,
            finished_at=timezone.now(),
            exception_class_path="core.task_leases.Interrupted",
            traceback=f"Interrompida {runs} vezes ({reason}).",
        )
        logger.error("Tarefa %s (%s) interrompida %s vezes: marcada como falha", task.pk, task.task_path, runs)
        return False
    updated = DBTaskResult.objects.filter(pk=task.pk, status=status).update(
        status=READY,
        run_after=timezone.now() + timedelta(seconds=delay),
        finished_at=None,
        exception_class_path="",
        traceback="",
    )
    if updated:
        logger.warning("Tarefa %s (%s) de volta à fila: %s", task.pk, task.task_path, reason)
    return bool(updated)


def queued_ids(task) -> set:
    """The first argument (an object's id) of every queued or running call of `task`: the objects whose
    work is in hand. The queue holds at most the backlog, so reading it is cheap."""
    args = DBTaskResult.objects.filter(task_path=task.module_path, status__in=[READY, RUNNING]).values_list(
        "args_kwargs", flat=True
    )
    return {value["args"][0] for value in args if value.get("args")}


def queued_since(task, args: list, since) -> bool:
    """Whether a call of `task` with these arguments was queued at or after `since`, whatever became of it."""
    return DBTaskResult.objects.filter(
        task_path=task.module_path, args_kwargs__args=args, enqueued_at__gte=since
    ).exists()
