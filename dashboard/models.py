"""Daily roll-ups of the dashboard's big tables.

Every fact they count is keyed by the moment it was stored (a webhook's arrival, a tabulação's or an
export item's confirmation), so once a moment is past its figures no longer change: each closed day is
rolled up once (by the worker after midnight, or by the first dashboard that needs it), today is rolled
up to a few minutes ago by the worker while a dashboard is open, and the dashboard adds the rows stored
since, read live. The figures are therefore exact, not a cache.

Each table keeps only the dimensions its readers filter or group by, so that 30 days are a few thousand
rows whatever the filter: the calls per day (totals, daily chart, operators' table), per hour without the
agent (the hour-of-day chart) and at the full grain (the hour-of-day chart of one operator).
"""

from django.conf import settings
from django.db import models

from tenants.models import TenantOwned


class RolledUpDay(TenantOwned):
    """A day whose roll-ups exist for the tenant: the whole day once closed, or today up to `until`."""

    day = models.DateField()
    rolled_up_at = models.DateTimeField(auto_now=True)
    until = models.DateTimeField(null=True, blank=True)  # only while the day is open

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="rolled_up_day_unique")]


class CallRollup(TenantOwned):
    """Finished calls (call-history-was-created) per day, hour, creditor, campaign and agent.

    The finest grain, read only through the agent index: the hour-of-day chart of one operator.
    """

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    creditor_id = models.BigIntegerField(null=True)  # plain ids: a roll-up must not block deleting a creditor
    campaign_id = models.CharField(max_length=40, blank=True)
    agent_id = models.CharField(max_length=40, blank=True)
    dialled = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()
    talk_seconds = models.PositiveBigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "day"], name="call_rollup_tenant_day"),
            models.Index(fields=["tenant", "agent_id", "day"], name="call_rollup_agent_day"),
        ]


class CallDayRollup(TenantOwned):
    """Finished calls per day, creditor, campaign and agent: the totals, the daily chart, the operators."""

    day = models.DateField()
    creditor_id = models.BigIntegerField(null=True)
    campaign_id = models.CharField(max_length=40, blank=True)
    agent_id = models.CharField(max_length=40, blank=True)
    dialled = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()
    talk_seconds = models.PositiveBigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="call_day_rollup_tenant_day")]


class CallHourRollup(TenantOwned):
    """Finished calls per day, hour, creditor and campaign: the hour-of-day chart of every operator."""

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    creditor_id = models.BigIntegerField(null=True)
    campaign_id = models.CharField(max_length=40, blank=True)
    dialled = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="call_hour_rollup_tenant_day")]


class DispositionRollup(TenantOwned):
    """Tabulações per day, creditor, operator and type; right-party comes from the type's flag when read."""

    day = models.DateField()
    creditor_id = models.BigIntegerField(null=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False)
    type_id = models.BigIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="disposition_rollup_tenant_day")]


class DispositionCampaignRollup(TenantOwned):
    """Tabulações of clients sent to a campaign before them, per day, campaign, creditor, operator and type.

    A client sent to two campaigns counts in both: read with a campaign filter only.
    """

    day = models.DateField()
    campaign_id = models.BigIntegerField()
    creditor_id = models.BigIntegerField(null=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    type_id = models.BigIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "campaign_id", "day"], name="disposition_campaign_day")]


class SentRollup(TenantOwned):
    """Clients confirmed sent to the dialer per day, creditor and campaign."""

    day = models.DateField()
    creditor_id = models.BigIntegerField(null=True)
    campaign_id = models.BigIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="sent_rollup_tenant_day")]


class AgreementRollup(TenantOwned):
    """Agreements per day, creditor and operator: how many and their R$ (a total never changes).

    Their status does change, so the approval figures are read from the agreements themselves.
    """

    day = models.DateField()
    creditor_id = models.BigIntegerField()
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    count = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="agreement_rollup_tenant_day")]


class AgreementCampaignRollup(TenantOwned):
    """Agreements of clients sent to a campaign before them, per day, campaign, creditor and operator.

    A client sent to two campaigns counts in both: read with a campaign filter only.
    """

    day = models.DateField()
    campaign_id = models.BigIntegerField()
    creditor_id = models.BigIntegerField()
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    count = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["tenant", "campaign_id", "day"], name="agreement_campaign_day")]
