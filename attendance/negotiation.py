"""The negotiation simulator: a pure calculation in Decimal, run on the server.

Rules, stated once:
- base = the client's open balance (sum of open debts);
- each overdue debt adds simple interest (monthly % × whole months overdue, a month being 30 days)
  and the fine % once; interest and fine are summed exactly and rounded to the cent once, half up;
- the agency's honorários % apply to base + interest + fine, rounded to the cent once, half up;
- the discount % applies to base + interest + fine + honorários and is rounded to the cent once, half up;
- total = corrected − discount; the entry is paid first, the rest in equal installments rounded
  down to the cent, the remainder on the last one, so the parts add up to the total exactly;
- the entry is due on the first due date and installments follow monthly; with no entry the
  first installment is due on the first due date;
- a proposal that asks for it (the 3x/6x/12x shortcuts) has its entry raised to the creditor's minimum, and
  then counts its installments as payments in all: "12x" with an entry is the entry and 11 installments.
"""

import dataclasses
import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from common.parsing import format_brl

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
MAX_INSTALLMENTS = 120


class NegotiationError(ValueError):
    """Input that cannot be simulated at all (as opposed to a proposal beyond the creditor's limits)."""


@dataclasses.dataclass(frozen=True)
class Rules:
    max_discount_percent: Decimal = Decimal("0")
    max_installments: int = 1
    min_installment_amount: Decimal = Decimal("0")
    min_entry_percent: Decimal = Decimal("0")
    monthly_interest_percent: Decimal = Decimal("0")
    fine_percent: Decimal = Decimal("0")
    fees_percent: Decimal = Decimal("0")

    @classmethod
    def from_creditor(cls, creditor):
        return cls(**{f.name: getattr(creditor, f.name) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class OpenDebt:
    amount: Decimal
    due_date: datetime.date


@dataclasses.dataclass(frozen=True)
class Proposal:
    discount_percent: Decimal = Decimal("0")
    installments: int = 1
    entry: Decimal = Decimal("0")
    first_due_date: datetime.date | None = None
    fill_minimum_entry: bool = False


@dataclasses.dataclass(frozen=True)
class Installment:
    number: int  # 0 is the entry
    due_date: datetime.date
    amount: Decimal


@dataclasses.dataclass(frozen=True)
class Simulation:
    principal: Decimal
    interest: Decimal
    fine: Decimal
    fees: Decimal
    corrected: Decimal
    discount_percent: Decimal
    discount_amount: Decimal
    total: Decimal
    entry: Decimal
    installments: tuple[Installment, ...]
    violations: tuple[str, ...]
    minimum_entry: Decimal = Decimal("0")

    @property
    def within_limits(self) -> bool:
        return not self.violations

    @property
    def installment_amount(self) -> Decimal:
        regular = [i.amount for i in self.installments if i.number > 0]
        return regular[0] if regular else Decimal("0")

    @property
    def installments_count(self) -> int:
        return sum(1 for i in self.installments if i.number > 0)


def add_months(date: datetime.date, months: int) -> datetime.date:
    month_index = date.month - 1 + months
    year, month = date.year + month_index // 12, month_index % 12 + 1
    for day in (date.day, 30, 29, 28):
        try:
            return datetime.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def months_overdue(due_date: datetime.date, today: datetime.date) -> int:
    return max((today - due_date).days, 0) // 30


def simulate(debts: list[OpenDebt], rules: Rules, proposal: Proposal, today: datetime.date) -> Simulation:
    if not debts:
        raise NegotiationError(_("O cliente não tem títulos em aberto para negociar."))
    discount_percent = Decimal(proposal.discount_percent)
    if not Decimal("0") <= discount_percent <= HUNDRED:
        raise NegotiationError(_("O desconto deve estar entre 0% e 100%."))
    if not 1 <= proposal.installments <= MAX_INSTALLMENTS:
        raise NegotiationError(_("O número de parcelas deve estar entre 1 e %(max)s.") % {"max": MAX_INSTALLMENTS})
    entry = Decimal(proposal.entry).quantize(CENT, rounding=ROUND_HALF_UP)
    if entry < 0:
        raise NegotiationError(_("A entrada não pode ser negativa."))
    first_due = proposal.first_due_date or today + datetime.timedelta(days=7)
    if first_due < today:
        raise NegotiationError(_("O primeiro vencimento não pode estar no passado."))

    principal = sum((d.amount for d in debts), Decimal("0"))
    interest = Decimal("0")
    fine = Decimal("0")
    for debt in debts:
        months = months_overdue(debt.due_date, today)
        interest += debt.amount * rules.monthly_interest_percent / HUNDRED * months
        if debt.due_date < today:
            fine += debt.amount * rules.fine_percent / HUNDRED
    interest = interest.quantize(CENT, rounding=ROUND_HALF_UP)
    fine = fine.quantize(CENT, rounding=ROUND_HALF_UP)
    fees = ((principal + interest + fine) * rules.fees_percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    corrected = principal + interest + fine + fees
    discount_amount = (corrected * discount_percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    total = corrected - discount_amount
    minimum_entry = (total * rules.min_entry_percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    if proposal.fill_minimum_entry and proposal.installments > 1:
        entry = max(entry, minimum_entry)
    if entry > total:
        raise NegotiationError(
            _("A entrada não pode ser maior que o total do acordo (%(total)s).") % {"total": format_brl(total)}
        )

    parts: list[Installment] = []
    remaining = total - entry
    count = proposal.installments
    if proposal.fill_minimum_entry and entry > 0 and count > 1:
        count -= 1
    if entry > 0:
        parts.append(Installment(0, first_due, entry))
        if remaining == 0:
            count = 0
    if count:
        each = (remaining / count).quantize(CENT, rounding=ROUND_DOWN)
        offset = 1 if entry > 0 else 0
        for number in range(1, count + 1):
            amount = each if number < count else remaining - each * (count - 1)
            parts.append(Installment(number, add_months(first_due, number - 1 + offset), amount))

    violations = []
    if discount_percent > rules.max_discount_percent:
        violations.append(
            _("Desconto de %(d)s%% acima do máximo de %(max)s%% do credor.")
            % {"d": _pct(discount_percent), "max": _pct(rules.max_discount_percent)}
        )
    if count > rules.max_installments:
        violations.append(
            _("%(n)s parcelas acima do máximo de %(max)s do credor.") % {"n": count, "max": rules.max_installments}
        )
    smallest = min((p.amount for p in parts if p.number > 0), default=None)
    if smallest is not None and count > 1 and smallest < rules.min_installment_amount:
        violations.append(
            _("Parcela de %(v)s abaixo do mínimo de %(min)s do credor.")
            % {"v": format_brl(smallest), "min": format_brl(rules.min_installment_amount)}
        )
    if count > 1 and entry < minimum_entry:
        violations.append(
            _("Entrada de %(v)s abaixo do mínimo de %(pct)s%% (%(min)s) do credor.")
            % {"v": format_brl(entry), "pct": _pct(rules.min_entry_percent), "min": format_brl(minimum_entry)}
        )

    return Simulation(
        principal=principal,
        interest=interest,
        fine=fine,
        fees=fees,
        corrected=corrected,
        discount_percent=discount_percent,
        discount_amount=discount_amount,
        total=total,
        entry=entry,
        installments=tuple(parts),
        violations=tuple(violations),
        minimum_entry=minimum_entry,
    )


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")
