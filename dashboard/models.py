"""Daily roll-ups of the dashboard's big tables.

Every fact they count is keyed by the moment it was stored (a webhook's arrival, a tabulação's or an
export item's confirmation), so once a day is over its figures no longer change: each closed day is
rolled up once (by the worker after midnight, or by the first dashboard that needs it) and the
dashboard adds today's rows read live. The figures are therefore exact, not a cache.
"""

from django.conf import settings
from django.db import models

from tenants.models import TenantOwned


class RolledUpDay(TenantOwned):
    """A closed day whose roll-ups exist for the tenant."""

    day = models.DateField()
    rolled_up_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="rolled_up_day_unique")]


class CallRollup(TenantOwned):
    """Finished calls (call-history-was-created) per day, hour, creditor, campaign and agent."""

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    creditor_id = models.BigIntegerField(null=True)  # plain ids: a roll-up must not block deleting a creditor
    campaign_id = models.CharField(max_length=40, blank=True)
    agent_id = models.CharField(max_length=40, blank=True)
    dialled = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()
    talk_seconds = models.PositiveBigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="call_rollup_tenant_day")]


class DispositionRollup(TenantOwned):
    """Tabulações per day, creditor, operator and type; right-party comes from the type's flag when read."""

    day = models.DateField()
    creditor_id = models.BigIntegerField(null=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False)
    type_id = models.BigIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="disposition_rollup_tenant_day")]


class SentRollup(TenantOwned):
    """Clients confirmed sent to the dialer per day, creditor and campaign."""

    day = models.DateField()
    creditor_id = models.BigIntegerField(null=True)
    campaign_id = models.BigIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="sent_rollup_tenant_day")]
