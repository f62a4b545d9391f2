"""The supervisor's figures: one place computes each rate, the home page, the CSV and the funnel read it.

Definitions (the tests count them by hand):
- sent: export items confirmed by 3C Plus (status "enviado") in the period, by `sent_at`;
- dialled: `call-history-was-created` events (3C Plus sends one per finished call, answered or not);
- answered: those whose status is 7, "finished with an agent" (5 not answered, 6 abandoned, 8 failed,
  9 voicemail); contact rate = answered / dialled;
- right-party: tabulações whose type is flagged `debtor_contact`; the rate is over all tabulações;
- agreements by `created_at`; approval rate = of the agreements beyond the creditor's rules, the approved
  (active, paid off or later broken) over the decided (approved + rejected); cancelled ones count in neither;
- payments received by `paid_on`; recovery rate = received / open balance of the exports created in the
  period (only without a creditor or operator filter: an export's balance is not split by either).
"""

import dataclasses
import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, ExtractHour, TruncDate
from django.utils import timezone

from attendance.models import Agreement, CallDisposition, DispositionType, Payment
from dashboard.models import CallRollup, DispositionRollup, SentRollup
from dashboard.rollups import ANSWERED_STATUS, ensure_rolled_up, sent_items_between
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem, WebhookDelivery
from tenants.models import Membership, Role, Tenant

APPROVED_STATUSES = (Agreement.Status.ACTIVE, Agreement.Status.COMPLETED, Agreement.Status.BROKEN)
ZERO = Decimal("0")


