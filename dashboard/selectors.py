"""The supervisor's figures: one place computes each rate, the home page, the CSV and the funnel read it.

These functions only read. The roll-ups they read are made by dashboard.rollups, asked for by
dashboard.services.figures before a page reads them.

Definitions (the tests count them by hand):
- sent: export items confirmed by 3C Plus (status "enviado") in the period, by `sent_at`;
- dialled: `call-history-was-created` events (3C Plus sends one per finished call, answered or not);
- answered: those whose status is 7, "finished with an agent" (5 not answered, 6 abandoned, 8 failed,
  9 voicemail); contact rate = answered / dialled;
- right-party: tabulações whose type is flagged `debtor_contact`; the rate is over all tabulações;
- a campaign or export filter keeps the tabulações, agreements and payments of clients sent to it (in an
  export of the campaign, or in the export) before them; calls and sent items carry their own campaign;
- agreements by `created_at`; approval rate = of the agreements beyond the creditor's rules, the approved
  (active, paid off or later broken) over the decided (approved + rejected); cancelled ones count in neither;
- payments received by `paid_on`; recovery rate = received / open balance of the exports created in the
  period (only without a creditor or operator filter: an export's balance is not split by either).
"""

import contextlib
import dataclasses
import datetime
import itertools
from collections import defaultdict
from decimal import Decimal
from functools import cached_property

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from attendance.models import Agreement, CallDisposition, DispositionType, Payment
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
from dashboard.rollups import ANSWERED_STATUS, NOT_DEALS, call_measures, sent_items_between
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
    since: datetime.datetime | None = None  # rows stored from this moment on only (after today's roll-up)

    @property
    def start_at(self) -> datetime.datetime:
        return self.since or _local_midnight(self.start)

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
    """The row's client was in the chosen export, or in an export to the chosen campaign, made before the row.

    "Before" makes a closed day's figure final (a client sent to the campaign later does not change it), which
    is what lets the campaign's tabulações be rolled up.
    """
    items = DialerExportItem.objects.filter(client_id=OuterRef(client_ref))
    if f.export_id is not None:
        export = _export(f)
        if export is None:
            return Q(pk__in=[])
        items = items.filter(export_id=export.pk)
        since = timezone.localdate(export.created_at) if at_field == "paid_on" else export.created_at
        return Exists(items) & Q(**{f"{at_field}__gte": since})
    made_before = "export__created_at__date__lte" if at_field == "paid_on" else "export__created_at__lte"
    return Exists(items.filter(campaign_id=f.campaign_id, **{made_before: OuterRef(at_field)}))


def _agent_ids(f: Filters):
    """The operator's 3C Plus agent ids, as a subquery: the calls' filter needs no round trip of its own."""
    memberships = _tenant(Membership.objects.filter(user_id=f.operator_id), f).exclude(threecplus_agent_id="")
    return memberships.values("threecplus_agent_id")


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


def counted_agreements(f: Filters, *, operator=True):
    """The agreements the panel counts: neither rejected nor cancelled (the approval rate reads those too)."""
    return agreements(f, operator=operator).exclude(status__in=NOT_DEALS)


def pending_approvals(f: Filters) -> int:
    """Agreements waiting for a supervisor now, whatever the period: the queue to work through."""
    return _tenant(Agreement.objects.filter(status=Agreement.Status.PENDING_APPROVAL), f).count()


def payments(f: Filters):
    # An estorno takes the money back: a reversed payment was never received, for the panel.
    rows = _tenant(Payment.objects.filter(reversed_at__isnull=True), f).filter(paid_on__gte=f.start, paid_on__lte=f.end)
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


