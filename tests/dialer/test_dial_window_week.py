"""Load any time, dial only inside the window: a simulated week of the sandbox's dialler against the projection.

Lists loaded on a Sunday at 21:00 (Brasília); then every 30 minutes the worker's sweep runs (dialer/projection.py)
and the sandbox's clock advances, its dialler calling whoever is on an active list every 5 minutes and sending the
call-history webhooks to the tenant, as a real account would. The week of 20–26 April 2026 has every weekday,
Saturday, Sunday, a national holiday (Tiradentes, Tuesday 21), a state one (São Jorge, Thursday 23, RJ only) and a
municipal one the tenant entered (Wednesday 22, Santos only: São Paulo city is called that day).

The windows are the law's per state (dialer/calling_rules.py) with the agency's hours, read through
CallingPolicy.window/next_opening with the debtor's city.
"""

import datetime
import itertools
import json
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from core.models import Client
from dialer import eligibility, exports, projection
from dialer.calling_rules import city_key
from dialer.models import DialerCallEvent, DialerExportItem, MunicipalHoliday

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LOADED_AT = datetime.datetime(2026, 4, 19, 21, 0, tzinfo=SAO_PAULO)  # Sunday night
END = datetime.datetime(2026, 4, 27, 0, 0, tzinfo=SAO_PAULO)
TICK = datetime.timedelta(minutes=30)
PER_DAY = 3
REWORK_HOURS = 2

DEBTORS = [  # (who, region, address)
    ("SP", "SP", {"state": "SP", "city": "São Paulo"}),
    ("Santos", "SP", {"state": "SP", "city": "Santos"}),
    ("RJ", "RJ", {"state": "RJ", "city": "Rio de Janeiro"}),
    ("ES", "ES", {"state": "ES", "city": "Vitória"}),
    ("AM", "AM", {"state": "AM", "city": "Manaus"}),
    ("AC", "AC", {"state": "AC", "city": "Rio Branco"}),
    (
        eligibility.NORONHA,
        eligibility.NORONHA,
        {"state": "PE", "city": "Fernando de Noronha", "postal_code": "53990-000"},
    ),
]
REGION = {who: region for who, region, _fields in DEBTORS}
CITY_HOLIDAY = datetime.date(2026, 4, 22)


