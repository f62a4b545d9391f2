"""A per-tenant job the workers' heartbeat runs every N seconds (the 3C Plus call reconciliation, the PSP's pull).

Every worker beats; the tenant's row of the job's model (a `tenant` one-to-one and a nullable `last_run_at`) is
claimed by a conditional update, so two workers never queue the same tenant's run twice."""

import datetime

from django.db.models import Q


def claim_due(model, tenant, every_seconds: float, now: datetime.datetime):
    """The tenant's job row when its last run is older than `every_seconds` (or none yet), now marked as run at
    `now` by this caller; None when it is not due or another worker claimed it first."""
    row, _created = model.objects.get_or_create(tenant=tenant)
    due_before = now - datetime.timedelta(seconds=every_seconds)
    claimed = (
        model.objects.filter(pk=row.pk)
        .filter(Q(last_run_at__isnull=True) | Q(last_run_at__lt=due_before))
        .update(last_run_at=now)
    )
    return row if claimed else None
