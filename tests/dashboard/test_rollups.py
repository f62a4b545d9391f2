"""Closed days read from the roll-ups plus today read live give exactly what the raw tables give, per filter."""

import dataclasses
import datetime
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, ExtractHour, TruncDate
from freezegun import freeze_time

from attendance.models import CallDisposition, DispositionType
from dashboard import selectors, services
from dashboard.models import DispositionCampaignRollup, RolledUpDay
from dashboard.rollups import ANSWERED_STATUS, TODAY_MARGIN, ensure_rolled_up, roll_up_today
from dashboard.selectors import Filters
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem
from tenants.models import Membership, Role
from tests.dashboard import scenario
from tests.dashboard.scenario import NOW, TODAY, local

pytestmark = pytest.mark.django_db
EARLIER = TODAY - datetime.timedelta(days=2)


@pytest.fixture
def world(tenant, other_tenant):
    """The scenario two days ago (a closed day) in both tenants, and more of it today in alfa."""
    with freeze_time(NOW - datetime.timedelta(days=2)):
        alfa = scenario.build(tenant, 1, today=EARLIER)
        scenario.build(other_tenant, 2, today=EARLIER)
    with freeze_time(NOW):
        clients, users = alfa["clients"], alfa["users"]
        # Client 1, sent to campaign 10 two days ago, goes to campaign 20 today: its tabulações of two days
        # ago stay out of campaign 20, today's count in both.
        e3 = DialerExport.objects.create(
            tenant=tenant,
            campaign_id=20,
            campaign_name="Campanha 20",
            list_name="L3",
            open_balance=Decimal("500.00"),
            status=DialerExport.Status.DONE,
        )
        DialerExport.objects.filter(pk=e3.pk).update(created_at=local(TODAY, 8))
        DialerExportItem.objects.create(
            tenant=tenant, export=e3, client=clients[1], campaign_id=20, status="enviado", sent_at=NOW
        )
        for k, (i, agent, campaign, status, seconds, hour) in enumerate(
            [(1, "101", "20", "7", 45, 9), (4, "102", "10", "5", None, 10), (5, "101", "20", "7", 15, 11)]
        ):
            row = DialerCallEvent.objects.create(
                tenant=tenant,
                event=DialerCallEvent.Event.HISTORY,
                call_id=f"hoje{k}",
                agent_id=agent,
                campaign_id=campaign,
                status=status,
                client=clients[i],
                duration_seconds=seconds,
            )
            DialerCallEvent.objects.filter(pk=row.pk).update(received_at=local(TODAY, hour, k))
        kinds = {kind.behavior: kind for kind in DispositionType.objects.filter(tenant=None)}
        for i, who, behavior in ((1, "op1", "negociar"), (4, "op2", "caixa_postal"), (5, "op1", "retornar")):
            CallDisposition.objects.create(tenant=tenant, client=clients[i], operator=users[who], type=kinds[behavior])
    return {**alfa, "tenant": tenant, "e3": e3}


OPERATOR_FIELDS = ("operator_id", "calls", "talk_seconds", "dispositions", "by_type", "agreements", "agreements_amount")


def figures_read(f: Filters) -> dict:
    figures = services.figures(f)
    summary = figures.summary()
    return {
        "summary": [summary[k] for k in ("sent", "dialled", "answered", "dispositions", "right_party")]
        + [summary["agreements"][k] for k in ("count", "amount", "approved", "rejected")],
        "daily": [(d["day"], d["dialled"], d["answered"], d["right_party"], d["agreements"]) for d in figures.daily()],
        "hourly": [(h["hour"], h["dialled"], h["answered"]) for h in figures.hourly()],
        "operators": sorted(
            tuple(tuple(r[k]) if k == "by_type" else r[k] for k in OPERATOR_FIELDS) for r in figures.per_operator()
        ),
    }


