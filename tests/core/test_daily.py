"""The workers queue the daily jobs themselves, once a day, so no cron entry is needed."""

import datetime

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core.daily import queue_daily_tasks
from dashboard.models import RolledUpDay


def test_each_daily_task_is_queued_once_a_day_and_the_worker_runs_it(tenant, run_worker, settings):
    assert settings.WORKER_DAILY and "core.daily.queue_daily_tasks" in settings.WORKER_PERIODIC
    assert queue_daily_tasks() == settings.WORKER_DAILY
    assert queue_daily_tasks() == []  # the next beats of the day queue nothing
    assert DBTaskResult.objects.count() == len(settings.WORKER_DAILY)

    run_worker()
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    assert RolledUpDay.objects.filter(tenant=tenant, day=yesterday).exists()
    # The régua queues its own next run of the day (run_after: later): not a daily task left undone.
    ran = DBTaskResult.objects.exclude(status="READY", run_after__gt=timezone.now())
    assert set(ran.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert queue_daily_tasks() == []  # done today: nothing again until midnight

    DBTaskResult.objects.update(enqueued_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1))
    assert queue_daily_tasks() == settings.WORKER_DAILY  # a new day
