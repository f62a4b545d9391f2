"""The creditor's monthly statement: what was received, split, what was reversed, and the repasse due.

Rules, stated once:
- a payment belongs to the month of its payment date, a reversal to the month of the day it was made (local
  time); either one dated in a month already closed (a late baixa, an estorno after the closing) goes to the
  creditor's first open month instead: a closed statement never changes;
- the months of a creditor are closed in order, and only once they are over;
- what a payment settled (its amount less the client's credit) is split in the proportions of its agreement:
  juros = settled × agreement juros ÷ (principal + juros + multa + honorários), multa and honorários alike, each
  rounded to the cent half up, and principal takes the rest, so the four add up to the cent; a payment on a título
  is all principal (títulos carry no juros, multa or honorários until they are negotiated). The agreement's
  discount applies to its whole corrected total, so it does not change the proportions;
- the client's credit (paid above what was open) is kept apart: it is neither repassed nor the agency's;
- honorários are the agency's revenue; the repasse due to the creditor is principal + juros + multa received,
  less the same of the reversals.
"""

import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance.models import Payment
from attendance.negotiation import add_months
from core.models import Creditor
from statements.models import Statement, StatementLine
from tenants.roles import is_back_office

CENT = Decimal("0.01")
ZERO = Decimal("0")
EARLIEST = datetime.date(1900, 1, 1)
PARTS = ("principal", "interest", "fine", "fees", "credit")


@dataclasses.dataclass(frozen=True)
class Split:
    principal: Decimal
    interest: Decimal
    fine: Decimal
    fees: Decimal
    credit: Decimal

    @property
    def amount(self) -> Decimal:
        return self.principal + self.interest + self.fine + self.fees + self.credit


def split_payment(payment: Payment) -> Split:
    """The payment's amount in principal, juros, multa, honorários and client's credit (see the module's rules)."""
    settled = payment.amount - payment.credit_amount
    agreement = payment.installment.agreement if payment.installment_id else None
    if agreement is None:
        return Split(settled, ZERO, ZERO, ZERO, payment.credit_amount)
    corrected = agreement.principal + agreement.interest + agreement.fine + agreement.fees
    if corrected <= 0:
        return Split(settled, ZERO, ZERO, ZERO, payment.credit_amount)

    def share(part: Decimal) -> Decimal:
        return (settled * part / corrected).quantize(CENT, rounding=ROUND_HALF_UP)

    interest, fine, fees = share(agreement.interest), share(agreement.fine), share(agreement.fees)
    return Split(settled - interest - fine - fees, interest, fine, fees, payment.credit_amount)


@dataclasses.dataclass(frozen=True)
class Line:
    payment: Payment
    kind: str
    day: datetime.date
    amount: Decimal
    split: Split

    def signed(self, name: str) -> Decimal:
        value = self.amount if name == "amount" else getattr(self.split, name)
        return -value if self.kind == StatementLine.Kind.REVERSED else value


@dataclasses.dataclass
class Figures:
    """A statement as shown and exported: open (computed now) or closed (as stored)."""

    creditor: Creditor
    month: datetime.date
    lines: list[Line]
    closed: Statement | None = None

    def total(self, name: str, kind: str | None = None) -> Decimal:
        return sum((line.signed(name) for line in self.lines if kind is None or line.kind == kind), ZERO)

    @property
    def received(self) -> Decimal:
        return self.total("amount", StatementLine.Kind.RECEIVED)

    @property
    def reversed_amount(self) -> Decimal:
        return -self.total("amount", StatementLine.Kind.REVERSED)

    @property
    def repasse(self) -> Decimal:
        return self.total("principal") + self.total("interest") + self.total("fine")

    def totals(self) -> dict[str, Decimal]:
        return {
            "received": self.received,
            "reversed_amount": self.reversed_amount,
            **{name: self.total(name) for name in PARTS},
            "repasse": self.repasse,
        }


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_end(month: datetime.date) -> datetime.date:
    return add_months(month, 1) - datetime.timedelta(days=1)


def _local_day_bounds(first: datetime.date, last: datetime.date):
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    return start, end


def last_closed_month(tenant, creditor) -> datetime.date | None:
    return (
        Statement.objects.filter(tenant=tenant, creditor=creditor)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )


def statement(tenant, creditor, month: datetime.date) -> Figures:
    """The month's statement: as stored when closed, else computed from the payments now."""
    month = month_start(month)
    closed = Statement.objects.filter(tenant=tenant, creditor=creditor, month=month).first()
    if closed is not None:
        return Figures(creditor, month, _stored_lines(closed), closed)
    return Figures(creditor, month, _open_lines(tenant, creditor, month))


def _stored_lines(closed: Statement) -> list[Line]:
    return [
        Line(row.payment, row.kind, row.day, row.amount, Split(*(getattr(row, name) for name in PARTS)))
        for row in closed.lines.select_related("payment__client").order_by("day", "id")
    ]