def deliver(client, tenant, body):
    response = client.post(
        f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code < 300, response.content


def run_week(client, tenant, sandbox, *, until=END, skip_ticks=frozenset()):
    """Sweep, then dial until the next tick, from the load to `until`; returns the ticks run."""
    at = LOADED_AT
    with freeze_time(at) as clock:
        while at < until:
            clock.move_to(at)
            if at not in skip_ticks:
                projection.project_tenant(tenant, at, lead=TICK)
            for when, body in sandbox.advance("alfa", at + TICK):
                clock.move_to(when)
                deliver(client, tenant, body)
            at += TICK


@pytest.fixture
def week(dialer_tenant, campaign_id, make_client, sandbox, settings):
    settings.TIME_ZONE = "America/Sao_Paulo"
    dialer_tenant.settings = {
        **dialer_tenant.settings,
        eligibility.PER_DAY_KEY: PER_DAY,
        "dialer_rework_no_answer_hours": REWORK_HOURS,
    }
    dialer_tenant.save()
    sandbox.dial_step_minutes = 5
    sandbox.redial_minutes = 30  # the dialler's own retries come back faster than the re-work rule allows
    phones = {
        "SP": "+5511987650001",
        "Santos": "+5513987650007",
        "RJ": "+5521987650002",
        "ES": "+5527987650003",
        "AM": "+5592987650004",
        "AC": "+5568987650005",
        eligibility.NORONHA: "+5581987650006",
    }
    debtors = {who: make_client(phones=(phones[who],), **fields) for who, _region, fields in DEBTORS}
    MunicipalHoliday.objects.create(
        tenant=dialer_tenant, state="SP", city="Santos", date=CITY_HOLIDAY, name="Feriado municipal (teste)"
    )
    sandbox.set_clock(LOADED_AT)
    with freeze_time(LOADED_AT):
        export = exports.create_export(
            dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False
        )
        export = exports.run_export(export.pk)
    return export, debtors


@pytest.mark.real_calling_hours
def test_a_week_dials_only_inside_each_window_up_to_the_caps(client, dialer_tenant, sandbox, week):
    export, debtors = week
    # Loaded on Sunday night: every debtor accepted, none on the list.
    assert export.to_send_count == len(DEBTORS) and export.sent_count == 0
    assert set(DialerExportItem.objects.values_list("status", flat=True)) == {DialerExportItem.Status.HELD}
    assert sandbox.account("alfa").contacts[export.list_id] == []

    run_week(client, dialer_tenant, sandbox)

    with freeze_time(LOADED_AT):  # the municipal holidays around the simulated week
        policy = eligibility.CallingPolicy.for_tenant(dialer_tenant)
    region_of = {str(c.pk): REGION[who] for who, c in debtors.items()}
    city_of = {str(c.pk): city_key(c.city) for c in debtors.values()}
    calls = defaultdict(list)
    for call in sandbox.account("alfa").dialled:
        calls[call["identifier"]].append(datetime.datetime.fromisoformat(call["at"]))
    # Zero calls outside each debtor's window, judged by the policy at the call's instant.
    outside = [
        (region_of[identifier], at.astimezone(eligibility.region_time_zone(region_of[identifier])))
        for identifier, ats in calls.items()
        for at in ats
        if policy.next_opening(region_of[identifier], at, city=city_of[identifier]) is not None
    ]
    assert outside == []
    # The sandbox recorded the debtor's local time (its UF's, Noronha's for the island).
    noronha_call = next(c for c in sandbox.account("alfa").dialled if region_of[c["identifier"]] == eligibility.NORONHA)
    assert noronha_call["zone"] == "America/Noronha"
    assert noronha_call["local_time"] == datetime.datetime.fromisoformat(noronha_call["at"]).astimezone(
        ZoneInfo("America/Noronha")
    ).strftime("%Y-%m-%d %H:%M")

    for who, debtor in debtors.items():
        region, city = REGION[who], city_key(debtor.city)
        ats = sorted(calls[str(debtor.pk)])
        zone = eligibility.region_time_zone(region)
        by_day = defaultdict(int)
        for at in ats:
            by_day[at.astimezone(SAO_PAULO).date()] += 1
        open_days = {
            day
            for offset in range(8)
            if policy.window(region, day := LOADED_AT.date() + datetime.timedelta(days=offset), city=city)
            and datetime.datetime.combine(day, policy.window(region, day, city=city)[-1][1], tzinfo=zone) > LOADED_AT
        }
        # Every eligible debtor is dialled on each day its window opens, and on no other day: the holidays
        # (Tiradentes for all, São Jorge for RJ, Santos's own) and Sunday are closed.
        assert {at.astimezone(zone).date() for at in ats} == open_days, who
        assert datetime.date(2026, 4, 21) not in open_days
        assert (datetime.date(2026, 4, 23) in open_days) == (region != "RJ")
        assert (CITY_HOLIDAY in open_days) == (who != "Santos"), who
        # The daily cap stops it, and the reset (midnight) brings it back the next open day.
        assert max(by_day.values()) == PER_DAY, who
        assert all(n <= PER_DAY for n in by_day.values()), who
        # Re-work: a number that did not answer leaves the list and comes back only after REWORK_HOURS.
        gaps = [later - earlier for earlier, later in itertools.pairwise(ats)]
        assert min(gaps) >= datetime.timedelta(hours=REWORK_HOURS), who
        assert any(gap < datetime.timedelta(hours=REWORK_HOURS + 1) for gap in gaps), who

    # The calls were recorded as call events (the caps and the re-work rule read them).
    assert DialerCallEvent.objects.filter(event=DialerCallEvent.Event.HISTORY).count() == sum(map(len, calls.values()))


@pytest.mark.real_calling_hours
def test_the_sweep_repairs_a_missed_tick(client, dialer_tenant, sandbox, week):
    """The ticks around Monday's close and Tuesday's opening never ran: the next sweep takes out whatever the
    closed window left on the list, and puts back what an open one left out."""
    export, debtors = week
    sp = debtors["SP"]
    monday_evening = datetime.datetime(2026, 4, 20, 19, 45, tzinfo=SAO_PAULO)
    run_week(client, dialer_tenant, sandbox, until=monday_evening)
    # Put the SP debtor on the list as a stale tick would have left it, cap and rework aside.
    DialerCallEvent.objects.all().delete()
    with freeze_time(monday_evening):
        projection.project_tenant(dialer_tenant, monday_evening, lead=datetime.timedelta(0))
    item = DialerExportItem.objects.get(client=sp)
    assert item.status == DialerExportItem.Status.SENT
    on_list = sandbox.account("alfa").contacts[export.list_id]
    assert str(sp.pk) in {c["identifier"] for c in on_list}

    # 20:00 to 22:00: no sweep ran; the next one, at 22:00, finds the SP debtor on a closed window.
    late = datetime.datetime(2026, 4, 20, 22, 0, tzinfo=SAO_PAULO)
    with freeze_time(late):
        result = projection.project_tenant(dialer_tenant, late, lead=TICK)
    assert result.removed >= 1
    assert sandbox.account("alfa").contacts[export.list_id] == []
    assert set(DialerExportItem.objects.values_list("status", flat=True)) == {DialerExportItem.Status.HELD}

    # Wednesday 10:00 (Tuesday was Tiradentes), after a night with no sweep: the first one puts every open debtor
    # back on the list.
    wednesday = datetime.datetime(2026, 4, 22, 10, 0, tzinfo=SAO_PAULO)
    with freeze_time(wednesday):
        result = projection.project_tenant(dialer_tenant, wednesday, lead=TICK)
        policy = eligibility.CallingPolicy.for_tenant(dialer_tenant)
    # Santos's own holiday keeps its debtor off; São Paulo city, same state, is back.
    open_now = {
        str(c.pk)
        for who, c in debtors.items()
        if policy.next_opening(REGION[who], wednesday, city=city_key(c.city)) is None
    }
    assert str(debtors["SP"].pk) in open_now and str(debtors["Santos"].pk) not in open_now
    assert {c["identifier"] for c in sandbox.account("alfa").contacts[export.list_id]} == open_now
    assert result.added == len(open_now)
    # Swept again at once: nothing moves, nothing is posted twice.
    with freeze_time(wednesday):
        again = projection.project_tenant(dialer_tenant, wednesday, lead=TICK)
    assert (again.added, again.removed) == (0, 0)
    assert sandbox.account("alfa").duplicates[export.list_id] == 0