@dataclasses.dataclass(frozen=True)
class Filters:
    tenant: object | None  # None: every tenant (only superusers get here)
    start: datetime.date
    end: datetime.date  # inclusive
    creditor_id: int | None = None
    campaign_id: int | None = None
    operator_id: int | None = None
    export_id: int | None = None

    @property
    def start_at(self) -> datetime.datetime:
        return _local_midnight(self.start)

    @property
    def end_at(self) -> datetime.datetime:
        return _local_midnight(self.end + datetime.timedelta(days=1))

    def days(self) -> list[datetime.date]:
        return [self.start + datetime.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def rate(part, whole) -> Decimal | None:
    """A percentage with one decimal place, or None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(100) * Decimal(part) / Decimal(whole)).quantize(Decimal("0.1"))


def _tenant(queryset, f: Filters, field="tenant"):
    return queryset if f.tenant is None else queryset.filter(**{field: f.tenant})


def _export(f: Filters) -> DialerExport | None:
    if f.export_id is None:
        return None
    return _tenant(DialerExport.objects.all(), f).filter(pk=f.export_id).first()


def _sent_to(f: Filters, client_ref: str, at_field: str):
    """Exists(): the row's client was in the chosen export (sent before the row) or sent to the chosen campaign."""
    items = DialerExportItem.objects.filter(client_id=OuterRef(client_ref))
    if f.export_id is not None:
        export = _export(f)
        if export is None:
            return Q(pk__in=[])
        items = items.filter(export_id=export.pk)
        since = timezone.localdate(export.created_at) if at_field == "paid_on" else export.created_at
        return Exists(items) & Q(**{f"{at_field}__gte": since})
    return Exists(items.filter(campaign_id=f.campaign_id))


def _agent_ids(f: Filters) -> list[str]:
    memberships = _tenant(Membership.objects.filter(user_id=f.operator_id), f)
    return [agent for agent in memberships.values_list("threecplus_agent_id", flat=True) if agent]


def sent_items(f: Filters):
    if f.export_id is not None:
        items = _tenant(DialerExportItem.objects.all(), f).filter(
            export_id=f.export_id,
            status=DialerExportItem.Status.SENT,
            sent_at__gte=f.start_at,
            sent_at__lt=f.end_at,
        )
    else:
        tenant_ids = [f.tenant.pk] if f.tenant is not None else _all_tenant_ids()
        items = DialerExportItem.objects.none()
        for tenant_id in tenant_ids:
            items = items | sent_items_between(tenant_id, f.start_at, f.end_at)
    if f.creditor_id is not None:
        items = items.filter(client__creditor_id=f.creditor_id)
    if f.campaign_id is not None:
        items = items.filter(campaign_id=f.campaign_id)
    return items


def _all_tenant_ids() -> list[int]:
    return list(Tenant.objects.values_list("pk", flat=True))


def calls(f: Filters, *, operator=True):
    events = _tenant(DialerCallEvent.objects.all(), f).filter(
        event=DialerCallEvent.Event.HISTORY, received_at__gte=f.start_at, received_at__lt=f.end_at
    )
    if f.creditor_id is not None:
        events = events.filter(client__creditor_id=f.creditor_id)
    if f.campaign_id is not None:
        events = events.filter(campaign_id=str(f.campaign_id))
    if f.export_id is not None:
        export = _export(f)
        if export is None:
            return events.none()
        events = events.filter(_sent_to(f, "client_id", "received_at"), campaign_id=str(export.campaign_id))
    if operator and f.operator_id is not None:
        events = events.filter(agent_id__in=_agent_ids(f))
    return events


def _recorded(model, f: Filters, *, creditor_field: str, operator: bool):
    """Tabulações or agreements recorded in the period, by creditor, campaign or export and operator."""
    rows = _tenant(model.objects.all(), f).filter(created_at__gte=f.start_at, created_at__lt=f.end_at)
    if f.creditor_id is not None:
        rows = rows.filter(**{creditor_field: f.creditor_id})
    if f.campaign_id is not None or f.export_id is not None:
        rows = rows.filter(_sent_to(f, "client_id", "created_at"))
    if operator and f.operator_id is not None:
        rows = rows.filter(operator_id=f.operator_id)
    return rows


def dispositions(f: Filters, *, operator=True):
    return _recorded(CallDisposition, f, creditor_field="client__creditor_id", operator=operator)


def agreements(f: Filters, *, operator=True):
    return _recorded(Agreement, f, creditor_field="creditor_id", operator=operator)


def payments(f: Filters):
    rows = _tenant(Payment.objects.all(), f).filter(paid_on__gte=f.start, paid_on__lte=f.end)
    if f.creditor_id is not None:
        rows = rows.filter(client__creditor_id=f.creditor_id)
    if f.campaign_id is not None or f.export_id is not None:
        rows = rows.filter(_sent_to(f, "client_id", "paid_on"))
    if f.operator_id is not None:
        rows = rows.filter(installment__agreement__operator_id=f.operator_id)
    return rows


def sent_balance(f: Filters) -> Decimal | None:
    if f.creditor_id is not None or f.operator_id is not None:
        return None
    exports = _tenant(DialerExport.objects.all(), f).filter(created_at__gte=f.start_at, created_at__lt=f.end_at)
    if f.campaign_id is not None:
        exports = exports.filter(campaign_id=f.campaign_id)
    if f.export_id is not None:
        exports = _tenant(DialerExport.objects.all(), f).filter(pk=f.export_id)
    return exports.aggregate(total=Sum("open_balance"))["total"] or ZERO


def agreement_figures(rows) -> dict:
    beyond_rules = ~Q(approval_reasons=[])
    figures = rows.aggregate(
        count=Count("pk"),
        amount=Sum("total"),
        approved=Count("pk", filter=beyond_rules & Q(status__in=APPROVED_STATUSES)),
        rejected=Count("pk", filter=beyond_rules & Q(status=Agreement.Status.REJECTED)),
    )
    figures["amount"] = figures["amount"] or ZERO
    figures["approval_rate"] = rate(figures["approved"], figures["approved"] + figures["rejected"])
    return figures


def _split(f: Filters) -> tuple[Filters | None, Filters | None]:
    """The closed days of the period (read from the roll-ups) and today (read live), either possibly absent."""
    today = timezone.localdate()
    last_closed = min(f.end, today - datetime.timedelta(days=1))
    closed = None
    if f.start <= last_closed:
        ensure_rolled_up(f.tenant, f.start, last_closed)
        closed = dataclasses.replace(f, end=last_closed)
    live = dataclasses.replace(f, start=today, end=today) if f.start <= today <= f.end else None
    return closed, live


def _grouped(queryset, keys, **aggregates) -> list[dict]:
    """GROUP BY `keys`, or one total row without keys (values() with no field would select every column)."""
    if not keys:
        return [queryset.aggregate(**aggregates)]
    return list(queryset.values(*keys).annotate(**aggregates).order_by())


def _add(totals: dict, rows, keys, fields) -> None:
    for row in rows:
        key = tuple(row[k] for k in keys)
        bucket = totals.setdefault(key, dict.fromkeys(fields, 0))
        for field in fields:
            bucket[field] += row[field] or 0


CALL_FIELDS = ("dialled", "answered", "talk")
RAW_CALL_KEYS = {"day": TruncDate("received_at"), "hour": ExtractHour("received_at")}


def _raw_call_totals(events, keys):
    annotations = {k: RAW_CALL_KEYS[k] for k in keys if k in RAW_CALL_KEYS}
    return _grouped(
        events.annotate(**annotations),
        keys,
        dialled=Count("pk"),
        answered=Count("pk", filter=Q(status=ANSWERED_STATUS)),
        talk=Coalesce(Sum("duration_seconds"), 0),
    )


def call_totals(f: Filters, keys=(), *, operator=True) -> dict[tuple, dict]:
    """Dialled, answered and talk seconds grouped by `keys` (day, hour, agent_id, tenant_id)."""
    totals = {}
    if f.export_id is not None:  # an export's calls are few: read them live
        _add(totals, _raw_call_totals(calls(f, operator=operator), keys), keys, CALL_FIELDS)
        return totals
    closed, live = _split(f)
    if closed:
        rows = _tenant(CallRollup.objects.all(), f).filter(day__gte=closed.start, day__lte=closed.end)
        if f.creditor_id is not None:
            rows = rows.filter(creditor_id=f.creditor_id)
        if f.campaign_id is not None:
            rows = rows.filter(campaign_id=str(f.campaign_id))
        if operator and f.operator_id is not None:
            rows = rows.filter(agent_id__in=_agent_ids(f))
        rows = _grouped(rows, keys, dialled=Sum("dialled"), answered=Sum("answered"), talk=Sum("talk_seconds"))
        _add(totals, rows, keys, CALL_FIELDS)
    if live:
        _add(totals, _raw_call_totals(calls(live, operator=operator), keys), keys, CALL_FIELDS)
    return totals


def _flagged_types() -> set[int]:
    return set(DispositionType.objects.filter(debtor_contact=True).values_list("pk", flat=True))


def disposition_totals(f: Filters, keys=(), *, operator=True) -> dict[tuple, dict]:
    """Tabulações and right-party tabulações grouped by `keys` (day, operator_id, type_id)."""
    flagged = _flagged_types()
    group = (*keys, "type_id") if "type_id" not in keys else keys
    counted = {}
    by_campaign = f.campaign_id is not None or f.export_id is not None
    closed, live = (None, f) if by_campaign else _split(f)
    if closed:
        rows = _tenant(DispositionRollup.objects.all(), f).filter(day__gte=closed.start, day__lte=closed.end)
        if f.creditor_id is not None:
            rows = rows.filter(creditor_id=f.creditor_id)
        if operator and f.operator_id is not None:
            rows = rows.filter(operator_id=f.operator_id)
        _add(counted, rows.values(*group).annotate(n=Sum("count")).order_by(), group, ("n",))
    if live:
        raw = dispositions(live, operator=operator)
        if "day" in group:
            raw = raw.annotate(day=TruncDate("created_at"))
        _add(counted, raw.values(*group).annotate(n=Count("pk")).order_by(), group, ("n",))
    totals = {}
    for key, value in counted.items():
        row = dict(zip(group, key, strict=True))
        bucket = totals.setdefault(tuple(row[k] for k in keys), {"total": 0, "right_party": 0})
        bucket["total"] += value["n"]
        if row["type_id"] in flagged:
            bucket["right_party"] += value["n"]
    return totals


def sent_total(f: Filters) -> int:
    if f.export_id is not None:
        return sent_items(f).count()
    total = 0
    closed, live = _split(f)
    if closed:
        rows = _tenant(SentRollup.objects.all(), f).filter(day__gte=closed.start, day__lte=closed.end)
        if f.creditor_id is not None:
            rows = rows.filter(creditor_id=f.creditor_id)
        if f.campaign_id is not None:
            rows = rows.filter(campaign_id=f.campaign_id)
        total += rows.aggregate(n=Sum("count"))["n"] or 0
    if live:
        total += sent_items(live).count()
    return total


def summary(f: Filters) -> dict:
    call_figures = call_totals(f).get((), dict.fromkeys(CALL_FIELDS, 0))
    tab = disposition_totals(f).get((), {"total": 0, "right_party": 0})
    received = payments(f).aggregate(total=Sum("amount"))["total"] or ZERO
    balance = sent_balance(f)
    return {
        "sent": sent_total(f),
        "dialled": call_figures["dialled"],
        "answered": call_figures["answered"],
        "contact_rate": rate(call_figures["answered"], call_figures["dialled"]),
        "dispositions": tab["total"],
        "right_party": tab["right_party"],
        "right_party_rate": rate(tab["right_party"], tab["total"]),
        "agreements": agreement_figures(agreements(f)),
        "received": received,
        "sent_balance": balance,
        "recovery_rate": rate(received, balance) if balance is not None else None,
    }


def daily(f: Filters) -> list[dict]:
    """One row per day of the period, zeros included, for the line chart."""
    day_calls = call_totals(f, ("day",))
    day_tabs = disposition_totals(f, ("day",))
    day_agreements = {
        row["day"]: row["n"]
        for row in agreements(f).annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("pk")).order_by()
    }
    empty_calls = dict.fromkeys(CALL_FIELDS, 0)
    return [
        {
            "day": day,
            "dialled": day_calls.get((day,), empty_calls)["dialled"],
            "answered": day_calls.get((day,), empty_calls)["answered"],
            "right_party": day_tabs.get((day,), {"right_party": 0})["right_party"],
            "agreements": day_agreements.get(day, 0),
        }
        for day in f.days()
    ]