def raw_read(f: Filters) -> dict:
    """The same figures straight from the raw tables, whatever the day."""
    events, tabs, deals = selectors.calls(f), selectors.dispositions(f), selectors.counted_agreements(f)
    answered, right_party = Q(status=ANSWERED_STATUS), Q(type__debtor_contact=True)

    def per(queryset, key, **aggregates):
        return {row[key]: row for row in queryset.values(key).annotate(**aggregates).order_by()}

    event_days = per(
        events.annotate(day=TruncDate("received_at")), "day", n=Count("pk"), a=Count("pk", filter=answered)
    )
    tab_days = per(tabs.annotate(day=TruncDate("created_at")), "day", n=Count("pk", filter=right_party))
    deal_days = per(deals.annotate(day=TruncDate("created_at")), "day", n=Count("pk"))
    hours = per(events.annotate(hour=ExtractHour("received_at")), "hour", n=Count("pk"), a=Count("pk", filter=answered))
    agents = per(events, "agent_id", n=Count("pk"), talk=Coalesce(Sum("duration_seconds"), 0))
    types = [kind.pk for kind in selectors.disposition_types(f)]
    members = Membership.objects.filter(tenant=f.tenant, role=Role.OPERATOR)
    if f.operator_id is not None:
        members = members.filter(user_id=f.operator_id)
    operators = []
    for member in members:
        agent = agents.get(member.threecplus_agent_id, {"n": 0, "talk": 0})
        mine = per(tabs.filter(operator_id=member.user_id), "type_id", n=Count("pk"))
        by_type = tuple(mine[kind]["n"] if kind in mine else 0 for kind in types)
        deal = deals.filter(operator_id=member.user_id).aggregate(n=Count("pk"), amount=Sum("total"))
        deal_figures = (deal["n"], deal["amount"] or Decimal("0"))
        operators.append((member.user_id, agent["n"], agent["talk"], sum(by_type), by_type, *deal_figures))
    return {
        "summary": [
            selectors.sent_items(f).count(),
            events.count(),
            events.filter(answered).count(),
            tabs.count(),
            tabs.filter(right_party).count(),
            deals.count(),
            deals.aggregate(amount=Sum("total"))["amount"] or Decimal("0"),
            # Rejected agreements are no deals, but they count in the approval figures.
            selectors.agreements(f).exclude(approval_reasons=[]).filter(status__in=selectors.APPROVED_STATUSES).count(),
            selectors.agreements(f).exclude(approval_reasons=[]).filter(status="rejeitado").count(),
        ],
        "daily": [
            (
                day,
                event_days.get(day, {"n": 0})["n"],
                event_days.get(day, {"a": 0})["a"],
                tab_days.get(day, {"n": 0})["n"],
                deal_days.get(day, {"n": 0})["n"],
            )
            for day in f.days()
        ],
        "hourly": [(h, hours.get(h, {"n": 0})["n"], hours.get(h, {"a": 0})["a"]) for h in range(24)],
        "operators": sorted(operators),
    }


FILTERS = {
    "none": {},
    "creditor A": {"creditor": 0},
    "creditor B": {"creditor": 1},
    "campaign 10": {"campaign_id": 10},
    "campaign 20": {"campaign_id": 20},
    "operator 1": {"operator": "op1"},
    "operator 2": {"operator": "op2"},
    "export of two days ago": {"export": 0},
    "export of today": {"export": "e3"},
    "creditor and operator": {"creditor": 0, "operator": "op1"},
    "campaign and operator": {"campaign_id": 20, "operator": "op1"},
}


def filters(world, start, end, choice) -> Filters:
    exports = {0: world["exports"][0], "e3": world["e3"]}
    return Filters(
        tenant=world["tenant"],
        start=start,
        end=end,
        creditor_id=world["creditors"][choice["creditor"]].pk if "creditor" in choice else None,
        campaign_id=choice.get("campaign_id"),
        operator_id=world["users"][choice["operator"]].pk if "operator" in choice else None,
        export_id=exports[choice["export"]].pk if "export" in choice else None,
    )


