import datetime

from django.tasks import task
from django.utils import timezone


@task
def roll_up_yesterday() -> int:
    """Roll up the day that just closed for every tenant (and any earlier day of the week left behind).

    Queued once a day by the workers (settings.WORKER_DAILY); a dashboard that finds a day missing rolls it
    up itself, so a run that has not happened yet only costs that first request time.
    """
    from dashboard.rollups import ensure_rolled_up

    today = timezone.localdate()
    return ensure_rolled_up(None, today - datetime.timedelta(days=7), today - datetime.timedelta(days=1))
