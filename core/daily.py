"""Daily jobs queued by the workers themselves: django-tasks-db has no scheduler, and a cron entry is one
more thing an agency's deployment can forget.

Every worker's heartbeat calls `queue_daily_tasks`; a task of settings.WORKER_DAILY is queued when none of
its runs was queued since local midnight. Two workers beating at the same instant may both queue it: the
daily tasks are idempotent (a roll-up or a breakage of the same day does nothing the second time).
"""

import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult


def queue_daily_tasks() -> list[str]:
    midnight = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time()))
    queued = []
    for path in settings.WORKER_DAILY:
        task = import_string(path)
        if not DBTaskResult.objects.filter(task_path=task.module_path, enqueued_at__gte=midnight).exists():
            task.enqueue()
            queued.append(path)
    return queued
