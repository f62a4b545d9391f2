"""Rolling up days (see dashboard.models): closed days by the worker after midnight or on demand, today up to
a few minutes ago by the worker while a dashboard is open."""

import datetime
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, ExtractHour
from django.utils import timezone

from attendance.models import Agreement, CallDisposition
from dashboard.models import (
    AgreementCampaignRollup,
    AgreementRollup,
    CallDayRollup,
    CallHourRollup,
    CallRollup,
    DispositionCampaignRollup,
    DispositionRollup,
    RolledUpDay,
    SentRollup,
)
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem
from tenants.models import Tenant

ANSWERED_STATUS = "7"  # call history status: finished with an agent
# Today is rolled up to this long before the roll-up runs: a webhook's or a tabulação's transaction is
# committed by then, so no row stamped before `until` can still appear after the roll-up read the day.
TODAY_MARGIN = datetime.timedelta(minutes=2)
# Agreements that never were deals: the panel counts neither, whatever day they were made on.
NOT_DEALS = (Agreement.Status.REJECTED, Agreement.Status.CANCELLED)
# The longest period a dashboard shows: the worker keeps that many closed days rolled up.
MAX_DAYS = 366


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))
    return start, end


def sent_items_between(tenant_id, start, end):
    """Items confirmed between start and end, found through the exports running then.

    Items are indexed by export only (their batch updates stay HOT), so the walk goes export by export.
    """
    exports = DialerExport.objects.filter(tenant_id=tenant_id, created_at__lt=end).filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=start)
    )
    return DialerExportItem.objects.filter(
        export_id__in=list(exports.values_list("pk", flat=True)),
        status=DialerExportItem.Status.SENT,
        sent_at__gte=start,
        sent_at__lt=end,
    )