def _split(f: Filters) -> tuple[Filters | None, Filters | None, datetime.datetime | None]:
    """The part of the period read from the roll-ups and the part read raw, either possibly absent, and the
    `until` of today's partial roll-up.

    Closed days come from the roll-ups; so does today up to its partial roll-up's `until`, if the worker
    made one, and the raw part is what was stored since (the whole of today otherwise).
    """
    today = timezone.localdate()
    last_closed = min(f.end, today - datetime.timedelta(days=1))
    rolled = dataclasses.replace(f, end=last_closed) if f.start <= last_closed else None
    if not f.start <= today <= f.end:
        return rolled, None, None
    raw = dataclasses.replace(f, start=today, end=today)
    if f.tenant is None:  # each tenant's today is rolled up to its own moment: read today raw
        return rolled, raw, None
    until = RolledUpDay.objects.filter(tenant=f.tenant, day=today).values_list("until", flat=True).first()
    if until is None:
        return rolled, raw, None
    return dataclasses.replace(f, end=today), dataclasses.replace(raw, since=until), until


@contextlib.contextmanager
def _one_snapshot():
    """Every read of the roll-ups and the raw rows in one snapshot: the worker may replace today's roll-up,
    and move its `until`, between two of them, and today's rows would then be counted twice or not at all."""
    if connection.in_atomic_block:  # the caller's transaction decides (the tests')
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _flagged_types() -> set[int]:
    return set(DispositionType.objects.filter(debtor_contact=True).values_list("pk", flat=True))


def _rolled_up(model, f: Filters, *, campaign=True, operator_field=None):
    """A roll-up's rows for the closed days of `f`, filtered by creditor, campaign and operator."""
    rows = _tenant(model.objects.all(), f).filter(day__gte=f.start, day__lte=f.end)
    if f.creditor_id is not None:
        rows = rows.filter(creditor_id=f.creditor_id)
    if campaign and f.campaign_id is not None:
        rows = rows.filter(campaign_id=str(f.campaign_id))
    if operator_field == "agent_id" and f.operator_id is not None:
        rows = rows.filter(agent_id__in=_agent_ids(f))
    elif operator_field and f.operator_id is not None:
        rows = rows.filter(**{operator_field: f.operator_id})
    return rows.order_by()