@pytest.mark.parametrize("today_rolled_up", [False, True], ids=["today raw", "today rolled up to 11:58"])
@pytest.mark.parametrize("choice", FILTERS.values(), ids=FILTERS.keys())
def test_rolled_up_days_plus_today_equal_the_raw_tables(world, choice, today_rolled_up):
    with freeze_time(NOW):
        if today_rolled_up:
            # Today's calls (9h to 11h) go into the roll-up; today's tabulações, stored at noon, stay raw.
            assert roll_up_today(world["tenant"].pk) == NOW - TODAY_MARGIN
        for start, end in (
            (TODAY - datetime.timedelta(days=6), TODAY),  # closed days and today
            (TODAY - datetime.timedelta(days=6), TODAY - datetime.timedelta(days=1)),  # closed days only
            (TODAY, TODAY),  # today only
        ):
            f = filters(world, start, end, choice)
            assert figures_read(f) == raw_read(f), (start, end)
        closed_days = RolledUpDay.objects.filter(tenant=world["tenant"], until=None).count()
        assert closed_days == (0 if "export" in choice else 6)  # an export's figures are all read raw


def test_a_campaign_counts_the_tabulacoes_after_its_export_and_keeps_them_once_rolled_up(world):
    with freeze_time(NOW):
        f = Filters(world["tenant"], TODAY - datetime.timedelta(days=6), TODAY, campaign_id=20)
        # Two days ago client 5 (campaign 20) was tabulated; client 1 only joined campaign 20 today, so only
        # today's tabulação of client 1 counts, beside client 5's of today.
        assert services.figures(f).summary()["dispositions"] == 3
        rolled = DispositionCampaignRollup.objects.get(tenant=world["tenant"], day=EARLIER, campaign_id=20)
        assert (rolled.creditor_id, rolled.count) == (world["creditors"][1].pk, 1)
        # The closed day is read from its roll-up, not from the tabulações any more.
        CallDisposition.objects.filter(
            tenant=world["tenant"], client=world["clients"][5], created_at__date=EARLIER
        ).delete()
        assert services.figures(f).summary()["dispositions"] == 3


def test_the_page_reads_each_table_once(world, django_assert_max_num_queries):
    with freeze_time(NOW):
        f = Filters(world["tenant"], TODAY - datetime.timedelta(days=29), TODAY)
        services.figures(f).summary()  # rolls the closed days up
        # A filter may add one membership lookup for the agent ids.
        for choice in FILTERS.values():
            g = dataclasses.replace(filters(world, f.start, f.end, choice))
            with django_assert_max_num_queries(20):
                figures = services.figures(g)
                figures.summary()
                figures.daily()
                figures.hourly()
                figures.per_operator()


def test_an_open_dashboard_asks_the_worker_to_roll_today_up(world):
    from django_tasks_db.models import DBTaskResult

    from dashboard.tasks import roll_up_today as task

    def queued():
        return list(DBTaskResult.objects.filter(task_path=task.module_path).values_list("args_kwargs", flat=True))

    f = Filters(world["tenant"], TODAY - datetime.timedelta(days=6), TODAY)
    with freeze_time(NOW):
        services.figures(f)
        services.figures(f)
        assert [row["args"] for row in queued()] == [[world["tenant"].pk]]  # once per TODAY_REFRESH
        task.call(world["tenant"].pk)  # what the worker runs
        assert RolledUpDay.objects.get(tenant=world["tenant"], day=TODAY).until == NOW - TODAY_MARGIN
        services.figures(f)
        assert len(queued()) == 1  # fresh: nothing more to ask
    with freeze_time(NOW + services.TODAY_REFRESH + datetime.timedelta(minutes=1)):
        services.figures(f)
        assert len(queued()) == 2  # stale again
    with freeze_time(NOW + datetime.timedelta(days=1)):
        # The day rolled up while open is rolled up again whole once it is over.
        ensure_rolled_up(world["tenant"], TODAY, TODAY)
        assert RolledUpDay.objects.get(tenant=world["tenant"], day=TODAY).until is None
        g = Filters(world["tenant"], TODAY, TODAY)
        assert figures_read(g) == raw_read(g)


def test_past_midnight_today_is_not_rolled_up_yet(world):
    with freeze_time(local(TODAY, 0, 1)):
        assert roll_up_today(world["tenant"].pk) is None
        assert not RolledUpDay.objects.filter(day=TODAY).exists()
