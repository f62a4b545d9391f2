import datetime
from decimal import Decimal

import pytest

from attendance.negotiation import NegotiationError, OpenDebt, Proposal, Rules, add_months, simulate

TODAY = datetime.date(2026, 6, 15)
D = Decimal


def rules(**overrides):
    base = dict(
        max_discount_percent=D("30"),
        max_installments=12,
        min_installment_amount=D("50"),
        min_entry_percent=D("0"),
        monthly_interest_percent=D("0"),
        fine_percent=D("0"),
    )
    return Rules(**{**base, **overrides})


def test_equal_installments_with_remainder_on_the_last_add_up_to_the_cent():
    sim = simulate([OpenDebt(D("1000.00"), TODAY)], rules(), Proposal(installments=3, first_due_date=TODAY), TODAY)
    amounts = [p.amount for p in sim.installments]
    assert amounts == [D("333.33"), D("333.33"), D("333.34")]
    assert sum(amounts) == sim.total == D("1000.00")


def test_interest_by_whole_months_and_fine_once_for_overdue_debts():
    overdue = OpenDebt(D("1000.00"), TODAY - datetime.timedelta(days=95))  # 3 whole months
    current = OpenDebt(D("500.00"), TODAY + datetime.timedelta(days=10))
    sim = simulate(
        [overdue, current],
        rules(monthly_interest_percent=D("1"), fine_percent=D("2")),
        Proposal(first_due_date=TODAY),
        TODAY,
    )
    assert sim.principal == D("1500.00")
    assert sim.interest == D("30.00")
    assert sim.fine == D("20.00")
    assert sim.total == D("1550.00")


def test_discount_applies_to_the_corrected_total_rounded_half_up():
    sim = simulate(
        [OpenDebt(D("333.35"), TODAY)], rules(), Proposal(discount_percent=D("10"), first_due_date=TODAY), TODAY
    )
    assert sim.discount_amount == D("33.34")  # 33.335 rounds half up
    assert sim.total == D("300.01")


def test_entry_then_monthly_installments():
    sim = simulate(
        [OpenDebt(D("1200.00"), TODAY)],
        rules(),
        Proposal(installments=2, entry=D("200"), first_due_date=datetime.date(2026, 1, 31)),
        datetime.date(2026, 1, 20),
    )
    assert [(p.number, p.due_date, p.amount) for p in sim.installments] == [
        (0, datetime.date(2026, 1, 31), D("200.00")),
        (1, datetime.date(2026, 2, 28), D("500.00")),
        (2, datetime.date(2026, 3, 31), D("500.00")),
    ]


def test_within_limits_has_no_violations():
    sim = simulate(
        [OpenDebt(D("1200.00"), TODAY)],
        rules(),
        Proposal(discount_percent=D("20"), installments=6, first_due_date=TODAY),
        TODAY,
    )
    assert sim.within_limits
    assert sim.installments_count == 6


def test_each_limit_is_reported():
    sim = simulate(
        [OpenDebt(D("600.00"), TODAY)],
        rules(
            max_discount_percent=D("10"), max_installments=6, min_installment_amount=D("100"), min_entry_percent=D("20")
        ),
        Proposal(discount_percent=D("15"), installments=12, entry=D("0"), first_due_date=TODAY),
        TODAY,
    )
    text = " ".join(sim.violations)
    assert len(sim.violations) == 4
    assert "Desconto de 15% acima do máximo de 10%" in text
    assert "12 parcelas acima do máximo de 6" in text
    assert "abaixo do mínimo de R$ 100,00" in text
    assert "Entrada de R$ 0,00 abaixo do mínimo de 20%" in text


def test_a_vista_ignores_minimum_entry_and_minimum_installment():
    sim = simulate(
        [OpenDebt(D("30.00"), TODAY)],
        rules(min_entry_percent=D("50"), min_installment_amount=D("100")),
        Proposal(installments=1, first_due_date=TODAY),
        TODAY,
    )
    assert sim.within_limits


@pytest.mark.parametrize(
    "proposal",
    [
        Proposal(discount_percent=D("101")),
        Proposal(installments=0),
        Proposal(entry=D("-1")),
        Proposal(entry=D("5000")),
        Proposal(first_due_date=TODAY - datetime.timedelta(days=1)),
    ],
)
def test_impossible_proposals_are_errors_not_agreements(proposal):
    with pytest.raises(NegotiationError):
        simulate([OpenDebt(D("100"), TODAY)], rules(), proposal, TODAY)


def test_no_open_debts_is_an_error():
    with pytest.raises(NegotiationError):
        simulate([], rules(), Proposal(), TODAY)


def test_first_due_date_defaults_to_a_week_ahead():
    sim = simulate([OpenDebt(D("100"), TODAY)], rules(), Proposal(), TODAY)
    assert sim.installments[0].due_date == TODAY + datetime.timedelta(days=7)


def test_add_months_clamps_to_the_end_of_short_months():
    assert add_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)
    assert add_months(datetime.date(2026, 11, 30), 3) == datetime.date(2027, 2, 28)


def test_honorarios_enter_the_updated_amount_before_the_discount():
    overdue = OpenDebt(D("1000.00"), TODAY - datetime.timedelta(days=95))  # 3 whole months
    sim = simulate(
        [overdue],
        rules(monthly_interest_percent=D("1"), fine_percent=D("2"), fees_percent=D("10")),
        Proposal(discount_percent=D("10"), first_due_date=TODAY),
        TODAY,
    )
    assert (sim.principal, sim.interest, sim.fine) == (D("1000.00"), D("30.00"), D("20.00"))
    assert sim.fees == D("105.00")  # 10% of 1,050.00
    assert sim.corrected == D("1155.00")
    assert sim.discount_amount == D("115.50")
    assert sim.total == D("1039.50")


@pytest.mark.parametrize("installments", [3, 6, 12])
def test_a_shortcut_fills_the_minimum_entry_so_it_is_never_out_of_the_rules(installments):
    rules_with_entry = rules(min_entry_percent=D("20"), min_installment_amount=D("10"), fees_percent=D("10"))
    debts = [OpenDebt(D("1234.56"), TODAY)]
    plain = simulate(debts, rules_with_entry, Proposal(installments=installments, first_due_date=TODAY), TODAY)
    assert not plain.within_limits  # without the shortcut, no entry breaks the minimum entry rule
    sim = simulate(
        debts,
        rules_with_entry,
        Proposal(installments=installments, first_due_date=TODAY, fill_minimum_entry=True),
        TODAY,
    )
    assert sim.within_limits, sim.violations
    assert sim.entry == sim.minimum_entry == (sim.total * D("0.2")).quantize(D("0.01"))
    assert sum(p.amount for p in sim.installments) == sim.total


def test_a_shortcut_keeps_an_entry_already_above_the_minimum():
    sim = simulate(
        [OpenDebt(D("1000.00"), TODAY)],
        rules(min_entry_percent=D("10")),
        Proposal(installments=3, entry=D("500"), first_due_date=TODAY, fill_minimum_entry=True),
        TODAY,
    )
    assert sim.entry == D("500.00")