def roll_up(tenant_id: int, day: datetime.date, until: datetime.datetime | None = None) -> None:
    """(Re)build one day's roll-ups for one tenant: a closed day whole, or today up to `until`.

    Today's sent items are not rolled up: an export's batches stamp `sent_at` inside transactions that may
    outlast TODAY_MARGIN, and today's are few (read through the exports running today).
    """
    start, end = day_bounds(day)
    if until is None and day >= timezone.localdate():
        raise ValueError("Só dias encerrados entram inteiros nos totais diários.")
    if until is not None and not start <= until <= end:
        raise ValueError("O limite parcial precisa estar dentro do dia.")
    end = until or end
    calls = (
        DialerCallEvent.objects.filter(
            tenant_id=tenant_id, event=DialerCallEvent.Event.HISTORY, received_at__gte=start, received_at__lt=end
        )
        .annotate(hour=ExtractHour("received_at"), creditor=F("client__creditor_id"))
        .values("hour", "creditor", "campaign_id", "agent_id")
        .annotate(**call_measures())
        .order_by()
    )
    calls = list(calls)
    # The coarser tables are sums of the finest grain: no second pass over the events.
    by_day = defaultdict(lambda: [0, 0, 0])
    by_hour = defaultdict(lambda: [0, 0])
    for row in calls:
        day_row = by_day[row["creditor"], row["campaign_id"], row["agent_id"]]
        hour_row = by_hour[row["hour"], row["creditor"], row["campaign_id"]]
        day_row[0] += row["dialled"]
        day_row[1] += row["answered"]
        day_row[2] += row["talk"]
        hour_row[0] += row["dialled"]
        hour_row[1] += row["answered"]
    tabs = (
        CallDisposition.objects.filter(tenant_id=tenant_id, created_at__gte=start, created_at__lt=end)
        .annotate(creditor=F("client__creditor_id"))
        .values("creditor", "operator_id", "type_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    # One row per campaign the client had been sent to (by an export made before the tabulação); DISTINCT
    # because a client may be in several exports of the same campaign.
    campaign_tabs = (
        CallDisposition.objects.filter(
            tenant_id=tenant_id,
            created_at__gte=start,
            created_at__lt=end,
            client__dialer_items__export__created_at__lte=F("created_at"),
        )
        .values(
            "operator_id", "type_id", campaign=F("client__dialer_items__campaign_id"), creditor=F("client__creditor_id")
        )
        .annotate(n=Count("pk", distinct=True))
        .order_by()
    )
    deals = (
        Agreement.objects.filter(tenant_id=tenant_id, created_at__gte=start, created_at__lt=end)
        .exclude(status__in=NOT_DEALS)
        .values("creditor_id", "operator_id")
        .annotate(n=Count("pk"), amount=Sum("total"))
        .order_by()
    )
    # As for the tabulações; summed here because the join would repeat an agreement's total.
    campaign_deals = defaultdict(lambda: [0, 0])
    for _, campaign, creditor, operator, total in (
        Agreement.objects.filter(
            tenant_id=tenant_id,
            created_at__gte=start,
            created_at__lt=end,
            client__dialer_items__export__created_at__lte=F("created_at"),
        )
        .exclude(status__in=NOT_DEALS)
        .values_list("pk", "client__dialer_items__campaign_id", "creditor_id", "operator_id", "total")
        .distinct()
        .order_by()
    ):
        bucket = campaign_deals[campaign, creditor, operator]
        bucket[0] += 1
        bucket[1] += total
    sent = (
        sent_items_between(tenant_id, start, end)
        .annotate(creditor=F("client__creditor_id"))
        .values("creditor", "campaign_id")
        .annotate(n=Count("pk"))
        .order_by()
        if until is None
        else []
    )
    with transaction.atomic():
        # Claiming the day first makes a concurrent roll-up of the same day wait here, then fail on the
        # unique constraint and roll back, instead of adding its rows to ours.
        RolledUpDay.objects.filter(tenant_id=tenant_id, day=day).delete()
        RolledUpDay.objects.create(tenant_id=tenant_id, day=day, until=until)
        for model in (
            AgreementRollup,
            AgreementCampaignRollup,
            CallRollup,
            CallDayRollup,
            CallHourRollup,
            DispositionRollup,
            DispositionCampaignRollup,
            SentRollup,
        ):
            model.objects.filter(tenant_id=tenant_id, day=day).delete()
        CallRollup.objects.bulk_create(
            CallRollup(
                tenant_id=tenant_id,
                day=day,
                hour=row["hour"],
                creditor_id=row["creditor"],
                campaign_id=row["campaign_id"],
                agent_id=row["agent_id"],
                dialled=row["dialled"],
                answered=row["answered"],
                talk_seconds=row["talk"],
            )
            for row in calls
        )
        CallDayRollup.objects.bulk_create(
            CallDayRollup(
                tenant_id=tenant_id,
                day=day,
                creditor_id=creditor,
                campaign_id=campaign,
                agent_id=agent,
                dialled=dialled,
                answered=answered,
                talk_seconds=talk,
            )
            for (creditor, campaign, agent), (dialled, answered, talk) in by_day.items()
        )
        CallHourRollup.objects.bulk_create(
            CallHourRollup(
                tenant_id=tenant_id,
                day=day,
                hour=hour,
                creditor_id=creditor,
                campaign_id=campaign,
                dialled=dialled,
                answered=answered,
            )
            for (hour, creditor, campaign), (dialled, answered) in by_hour.items()
        )
        DispositionRollup.objects.bulk_create(
            DispositionRollup(
                tenant_id=tenant_id,
                day=day,
                creditor_id=row["creditor"],
                operator_id=row["operator_id"],
                type_id=row["type_id"],
                count=row["n"],
            )
            for row in tabs
        )
        DispositionCampaignRollup.objects.bulk_create(
            DispositionCampaignRollup(
                tenant_id=tenant_id,
                day=day,
                campaign_id=row["campaign"],
                creditor_id=row["creditor"],
                operator_id=row["operator_id"],
                type_id=row["type_id"],
                count=row["n"],
            )
            for row in campaign_tabs
        )
        AgreementRollup.objects.bulk_create(
            AgreementRollup(
                tenant_id=tenant_id,
                day=day,
                creditor_id=row["creditor_id"],
                operator_id=row["operator_id"],
                count=row["n"],
                amount=row["amount"],
            )
            for row in deals
        )
        AgreementCampaignRollup.objects.bulk_create(
            AgreementCampaignRollup(
                tenant_id=tenant_id,
                day=day,
                campaign_id=campaign,
                creditor_id=creditor,
                operator_id=operator,
                count=count,
                amount=amount,
            )
            for (campaign, creditor, operator), (count, amount) in campaign_deals.items()
        )
        SentRollup.objects.bulk_create(
            SentRollup(
                tenant_id=tenant_id,
                day=day,
                creditor_id=row["creditor"],
                campaign_id=row["campaign_id"],
                count=row["n"],
            )
            for row in sent
        )


def uncount_agreement(agreement: Agreement) -> None:
    """An agreement rejected or cancelled after its day was rolled up leaves that day's stored figures: the
    day is not rolled up again once closed, and the panel must not keep counting it as a deal."""
    day = timezone.localdate(agreement.created_at)
    rolled = RolledUpDay.objects.filter(tenant_id=agreement.tenant_id, day=day).values_list("until", flat=True)
    if not any(until is None or until > agreement.created_at for until in rolled):
        return  # not in the stored rows: the live part of the panel reads its status
    less = {"count": F("count") - 1, "amount": F("amount") - agreement.total}
    AgreementRollup.objects.filter(
        tenant_id=agreement.tenant_id,
        day=day,
        creditor_id=agreement.creditor_id,
        operator_id=agreement.operator_id,
        count__gt=0,
    ).update(**less)
    campaigns = (
        DialerExportItem.objects.filter(client_id=agreement.client_id, export__created_at__lte=agreement.created_at)
        .values_list("campaign_id", flat=True)
        .distinct()
        .order_by()
    )
    AgreementCampaignRollup.objects.filter(
        tenant_id=agreement.tenant_id,
        day=day,
        campaign_id__in=list(campaigns),
        creditor_id=agreement.creditor_id,
        operator_id=agreement.operator_id,
        count__gt=0,
    ).update(**less)


def call_measures() -> dict:
    """What the panel counts of a group of finished calls, as annotations: the roll-ups and the raw part alike."""
    return {
        "dialled": Count("pk"),
        "answered": Count("pk", filter=Q(status=ANSWERED_STATUS)),
        "talk": Coalesce(Sum("duration_seconds"), 0),
    }


def ensure_rolled_up(tenant, start: datetime.date, end: datetime.date) -> int:
    """Roll up the closed days of the range not rolled up yet (every tenant when `tenant` is None)."""
    last_closed = min(end, timezone.localdate() - datetime.timedelta(days=1))
    if start > last_closed:
        return 0
    tenant_ids = [tenant.pk] if tenant is not None else list(Tenant.objects.values_list("pk", flat=True))
    whole = RolledUpDay.objects.filter(tenant_id__in=tenant_ids, day__gte=start, day__lte=last_closed, until=None)
    done = set(whole.values_list("tenant_id", "day"))  # a day rolled up while open is rolled up again, whole
    count = 0
    for tenant_id in tenant_ids:
        day = start
        while day <= last_closed:
            if (tenant_id, day) not in done:
                try:
                    roll_up(tenant_id, day)
                    count += 1
                except IntegrityError:
                    pass  # another request or the worker rolled this day up at the same moment

            day += datetime.timedelta(days=1)
    return count


def roll_up_today(tenant_id: int, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """Roll today up to TODAY_MARGIN ago for one tenant; the dashboard reads the rows stored since then live."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    until = now - TODAY_MARGIN
    if until < day_bounds(today)[0]:
        return None  # just past midnight: nothing of today is old enough yet
    try:
        roll_up(tenant_id, today, until=until)
    except IntegrityError:
        return None  # another worker rolled today up at the same moment
    return until