class Figures:
    """Every figure of the dashboard for one set of filters.

    Each source is read once, already filtered, at the grain the page needs: the calls per day and agent
    and per hour, the tabulações per day, operator and type, the agreements per day and operator. The
    totals, both charts and the operators' table are sums of those rows, so they always agree with each
    other. Closed days, and today up to its roll-up's `until`, come from the roll-ups, the rest of today
    from the raw tables, all in one snapshot; with an export filter everything is read raw (an export's
    clients are few, and its items carry no day to roll up by). An agreement's status changes after its
    day, so the approval figures alone are read from the agreements over the whole period.

    Reads only: a closed day not rolled up yet reads as empty. dashboard.services.figures rolls them up first.
    """

    def __init__(self, f: Filters):
        self.f = f
        with _one_snapshot():
            # `closed`: the part read from the roll-ups; `raw`: the part read from the raw tables;
            # `today_until`: where today's partial roll-up stops (None: the worker made none, or it is not read).
            self.closed, self.raw, self.today_until = (None, f, None) if f.export_id is not None else _split(f)
            self._calls_by_agent, self._calls_by_hour = self._read_calls()
            self._dispositions = self._read_dispositions()
            self._agreements = self._read_agreements()
            self._sent = self._read_sent()

    def _raw_calls(self) -> list[dict]:
        """The raw part's finished calls per day, hour and agent: one read for the totals and the hour chart."""
        if not self.raw:
            return []
        return list(
            calls(self.raw)
            .annotate(day=TruncDate("received_at"), hour=ExtractHour("received_at"))
            .values("day", "hour", "tenant_id", "agent_id")
            .annotate(**call_measures())
            .order_by()
        )

    def _read_calls(self) -> tuple[dict, dict]:
        """({(day, tenant_id, agent_id): [dialled, answered, talk]}, {hour: [dialled, answered]})."""
        raw = self._raw_calls()
        by_agent = defaultdict(lambda: [0, 0, 0])
        rows = []
        if self.closed:
            rows = _rolled_up(CallDayRollup, self.closed, operator_field="agent_id")
            rows = rows.values("day", "tenant_id", "agent_id").annotate(
                dialled=Sum("dialled"), answered=Sum("answered"), talk=Sum("talk_seconds")
            )
        for row in itertools.chain(rows, raw):
            _add(by_agent[row["day"], row["tenant_id"], row["agent_id"]], row)
        by_hour = defaultdict(lambda: [0, 0])
        rows = []
        if self.closed:
            # Without the agent the hour table is small; one operator's hours come from the finest grain,
            # through its agent index.
            if self.f.operator_id is None:
                rows = _rolled_up(CallHourRollup, self.closed)
            else:
                rows = _rolled_up(CallRollup, self.closed, operator_field="agent_id")
            rows = rows.values("hour").annotate(dialled=Sum("dialled"), answered=Sum("answered"))
        for row in itertools.chain(rows, raw):
            _add(by_hour[row["hour"]], row)
        return by_agent, by_hour

    def _read_dispositions(self) -> dict[tuple, int]:
        """{(day, operator_id, type_id): tabulações}."""
        counted = defaultdict(int)
        if self.closed:
            if self.f.campaign_id is None:
                rows = _rolled_up(DispositionRollup, self.closed, campaign=False, operator_field="operator_id")
            else:
                rows = _rolled_up(DispositionCampaignRollup, self.closed, operator_field="operator_id")
            for row in rows.values("day", "operator_id", "type_id").annotate(n=Sum("count")):
                counted[row["day"], row["operator_id"], row["type_id"]] += row["n"]
        if self.raw:
            raw = dispositions(self.raw).annotate(day=TruncDate("created_at"))
            for row in raw.values("day", "operator_id", "type_id").annotate(n=Count("*")).order_by():
                counted[row["day"], row["operator_id"], row["type_id"]] += row["n"]
        return counted

    def _read_agreements(self) -> dict[tuple, list]:
        """{(day, operator_id): [agreements, R$]}."""
        deals = defaultdict(lambda: [0, ZERO])
        rows = []
        if self.closed:
            if self.f.campaign_id is None:
                rows = _rolled_up(AgreementRollup, self.closed, campaign=False, operator_field="operator_id")
            else:
                rows = _rolled_up(AgreementCampaignRollup, self.closed, operator_field="operator_id")
            rows = rows.values("day", "operator_id").annotate(n=Sum("count"), amount=Sum("amount"))
        raw = []
        if self.raw:
            raw = counted_agreements(self.raw).annotate(day=TruncDate("created_at")).values("day", "operator_id")
            raw = raw.annotate(n=Count("*"), amount=Sum("total")).order_by()
        for row in itertools.chain(rows, raw):
            bucket = deals[row["day"], row["operator_id"]]
            bucket[0] += row["n"]
            bucket[1] += row["amount"] or ZERO
        return deals

    @cached_property
    def _approvals(self) -> dict:
        """Of the agreements beyond the rules, the approved and the rejected: read from the agreements, whose
        status changes after the day they were made."""
        beyond_rules = agreements(self.f).exclude(approval_reasons=[])
        return beyond_rules.aggregate(
            approved=Count("pk", filter=Q(status__in=APPROVED_STATUSES)),
            rejected=Count("pk", filter=Q(status=Agreement.Status.REJECTED)),
        )

    @cached_property
    def _flagged(self) -> set[int]:
        return _flagged_types()

    def _read_sent(self) -> int:
        """Sent items are rolled up for closed days only (see rollups.roll_up): today is read whole."""
        raw = dataclasses.replace(self.raw, since=None) if self.raw else None
        if self.closed is None:
            return sent_items(raw).count() if raw else 0
        rows = _tenant(SentRollup.objects.all(), self.f).filter(day__gte=self.closed.start, day__lte=self.closed.end)
        if self.f.creditor_id is not None:
            rows = rows.filter(creditor_id=self.f.creditor_id)
        if self.f.campaign_id is not None:
            rows = rows.filter(campaign_id=self.f.campaign_id)
        total = rows.aggregate(n=Sum("count"))["n"] or 0
        return total + (sent_items(raw).count() if raw else 0)

    def summary(self) -> dict:
        dialled = sum(v[0] for v in self._calls_by_agent.values())
        answered = sum(v[1] for v in self._calls_by_agent.values())
        tabs = sum(self._dispositions.values())
        right_party = sum(n for (_, _, kind), n in self._dispositions.items() if kind in self._flagged)
        deals = self._agreements.values()
        approved, rejected = self._approvals["approved"], self._approvals["rejected"]
        received = payments(self.f).aggregate(total=Sum("amount"))["total"] or ZERO
        balance = sent_balance(self.f)
        return {
            "sent": self._sent,
            "dialled": dialled,
            "answered": answered,
            "contact_rate": rate(answered, dialled),
            "dispositions": tabs,
            "right_party": right_party,
            "right_party_rate": rate(right_party, tabs),
            "agreements": {
                "count": sum(count for count, _ in deals),
                "amount": sum((amount for _, amount in deals), ZERO),
                "approved": approved,
                "rejected": rejected,
                "approval_rate": rate(approved, approved + rejected),
            },
            "received": received,
            "sent_balance": balance,
            "recovery_rate": rate(received, balance) if balance is not None else None,
        }

    def daily(self) -> list[dict]:
        """One row per day of the period, zeros included, for the line chart."""
        days = {
            day: {"day": day, "dialled": 0, "answered": 0, "right_party": 0, "agreements": 0} for day in self.f.days()
        }
        for (day, _, _), (dialled, answered, _) in self._calls_by_agent.items():
            days[day]["dialled"] += dialled
            days[day]["answered"] += answered
        for (day, _, kind), n in self._dispositions.items():
            if kind in self._flagged:
                days[day]["right_party"] += n
        for (day, _), (count, _) in self._agreements.items():
            days[day]["agreements"] += count
        return list(days.values())

    def hourly(self) -> list[dict]:
        """Contact rate by local hour of day, 0 to 23."""
        rows = []
        for hour in range(24):
            dialled, answered = self._calls_by_hour.get(hour, (0, 0))
            rows.append(
                {"hour": hour, "dialled": dialled, "answered": answered, "contact_rate": rate(answered, dialled)}
            )
        return rows

    def per_operator(self) -> list[dict]:
        """Calls, talk time, tabulações by type, agreements and callbacks pending, one row per operator."""
        f = self.f
        members = _tenant(Membership.objects.select_related("user"), f).filter(role=Role.OPERATOR)
        if f.operator_id is not None:
            members = members.filter(user_id=f.operator_id)
        members = list(members)
        calls_by_agent = defaultdict(lambda: [0, 0])  # dialled, talk
        for (_, tenant_id, agent_id), (dialled, _, talk) in self._calls_by_agent.items():
            calls_by_agent[tenant_id, agent_id][0] += dialled
            calls_by_agent[tenant_id, agent_id][1] += talk
        tabs = defaultdict(lambda: defaultdict(int))
        for (_, operator_id, type_id), n in self._dispositions.items():
            tabs[operator_id][type_id] += n
        deals = defaultdict(lambda: [0, ZERO])
        for (_, operator_id), (count, amount) in self._agreements.items():
            deals[operator_id][0] += count
            deals[operator_id][1] += amount
        pending = dict(
            _tenant(CallDisposition.objects.all(), f)
            .filter(callback_at__isnull=False, callback_done=False)
            .values_list("operator_id")
            .annotate(n=Count("*"))
            .order_by()
        )
        types = disposition_types(f)
        rows = []
        for member in members:
            agent = member.threecplus_agent_id
            dialled, talk = calls_by_agent.get((member.tenant_id, agent), (0, 0)) if agent else (0, 0)
            by_type = tabs.get(member.user_id, {})
            deal_count, deal_amount = deals.get(member.user_id, (0, ZERO))
            rows.append(
                {
                    "operator_id": member.user_id,
                    "operator": member.user.get_full_name() or member.user.get_username(),
                    "calls": dialled,
                    "talk_seconds": talk,
                    "by_type": [by_type.get(kind.pk, 0) for kind in types],
                    "dispositions": sum(by_type.values()),
                    "agreements": deal_count,
                    "agreements_amount": deal_amount,
                    "callbacks_pending": pending.get(member.user_id, 0),
                }
            )
        return rows


