"""What a dashboard writes before it reads: the closed days it shows rolled up, today's roll-up asked of the worker.

The selectors only read; the page and the CSV get their figures here, so the roll-ups those read are there.
"""

import datetime

from django.utils import timezone

from core.task_leases import queued_since
from dashboard.rollups import ensure_rolled_up
from dashboard.selectors import Figures, Filters
from dashboard.tasks import roll_up_today

# While a dashboard is open the worker rolls today up again this often: the raw part stays a few minutes.
TODAY_REFRESH = datetime.timedelta(minutes=10)


def figures(f: Filters) -> Figures:
    """Every figure of the dashboard for `f`, read after its closed days are rolled up (an export's figures are
    all read raw: nothing to roll up for them)."""
    today = timezone.localdate()
    last_closed = min(f.end, today - datetime.timedelta(days=1))
    if f.export_id is None and f.start <= last_closed:
        # Before the reads' snapshot: a day another request rolls up meanwhile must be visible to them.
        ensure_rolled_up(f.tenant, f.start, last_closed)
    read = Figures(f)
    # Each tenant's today is rolled up to its own moment: with every tenant, today is read raw.
    if f.export_id is None and f.tenant is not None and f.start <= today <= f.end:
        _refresh_today(f.tenant, read.today_until)
    return read


def _refresh_today(tenant, until: datetime.datetime | None) -> None:
    """Ask the worker to roll today up when its roll-up (`until`, as the figures read it) is missing or older than
    TODAY_REFRESH, unless that was asked within TODAY_REFRESH."""
    since = timezone.now() - TODAY_REFRESH
    if until is not None and until >= since:
        return
    if not queued_since(roll_up_today, [tenant.pk], since):
        roll_up_today.enqueue(tenant.pk)


def summary(f: Filters) -> dict:
    return figures(f).summary()


def daily(f: Filters) -> list[dict]:
    return figures(f).daily()


def hourly(f: Filters) -> list[dict]:
    return figures(f).hourly()


def per_operator(f: Filters) -> list[dict]:
    return figures(f).per_operator()