def _open_lines(tenant, creditor, month: datetime.date) -> list[Line]:
    last = last_closed_month(tenant, creditor)
    if last is not None and month <= last:
        return []  # a month before the last closed one, never closed itself, had nothing: it stays empty
    # The month closed next also takes what is dated in closed months but was not in their statements.
    takes_late = last is not None and _first_month_with_activity(tenant, creditor, before=month, after=last) is None
    since = EARLIEST if takes_late else month
    until = month_end(month)
    payments = Payment.objects.filter(tenant=tenant, client__creditor=creditor).select_related(
        "client", "installment__agreement"
    )
    counted = StatementLine.objects.filter(payment=OuterRef("pk"))
    received = payments.filter(paid_on__gte=since, paid_on__lte=until).exclude(
        Exists(counted.filter(kind=StatementLine.Kind.RECEIVED))
    )
    start, end = _local_day_bounds(since, until)
    reversed_ = payments.filter(reversed_at__gte=start, reversed_at__lt=end).exclude(
        Exists(counted.filter(kind=StatementLine.Kind.REVERSED))
    )
    lines = [
        Line(p, StatementLine.Kind.RECEIVED, p.paid_on, p.amount, split_payment(p))
        for p in received.order_by("paid_on", "id").iterator(chunk_size=2000)
    ]
    lines += [
        Line(p, StatementLine.Kind.REVERSED, timezone.localdate(p.reversed_at), p.amount, split_payment(p))
        for p in reversed_.order_by("reversed_at", "id").iterator(chunk_size=2000)
    ]
    lines.sort(key=lambda line: (line.day, line.kind != StatementLine.Kind.RECEIVED, line.payment.pk))
    return lines


def close_month(tenant, user, creditor, month: datetime.date) -> Statement:
    """Freeze the month's statement (its lines and totals are stored); a month closes once, in order, when over."""
    if not is_back_office(user):
        raise PermissionDenied(_("Só supervisores e administradores fecham a prestação de contas."))
    month = month_start(month)
    if month_end(month) >= timezone.localdate():
        raise ValidationError(_("O mês de %(m)s ainda não terminou.") % {"m": month.strftime("%m/%Y")})
    with transaction.atomic():
        # One closing per creditor at a time: the second waits here, then finds the month closed.
        Creditor.objects.select_for_update().get(pk=creditor.pk, tenant=tenant)
        if Statement.objects.filter(tenant=tenant, creditor=creditor, month=month).exists():
            raise ValidationError(_("A prestação de contas de %(m)s já está fechada.") % {"m": month.strftime("%m/%Y")})
        last = last_closed_month(tenant, creditor)
        if last is not None and month < last:
            raise ValidationError(
                _("%(m)s é anterior ao último mês fechado (%(l)s).")
                % {"m": month.strftime("%m/%Y"), "l": last.strftime("%m/%Y")}
            )
        earlier = _first_month_with_activity(tenant, creditor, before=month, after=last)
        if earlier is not None:
            raise ValidationError(
                _("Feche antes a prestação de contas de %(m)s: os meses são fechados em ordem.")
                % {"m": earlier.strftime("%m/%Y")}
            )
        figures = statement(tenant, creditor, month)
        totals = figures.totals()
        try:
            closed = Statement.objects.create(
                tenant=tenant,
                creditor=creditor,
                month=month,
                closed_by=user if getattr(user, "is_authenticated", False) else None,
                **totals,
            )
            StatementLine.objects.bulk_create(
                (
                    StatementLine(
                        statement=closed,
                        payment=line.payment,
                        kind=line.kind,
                        day=line.day,
                        amount=line.amount,
                        **{name: getattr(line.split, name) for name in PARTS},
                    )
                    for line in figures.lines
                ),
                batch_size=1000,
            )
        except IntegrityError as error:
            raise ValidationError(_("Esta prestação de contas foi fechada agora por outra pessoa.")) from error
    return closed


def _first_month_with_activity(tenant, creditor, *, before: datetime.date, after: datetime.date | None):
    """The first month before `before` (and after `after`) with a payment or a reversal no statement counted."""
    low = add_months(after, 1) if after is not None else None
    counted = StatementLine.objects.filter(payment=OuterRef("pk"))
    payments = Payment.objects.filter(tenant=tenant, client__creditor=creditor)
    days = []
    received = payments.filter(paid_on__lt=before).exclude(Exists(counted.filter(kind=StatementLine.Kind.RECEIVED)))
    if low is not None:
        received = received.filter(paid_on__gte=low)
    first = received.order_by("paid_on").values_list("paid_on", flat=True).first()
    if first is not None:
        days.append(first)
    start, _end = _local_day_bounds(before, before)
    reversed_ = payments.filter(Q(reversed_at__lt=start)).exclude(
        Exists(counted.filter(kind=StatementLine.Kind.REVERSED))
    )
    if low is not None:
        reversed_ = reversed_.filter(reversed_at__gte=_local_day_bounds(low, low)[0])
    first_reversal = reversed_.order_by("reversed_at").values_list("reversed_at", flat=True).first()
    if first_reversal is not None:
        days.append(timezone.localdate(first_reversal))
    return month_start(min(days)) if days else None
