"""Each figure of the dashboard against a scenario counted by hand (tests/dashboard/scenario.py)."""

import dataclasses
import datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from dashboard import selectors, services
from dashboard.selectors import Filters
from tests.dashboard import scenario
from tests.dashboard.scenario import NOW, TODAY

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with freeze_time(NOW):
        yield


@pytest.fixture
def alfa(tenant, other_tenant):
    world = scenario.build(tenant, 1)
    world["beta"] = scenario.build(other_tenant, 2)  # the same operation next door: never counted for alfa
    world["tenant"] = tenant
    return world


def today(world, **filters):
    return Filters(tenant=world["tenant"], start=TODAY, end=TODAY, **filters)


def headline(summary):
    return {
        "sent": summary["sent"],
        "dialled": summary["dialled"],
        "answered": summary["answered"],
        "contact_rate": summary["contact_rate"],
        "dispositions": summary["dispositions"],
        "right_party": summary["right_party"],
        "right_party_rate": summary["right_party_rate"],
        "agreements": summary["agreements"]["count"],
        "agreements_amount": summary["agreements"]["amount"],
        "approval_rate": summary["agreements"]["approval_rate"],
        "received": summary["received"],
        "recovery_rate": summary["recovery_rate"],
    }


def test_today_unfiltered(alfa):
    assert headline(services.summary(today(alfa))) == {
        "sent": 4,  # clients 1, 2, 3 and 5; client 4 failed
        "dialled": 5,
        "answered": 3,  # status 7 only; 5 (not answered) and 9 (voicemail) are not contacts
        "contact_rate": D("60.0"),
        "dispositions": 5,
        "right_party": 3,  # Negociar ×2, Retornar; not Caixa Postal nor Contato Incorreto
        "right_party_rate": D("60.0"),
        "agreements": 3,  # client 5's was rejected: never a deal
        "agreements_amount": D("550.00"),
        "approval_rate": D("50.0"),  # beyond the rules: 1 approved, 1 rejected, 1 still pending
        "received": D("150.00"),
        "recovery_rate": D("10.0"),  # 150 / (1000 + 500) sent
    }


def test_seven_days_include_the_older_call(alfa):
    f = dataclasses.replace(today(alfa), start=TODAY - datetime.timedelta(days=6))
    summary = services.summary(f)
    assert (summary["dialled"], summary["answered"], summary["contact_rate"]) == (6, 4, D("66.7"))


def test_campaign_filter(alfa):
    assert headline(services.summary(today(alfa, campaign_id=10))) == {
        "sent": 3,
        "dialled": 4,
        "answered": 2,
        "contact_rate": D("50.0"),
        "dispositions": 4,  # of clients sent to campaign 10
        "right_party": 2,
        "right_party_rate": D("50.0"),
        "agreements": 3,
        "agreements_amount": D("550.00"),
        "approval_rate": D("100.0"),
        "received": D("150.00"),
        "recovery_rate": D("15.0"),  # 150 / 1000
    }


def test_creditor_filter(alfa):
    creditor_b = alfa["creditors"][1]
    assert headline(services.summary(today(alfa, creditor_id=creditor_b.pk))) == {
        "sent": 1,
        "dialled": 1,
        "answered": 1,
        "contact_rate": D("100.0"),
        "dispositions": 1,
        "right_party": 1,
        "right_party_rate": D("100.0"),
        "agreements": 0,  # its one agreement was rejected
        "agreements_amount": D("0"),
        "approval_rate": D("0.0"),
        "received": D("0"),
        "recovery_rate": None,  # an export's balance is not split by creditor
    }


def test_operator_filter(alfa):
    summary = headline(services.summary(today(alfa, operator_id=alfa["users"]["op1"].pk)))
    assert summary == {
        "sent": 4,  # the dialer, not the operator, chooses whom to call
        "dialled": 3,
        "answered": 2,
        "contact_rate": D("66.7"),
        "dispositions": 3,
        "right_party": 2,
        "right_party_rate": D("66.7"),
        "agreements": 2,
        "agreements_amount": D("500.00"),
        "approval_rate": D("100.0"),
        "received": D("100.00"),  # the installment of op1's agreement; client 2 paid a título directly
        "recovery_rate": None,
    }


def test_export_filter(alfa):
    summary = headline(services.summary(today(alfa, export_id=alfa["exports"][0].pk)))
    assert summary == {
        "sent": 3,
        "dialled": 4,
        "answered": 2,
        "contact_rate": D("50.0"),
        "dispositions": 4,
        "right_party": 2,
        "right_party_rate": D("50.0"),
        "agreements": 3,
        "agreements_amount": D("550.00"),
        "approval_rate": D("100.0"),
        "received": D("150.00"),
        "recovery_rate": D("15.0"),
    }


def test_another_tenants_export_or_operator_counts_nothing(alfa):
    beta = alfa["beta"]
    assert services.summary(today(alfa, export_id=beta["exports"][0].pk))["dialled"] == 0
    assert services.summary(today(alfa, operator_id=beta["users"]["op1"].pk))["dialled"] == 0
    assert services.summary(today(alfa, creditor_id=beta["creditors"][1].pk))["sent"] == 0


def test_every_tenant_for_the_platform(alfa):
    summary = services.summary(Filters(tenant=None, start=TODAY, end=TODAY))
    assert (summary["dialled"], summary["answered"], summary["agreements"]["count"]) == (10, 6, 6)
    assert summary["received"] == D("300.00")


def test_daily_series(alfa):
    f = dataclasses.replace(today(alfa), start=TODAY - datetime.timedelta(days=2))
    assert [(d["day"], d["dialled"], d["answered"], d["right_party"], d["agreements"]) for d in services.daily(f)] == [
        (TODAY - datetime.timedelta(days=2), 1, 1, 0, 0),
        (TODAY - datetime.timedelta(days=1), 0, 0, 0, 0),
        (TODAY, 5, 3, 3, 3),
    ]