def hourly(f: Filters) -> list[dict]:
    """Contact rate by local hour of day, 0 to 23."""
    by_hour = call_totals(f, ("hour",))
    empty = dict.fromkeys(CALL_FIELDS, 0)
    return [
        {
            "hour": hour,
            "dialled": by_hour.get((hour,), empty)["dialled"],
            "answered": by_hour.get((hour,), empty)["answered"],
            "contact_rate": rate(by_hour.get((hour,), empty)["answered"], by_hour.get((hour,), empty)["dialled"]),
        }
        for hour in range(24)
    ]


def disposition_types(f: Filters) -> list[DispositionType]:
    types = DispositionType.objects.all() if f.tenant is None else DispositionType.available_to(f.tenant)
    return list(types.order_by("order", "name"))


def per_operator(f: Filters) -> list[dict]:
    """Calls, talk time, tabulações by type, agreements and callbacks pending, one row per operator."""
    members = _tenant(Membership.objects.select_related("user"), f).filter(role=Role.OPERATOR)
    if f.operator_id is not None:
        members = members.filter(user_id=f.operator_id)
    members = list(members)
    by_agent = call_totals(f, ("tenant_id", "agent_id"), operator=False)
    tabs = defaultdict(dict)
    for (operator_id, type_id), row in disposition_totals(f, ("operator_id", "type_id"), operator=False).items():
        tabs[operator_id][type_id] = row["total"]
    deals = {
        row["operator_id"]: row
        for row in agreements(f, operator=False)
        .values("operator_id")
        .annotate(n=Count("pk"), amount=Sum("total"))
        .order_by()
    }
    pending = dict(
        _tenant(CallDisposition.objects.all(), f)
        .filter(callback_at__isnull=False, callback_done=False)
        .values_list("operator_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    types = disposition_types(f)
    rows = []
    for member in members:
        agent = by_agent.get((member.tenant_id, member.threecplus_agent_id), {}) if member.threecplus_agent_id else {}
        deal = deals.get(member.user_id, {})
        rows.append(
            {
                "operator_id": member.user_id,
                "operator": member.user.get_full_name() or member.user.get_username(),
                "calls": agent.get("dialled", 0),
                "talk_seconds": agent.get("talk", 0),
                "by_type": [tabs[member.user_id].get(kind.pk, 0) for kind in types],
                "dispositions": sum(tabs[member.user_id].values()),
                "agreements": deal.get("n", 0),
                "agreements_amount": deal.get("amount") or ZERO,
                "callbacks_pending": pending.get(member.user_id, 0),
            }
        )
    return rows


OPERATOR_SORTS = ("operator", "calls", "talk_seconds", "dispositions", "agreements", "agreements_amount")
OPERATOR_SORTS += ("callbacks_pending",)


def sort_operators(rows: list[dict], key: str) -> list[dict]:
    field = key.lstrip("-")
    if field not in OPERATOR_SORTS:
        field, key = "operator", "operator"
    return sorted(rows, key=lambda row: (row[field], row["operator_id"]), reverse=key.startswith("-"))


def export_funnel(export: DialerExport) -> list[tuple[str, int]]:
    """sent → dialled → answered → right-party → agreement → paid, in distinct clients of the export since it ran."""
    f = Filters(tenant=export.tenant, start=timezone.localdate(export.created_at), end=timezone.localdate())
    f = dataclasses.replace(f, export_id=export.pk)
    sent = export.items.filter(status=DialerExportItem.Status.SENT).count()
    history = calls(f)
    return [
        ("sent", sent),
        ("dialled", history.values("client_id").distinct().count()),
        ("answered", history.filter(status=ANSWERED_STATUS).values("client_id").distinct().count()),
        ("right_party", dispositions(f).filter(type__debtor_contact=True).values("client_id").distinct().count()),
        ("agreement", agreements(f).values("client_id").distinct().count()),
        ("paid", payments(f).values("client_id").distinct().count()),
    ]


WAITING_WINDOW = datetime.timedelta(seconds=10)
CALL_WINDOW = datetime.timedelta(hours=4)  # a connected call older than this without history is lost, not live
AFTER_CALL_WINDOW = datetime.timedelta(minutes=10)
WEBHOOK_WINDOW = datetime.timedelta(minutes=15)


def live(tenant, now: datetime.datetime | None = None) -> dict:
    """Who is waiting, talking or in after-call work now, exports running and the webhook's pulse.

    From each operator's latest connected call: without its history event the call is on; with the
    history but no tabulação for it (within AFTER_CALL_WINDOW) the operator is in after-call work;
    otherwise an operator whose console polled within WAITING_WINDOW is waiting.
    """
    now = now or timezone.now()
    scope = Filters(tenant, now.date(), now.date())
    events = _tenant(DialerCallEvent.objects.all(), scope)
    # The newest connected call, however old: a time condition here would walk an idle agent's whole
    # history in the (tenant, agent, -id) index; the age is checked below instead.
    latest_connected = events.filter(
        tenant_id=OuterRef("tenant_id"), agent_id=OuterRef("threecplus_agent_id"), event=DialerCallEvent.Event.CONNECTED
    ).order_by("-id")
    members = list(
        _tenant(Membership.objects.select_related("user"), scope)
        .filter(role=Role.OPERATOR)
        .exclude(threecplus_agent_id="")
        .annotate(last_call=Subquery(latest_connected.values("pk")[:1]))
    )
    recent_calls = DialerCallEvent.objects.filter(
        pk__in=[m.last_call for m in members if m.last_call], received_at__gte=now - CALL_WINDOW
    )
    calls_on = {e.pk: e for e in recent_calls}
    # 3C Plus gives the history event another id than the connected one: match either id.
    ended = events.filter(event=DialerCallEvent.Event.HISTORY).filter(
        Q(call_id__in=[c.call_id for c in calls_on.values()])
        | Q(telephony_id__in=[c.telephony_id for c in calls_on.values() if c.telephony_id])
    )
    ended_at = {}
    for tenant_id, call_id, telephony_id, received_at in ended.values_list(
        "tenant_id", "call_id", "telephony_id", "received_at"
    ):
        for key in ((tenant_id, "id", call_id), (tenant_id, "tel", telephony_id)):
            ended_at[key] = max(ended_at.get(key, received_at), received_at)
    tabulated = set(
        _tenant(CallDisposition.objects.all(), scope)
        .filter(call_id__in=[c.call_id for c in calls_on.values()])
        .values_list("tenant_id", "call_id")
    )
    states = {"waiting": [], "in_call": [], "after_call": []}
    for member in members:
        call = calls_on.get(member.last_call)
        state = None
        if call is not None:
            end = ended_at.get((call.tenant_id, "id", call.call_id)) or (
                ended_at.get((call.tenant_id, "tel", call.telephony_id)) if call.telephony_id else None
            )
            if end is None:
                state = "in_call"
            elif end >= now - AFTER_CALL_WINDOW and (call.tenant_id, call.call_id) not in tabulated:
                state = "after_call"
        if state is None and member.console_seen_at and member.console_seen_at >= now - WAITING_WINDOW:
            state = "waiting"
        if state:
            states[state].append(member.user.get_full_name() or member.user.get_username())
    # Every delivery counts, used or not: a silent webhook is the first sign the screen pop is dead.
    deliveries = _tenant(WebhookDelivery.objects.all(), scope)
    recent = deliveries.filter(received_at__gte=now - WEBHOOK_WINDOW)
    last = deliveries.order_by("-received_at").values_list("received_at", flat=True).first()
    running = (DialerExport.Status.PREPARING, DialerExport.Status.QUEUED, DialerExport.Status.RUNNING)
    return {
        **states,
        "exports_running": _tenant(DialerExport.objects.filter(status__in=running), scope).count(),
        "webhook_recent": recent.count(),
        "webhook_last_age": (now - last) if last else None,
    }
