"""Daily jobs queued by the workers themselves: django-tasks-db has no scheduler, and a cron entry is one
more thing an agency's deployment can forget.

Every worker's heartbeat calls `queue_daily_tasks` (the first beat comes as a worker starts, so a day's task that
no worker was up to queue runs when one next starts). A task of settings.WORKER_DAILY is queued when none of its
runs since local midnight succeeded or is queued or running; a run that failed (the database restarted under the
breakage) is queued again after WORKER_DAILY_RETRY_SECONDS, and one whose worker died is put back by
core.task_leases. Two workers beating at the same instant may both queue it: the daily tasks are idempotent (a
roll-up or a breakage of the same day does nothing the second time) and resume where an interrupted run stopped.
"""

import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult


def local_midnight() -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time()))


def queue_daily_tasks() -> list[str]:
    midnight = local_midnight()
    retry_after = timezone.now() - datetime.timedelta(seconds=settings.WORKER_DAILY_RETRY_SECONDS)
    queued = []
    for path in settings.WORKER_DAILY:
        task = import_string(path)
        in_hand = Q(status__in=["READY", "RUNNING", "SUCCESSFUL"]) | Q(status="FAILED", finished_at__gte=retry_after)
        if not DBTaskResult.objects.filter(in_hand, task_path=task.module_path, enqueued_at__gte=midnight).exists():
            task.enqueue()
            queued.append(path)
    return queued


def missed_daily_tasks(oldest_worker_start: datetime.datetime | None) -> list[str]:
    """The daily tasks with no successful run today although a worker has been up for WORKER_DAILY_GRACE_SECONDS
    of it (for /healthz; with no worker up, /healthz already says so)."""
    if oldest_worker_start is None:
        return []
    since = max(local_midnight(), oldest_worker_start)
    if timezone.now() - since < datetime.timedelta(seconds=settings.WORKER_DAILY_GRACE_SECONDS):
        return []
    missed = []
    for path in settings.WORKER_DAILY:
        task = import_string(path)
        done = DBTaskResult.objects.filter(
            task_path=task.module_path, status="SUCCESSFUL", finished_at__gte=local_midnight()
        )
        if not done.exists():
            missed.append(path)
    return missed
