import datetime

from django.tasks import task
from django.utils import timezone

from dashboard import rollups


@task
def roll_up_yesterday() -> int:
    """Roll up the day that just closed for every tenant, and any earlier day of the longest period left behind.

    Queued once a day by the workers (settings.WORKER_DAILY). Looking back the whole longest period costs one
    query once every day is there, and it is what rolls history up again after a migration that adds a
    roll-up; a dashboard that finds a day missing rolls it up itself, paying that request's time.
    """
    today = timezone.localdate()
    return rollups.ensure_rolled_up(
        None, today - datetime.timedelta(days=rollups.MAX_DAYS), today - datetime.timedelta(days=1)
    )


@task
def roll_up_today(tenant_id: int) -> str | None:
    """Roll today up to a few minutes ago for a tenant whose dashboard is open (queued by the dashboard)."""
    until = rollups.roll_up_today(tenant_id)
    return until.isoformat() if until else None