def _add(bucket: list, row: dict) -> None:
    """Add a row's dialled, answered (and talk, when the bucket has room for it) to the bucket."""
    for index, field in enumerate(("dialled", "answered", "talk")[: len(bucket)]):
        bucket[index] += row[field] or 0


def disposition_types(f: Filters) -> list[DispositionType]:
    types = DispositionType.objects.all() if f.tenant is None else DispositionType.available_to(f.tenant)
    return list(types.order_by("order", "name"))


OPERATOR_SORTS = ("operator", "calls", "talk_seconds", "dispositions", "agreements", "agreements_amount")
OPERATOR_SORTS += ("callbacks_pending",)


def sort_operators(rows: list[dict], key: str) -> list[dict]:
    field = key.lstrip("-")
    if field not in OPERATOR_SORTS:
        field, key = "operator", "operator"
    return sorted(rows, key=lambda row: (row[field], row["operator_id"]), reverse=key.startswith("-"))


def export_funnel(export: DialerExport) -> list[tuple[str, int]]:
    """sent → dialled → answered → right-party → agreement → paid, in distinct clients of the export since it ran.

    Each stage counts the clients that also reached every stage before it, so the funnel never widens downstream
    (an agreement made without a right-party tabulação, a título paid without an agreement, stop where they fell).
    """
    f = Filters(tenant=export.tenant, start=timezone.localdate(export.created_at), end=timezone.localdate())
    f = dataclasses.replace(f, export_id=export.pk)
    reached = export.items.filter(status=DialerExportItem.Status.SENT).values("client_id")
    history = calls(f)
    steps = [("sent", reached.distinct().count())]
    for name, rows in (
        ("dialled", history),
        ("answered", history.filter(status=ANSWERED_STATUS)),
        ("right_party", dispositions(f).filter(type__debtor_contact=True)),
        ("agreement", counted_agreements(f)),
        ("paid", payments(f)),
    ):
        reached = rows.filter(client_id__in=reached).values("client_id").distinct()
        steps.append((name, reached.count()))
    return steps


WAITING_WINDOW = datetime.timedelta(seconds=10)
CALL_WINDOW = datetime.timedelta(hours=4)  # a connected call older than this without history is lost, not live
AFTER_CALL_WINDOW = datetime.timedelta(minutes=10)
WEBHOOK_WINDOW = datetime.timedelta(minutes=15)
# The atendimento page opens as the call connects, possibly before the connected webhook is stored.
TABULATION_LEEWAY = datetime.timedelta(minutes=10)


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
    tabulated = set()
    if calls_on:
        # A call is tabulated after it connects: the time bound keeps the look-up on the (tenant, created_at)
        # index instead of reading every tabulação for the call ids.
        since = min(c.received_at for c in calls_on.values()) - TABULATION_LEEWAY
        tabulated = set(
            _tenant(CallDisposition.objects.all(), scope)
            .filter(call_id__in=[c.call_id for c in calls_on.values()], created_at__gte=since)
            .values_list("tenant_id", "call_id")
            .order_by()
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