def test_contact_rate_by_local_hour(alfa):
    hours = {h["hour"]: (h["dialled"], h["answered"], h["contact_rate"]) for h in services.hourly(today(alfa))}
    assert hours[9] == (3, 2, D("66.7"))
    assert hours[11] == (2, 1, D("50.0"))
    assert hours[12] == (0, 0, None)
    assert len(hours) == 24


def test_per_operator(alfa):
    rows = {row["operator"]: row for row in services.per_operator(today(alfa))}
    assert set(rows) == {"OP1", "OP2"}
    op1, op2 = rows["OP1"], rows["OP2"]
    names = [kind.name for kind in selectors.disposition_types(today(alfa))]
    assert names == ["Caixa Postal", "Ligação Interrompida", "Contato Incorreto", "Retornar", "Negociar"]
    assert (op1["calls"], op1["talk_seconds"], op1["by_type"], op1["dispositions"]) == (3, 180, [1, 0, 0, 1, 1], 3)
    assert (op1["agreements"], op1["agreements_amount"], op1["callbacks_pending"]) == (2, D("500.00"), 1)
    assert (op2["calls"], op2["talk_seconds"], op2["by_type"], op2["dispositions"]) == (2, 30, [0, 0, 1, 0, 1], 2)
    assert (op2["agreements"], op2["agreements_amount"], op2["callbacks_pending"]) == (1, D("50.00"), 0)


def test_operator_sort(alfa):
    rows = services.per_operator(today(alfa))
    assert [r["operator"] for r in selectors.sort_operators(rows, "-calls")] == ["OP1", "OP2"]
    assert [r["operator"] for r in selectors.sort_operators(rows, "talk_seconds")] == ["OP2", "OP1"]
    assert [r["operator"] for r in selectors.sort_operators(rows, "no_such_column")] == ["OP1", "OP2"]


def test_export_funnel(alfa):
    e1 = alfa["exports"][0]
    assert selectors.export_funnel(e1) == [
        ("sent", 3),
        ("dialled", 3),  # distinct clients; the call from two days ago came before the export
        ("answered", 2),
        ("right_party", 2),
        # Client 3 made an agreement without a right-party contact: it stopped there, the funnel never widens.
        ("agreement", 2),
        ("paid", 2),
    ]


def test_disposition_flag_on_the_defaults(db):
    from attendance.models import DispositionType

    flagged = dict(DispositionType.objects.filter(tenant=None).values_list("behavior", "debtor_contact"))
    assert flagged == {
        "caixa_postal": False,
        "ligacao_interrompida": False,
        "contato_incorreto": False,
        "retornar": True,
        "negociar": True,
    }


def test_closed_days_come_from_the_rollups_and_today_live(alfa):
    from dashboard.models import CallRollup, RolledUpDay
    from dialer.models import DialerCallEvent

    two_days_ago = TODAY - datetime.timedelta(days=2)
    f = dataclasses.replace(today(alfa), start=two_days_ago)
    assert services.summary(f)["dialled"] == 6
    assert RolledUpDay.objects.filter(tenant=alfa["tenant"], day=two_days_ago).exists()
    rolled = CallRollup.objects.get(tenant=alfa["tenant"], day=two_days_ago)
    assert (rolled.hour, rolled.agent_id, rolled.dialled, rolled.answered, rolled.talk_seconds) == (10, "101", 1, 1, 10)
    # The closed day is read from its roll-up, not from the events any more ...
    DialerCallEvent.objects.filter(tenant=alfa["tenant"], call_id="old").delete()
    assert services.summary(f)["dialled"] == 6
    # ... while today is read live.
    DialerCallEvent.objects.filter(tenant=alfa["tenant"], call_id="c0").delete()
    assert services.summary(f)["dialled"] == 5


def test_rolled_up_days_match_the_live_figures(alfa):
    """The whole scenario read live today, then rolled up and read tomorrow: the same figures."""
    from dashboard.rollups import roll_up

    expected = headline(services.summary(today(alfa)))
    expected_rows = services.per_operator(today(alfa))
    with freeze_time(NOW + datetime.timedelta(days=1)):
        roll_up(alfa["tenant"].pk, TODAY)
        assert headline(services.summary(today(alfa))) == expected
        assert services.per_operator(today(alfa)) == expected_rows
        assert services.hourly(today(alfa))[9]["dialled"] == 3


def test_roll_up_command_and_rerun(alfa):
    from django.core.management import call_command

    from dashboard.models import CallRollup, RolledUpDay
    from dashboard.rollups import roll_up

    call_command("roll_up_dashboard", "--days", "3")
    assert RolledUpDay.objects.filter(tenant=alfa["tenant"]).count() == 3  # the three closed days, not today
    two_days_ago = TODAY - datetime.timedelta(days=2)
    roll_up(alfa["tenant"].pk, two_days_ago)  # a rerun replaces the day's rows, never adds to them
    assert CallRollup.objects.get(tenant=alfa["tenant"], day=two_days_ago).dialled == 1
    with pytest.raises(ValueError):
        roll_up(alfa["tenant"].pk, TODAY)


def test_a_reversed_payment_is_not_received(alfa, tenant_admin):
    from attendance.models import Payment
    from attendance.payments import reverse_payment

    payment = Payment.objects.filter(tenant=alfa["tenant"]).order_by("pk").first()
    reverse_payment(alfa["tenant"], tenant_admin, payment, kind="chargeback", reason="contestado")
    assert services.summary(today(alfa))["received"] == D("150.00") - payment.amount
