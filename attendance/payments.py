"""Money that lands: payments against agreement installments or títulos, and agreements that finish or break.

Rules, stated once:
- a payment settles one target, an agreement installment or a título; partial payments are allowed;
- a payment above what is still open on its target is refused unless the excess is explicitly accepted as
  the client's credit: then the target is paid in full and the excess is kept on the payment
  (`credit_amount`) for the back office to refund or apply; it never silently pays something else;
- an agreement whose installments are all paid is quitado, and so are its títulos;
- an active agreement with an installment open for more than the creditor's tolerance (days) after its due
  date is quebrado: what was paid on it is credited to its títulos oldest first, and the rest reopens;
- a client with no open título left is quitado and leaves the dialer lists;
- a reversed payment (estorno) is kept, marked reversed, and undoes what it settled (see reverse_payment);
  reports and sums of money received leave reversed payments out.
"""

import dataclasses
import datetime
import functools
import json
import uuid
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.models.base import ModelState
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from attendance.models import Agreement, AgreementInstallment, Payment
from common.parsing import DATE_WINDOW, clean_text, format_brl, format_cpf
from core import services as core_services
from core.models import Client, Creditor, Debt
from tenants import audit
from tenants.models import AuditEvent
from tenants.roles import is_back_office

Installment = AgreementInstallment
ZERO = Decimal("0")
# Payments are dated from here to today, by hand or by file: 01/01/0001 or 9999 is a typo that would sit in
# every report, sum and export that shows the payment.
PAID_ON_EARLIEST = DATE_WINDOW[0]  # the window every date from outside falls in; a payment is never future
# What an overpayment's message names, translated only when the message is written (a file applies 100,000 rows).
OF_INSTALLMENT = gettext_lazy("da parcela")
OF_DEBT = gettext_lazy("do título")


@dataclasses.dataclass(frozen=True)
class PaymentInput:
    amount: Decimal
    paid_on: datetime.date
    method: str = Payment.Method.OTHER
    external_id: str = ""
    accept_credit: bool = False
    notes: str = ""
    source: str = Payment.Source.MANUAL
    # The baixa form's: the same submitted form (a double click, a resubmission) posts one payment.
    submission_token: uuid.UUID | None = None


def post_payment(
    tenant, user, data: PaymentInput, *, installment=None, debt=None, refresh: bool = True
) -> tuple[Payment, bool]:
    """Record a payment against an installment or a título; (payment, created).

    A payment id or a submission token already recorded for the tenant returns the first payment and changes
    nothing, also when both arrive at once (the second waits for the first's lock, then finds its payment).
    refresh=False leaves the client's balance and situation to the caller's refresh_clients (a file import
    refreshes once per chunk instead of once per row).
    """
    if (installment is None) == (debt is None):
        raise ValidationError(_("Informe a parcela do acordo ou o título pago."))
    _check_input(data)
    existing = _already_posted(tenant, data)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            if installment is not None:
                return _pay_installment(tenant, user, data, installment)
            return _pay_debt(tenant, user, data, debt, refresh)
    except IntegrityError:
        # The same payment id or token posted at once against another target: the first one won.
        existing = _already_posted(tenant, data)
        if existing is None:
            raise
        return existing, False


def _already_posted(tenant, data: PaymentInput) -> Payment | None:
    if data.external_id:
        return Payment.objects.filter(tenant=tenant, external_id=data.external_id).first()
    if data.submission_token:
        return Payment.objects.filter(tenant=tenant, submission_token=data.submission_token).first()
    return None


def check_paid_on(paid_on: datetime.date, today: datetime.date | None = None) -> None:
    """ValidationError (on paid_on) for a payment date outside 01/01/1990 to today: the form's and the file's."""
    if paid_on > (today or timezone.localdate()):
        raise ValidationError({"paid_on": _("A data do pagamento não pode estar no futuro.")})
    if paid_on < PAID_ON_EARLIEST:
        raise ValidationError(
            {
                "paid_on": _("A data do pagamento é anterior a %(d)s: confira o ano.")
                % {"d": PAID_ON_EARLIEST.strftime("%d/%m/%Y")}
            }
        )


def _check_input(data: PaymentInput, today: datetime.date | None = None) -> None:
    if data.amount is None or data.amount <= 0:
        raise ValidationError({"amount": _("O valor pago deve ser maior que zero.")})
    check_paid_on(data.paid_on, today)


def _split(data: PaymentInput, open_amount: Decimal, what: str) -> tuple[Decimal, Decimal]:
    """(applied, credit): refuse an overpayment unless its excess was accepted as credit."""
    if data.amount <= open_amount:
        return data.amount, ZERO
    if not data.accept_credit:
        raise ValidationError(
            {
                "amount": _(
                    "O valor de %(paid)s é maior que o saldo de %(open)s %(what)s. Corrija o valor ou aceite "
                    "o excedente de %(excess)s como crédito do cliente."
                )
                % {
                    "paid": format_brl(data.amount),
                    "open": format_brl(open_amount),
                    "what": what,
                    "excess": format_brl(data.amount - open_amount),
                }
            }
        )
    return open_amount, data.amount - open_amount


def _pay_installment(tenant, user, data, installment) -> tuple[Payment, bool]:
    agreement = Agreement.objects.select_for_update().get(pk=installment.agreement_id, tenant=tenant)
    installment = Installment.objects.select_for_update().get(pk=installment.pk)
    # A twin submission held the lock until it committed: its payment is the answer, not "already paid".
    existing = _already_posted(tenant, data)
    if existing is not None:
        return existing, False
    if agreement.status != Agreement.Status.ACTIVE:
        raise ValidationError(
            _("O acordo #%(id)s está %(status)s: não recebe pagamentos nas parcelas.")
            % {"id": agreement.pk, "status": agreement.get_status_display().lower()}
        )
    if installment.status == Installment.Status.PAID:
        raise ValidationError(_("%(i)s do acordo #%(id)s já está paga.") % {"i": installment, "id": agreement.pk})
    applied, credit = _split(data, installment.open_amount, OF_INSTALLMENT)
    installment.paid_amount += applied
    if installment.paid_amount >= installment.amount:
        installment.status = Installment.Status.PAID
        installment.paid_on = data.paid_on
        installment.payment_method = data.method
    installment.save(update_fields=["paid_amount", "status", "paid_on", "payment_method"])
    payment = _create(tenant, user, data, agreement.client_id, credit, installment=installment)
    if not agreement.installments.filter(status=Installment.Status.OPEN).exists():
        _settle(agreement, user)
    return payment, True


def _pay_debt(tenant, user, data, debt, refresh) -> tuple[Payment, bool]:
    debt = Debt.objects.select_for_update().get(pk=debt.pk, tenant=tenant)
    existing = _already_posted(tenant, data)
    if existing is not None:
        return existing, False
    credit = _apply_to_debt(data, debt)
    debt.save(update_fields=["paid_amount", "status"])
    payment = _create(tenant, user, data, debt.client_id, credit, debt=debt)
    if refresh:
        refresh_clients([debt.client_id])
    return payment, True


def _apply_to_debt(data: PaymentInput, debt: Debt) -> Decimal:
    """Pay the (locked) título in memory; returns the credit. The caller saves it."""
    if debt.status == Debt.Status.IN_AGREEMENT:
        raise ValidationError(_("O título %(d)s está em acordo: dê baixa na parcela do acordo.") % {"d": debt})
    if debt.status != Debt.Status.OPEN:
        raise ValidationError(_("O título %(d)s está %(s)s.") % {"d": debt, "s": debt.get_status_display().lower()})
    applied, credit = _split(data, debt.open_amount, OF_DEBT)
    debt.paid_amount += applied
    if debt.paid_amount >= debt.original_amount:
        debt.status = Debt.Status.PAID
    return credit


def post_debt_payments(tenant, user, items: list[tuple[PaymentInput, int]]) -> list[tuple[int, Exception | None]]:
    """Many título payments at once (a file import): [(data, debt id)] -> [(index, error or None)].

    The same rules as post_payment, with one lock, one insert and one update for the lot. Payment ids are
    expected to be new (the import filters the ones already recorded). Call inside a transaction. On PostgreSQL the
    payments and their audit events are written with COPY (_post_debt_payments_copy), elsewhere by the ORM.
    """
    if connection.vendor == "postgresql":
        return _post_debt_payments_copy(tenant, user, items)
    return _post_debt_payments_orm(tenant, user, items)


def post_installment_payments(
    tenant, user, items: list[tuple[PaymentInput, int]]
) -> list[tuple[int, Exception | None]]:
    """Many agreement installment payments at once (a file import): [(data, installment id)] -> [(index, error or
    None)], in order, as post_payment would post them one after another.

    The agreements, then the installments, locked in one query each (the order _pay_installment locks them in);
    the rules applied in memory; the payments written at once (COPY on PostgreSQL) with their audit events, the
    installments by one UPDATE; the agreements left with no open installment are quitados together (_settle_many).
    Payment ids are expected to be new (the import filters the ones already recorded). Call inside a transaction.
    """
    if not items:
        return []
    named = among(Installment.objects.filter(agreement__tenant=tenant), "pk", {pk for _data, pk in items})
    agreement_of = dict(named.values_list("pk", "agreement_id"))
    agreements = {
        pk: (status, client_id)
        for pk, status, client_id in Agreement.objects.select_for_update()
        .filter(tenant=tenant, pk__in=set(agreement_of.values()))
        .order_by("pk")
        .values_list("pk", "status", "client_id")
    }
    # Every installment of those agreements: the one paid last settles its agreement, and a later row of the file
    # finds the agreement quitado, as one post_payment after another would.
    installments, open_count = {}, defaultdict(int)
    locked = among(Installment.objects.select_for_update(), "agreement_id", list(agreements)).order_by("pk")
    for values in locked.values_list(*INSTALLMENT_STATE):
        i = InstallmentState(*values)
        installments[i.pk] = i
        open_count[i.agreement_id] += i.status == Installment.Status.OPEN
    results, accepted, changed, settled = [], [], {}, []
    today = timezone.localdate()
    for index, (data, installment_id) in enumerate(items):
        installment = installments.get(installment_id)
        try:
            if installment is None:
                raise ValidationError(_("Parcela do acordo não encontrada."))
            _check_input(data, today)
            agreement_id = installment.agreement_id
            status, client_id = agreements[agreement_id]
            if status != Agreement.Status.ACTIVE:
                raise ValidationError(
                    _("O acordo #%(id)s está %(status)s: não recebe pagamentos nas parcelas.")
                    % {"id": agreement_id, "status": str(Agreement.Status(status).label).lower()}
                )
            if installment.status == Installment.Status.PAID:
                raise ValidationError(
                    _("%(i)s do acordo #%(id)s já está paga.") % {"i": installment, "id": agreement_id}
                )
            applied, credit = _split(data, installment.open_amount, OF_INSTALLMENT)
        except ValidationError as error:
            results.append((index, error))
            continue
        installment.paid_amount += applied
        if installment.paid_amount >= installment.amount:
            installment.status = Installment.Status.PAID
            installment.paid_on = data.paid_on
            installment.payment_method = data.method
            open_count[agreement_id] -= 1
            if not open_count[agreement_id]:
                agreements[agreement_id] = (Agreement.Status.COMPLETED, client_id)
                settled.append(agreement_id)
        changed[installment.pk] = installment
        accepted.append((data, client_id, installment.pk, credit))
        results.append((index, None))
    if not accepted:
        return results
    if connection.vendor == "postgresql":
        _copy_payments(tenant, user, accepted, target="installment")
    else:
        new_payments = [
            _build(tenant, user, data, client_id, credit, installment_id=installment_id)
            for data, client_id, installment_id, credit in accepted
        ]
        Payment.objects.bulk_create(new_payments, batch_size=1000)
        AuditEvent.objects.bulk_create(
            (
                audit.build(tenant, user, audit.Action.PAYMENT_POSTED, p, changes=_audit_changes(p))
                for p in new_payments
            ),
            batch_size=1000,
        )
    _bulk_set(Installment, list(changed.values()), ["paid_amount", "status", "paid_on", "payment_method"])
    _settle_many(tenant, user, sorted(settled))
    return results


def _settle_many(tenant, user, agreement_ids: list[int]) -> None:
    """_settle for many (locked, active) agreements whose installments are all paid: a few statements for the lot,
    the same rows, audit events and post_save (the payments app cancels their charges) as one _settle each."""
    if not agreement_ids:
        return
    now = timezone.now()
    reason = _("Todas as parcelas pagas.")
    Agreement.objects.filter(pk__in=agreement_ids).update(
        status=Agreement.Status.COMPLETED, closed_at=now, close_reason=reason
    )
    through = Agreement.debts.through
    if connection.vendor == "postgresql":
        # The títulos' ids first (an init plan), then each by its primary key: joined or IN (subquery), the planner
        # read every título of the table.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Debt._meta.db_table} d SET status = %s WHERE d.id = ANY(ARRAY("
                f"SELECT l.debt_id FROM {through._meta.db_table} l WHERE l.agreement_id = ANY(%s::bigint[])"
                ")) AND d.status = %s",
                [Debt.Status.PAID, _array_literal(agreement_ids), Debt.Status.IN_AGREEMENT],
            )
    else:
        Debt.objects.filter(
            pk__in=through.objects.filter(agreement_id__in=agreement_ids).values("debt_id"),
            status=Debt.Status.IN_AGREEMENT,
        ).update(status=Debt.Status.PAID)
    # Each one's client: the audit event names the agreement by it ("Acordo #12 — Maria (123.456.789-09)"), as
    # str(agreement) does.
    rows = list(
        Agreement.objects.filter(pk__in=agreement_ids)
        .order_by("pk")
        .values_list("pk", "client_id", "client__name", "client__cpf")
    )
    client_ids = sorted({client_id for _pk, client_id, _name, _cpf in rows})
    if connection.vendor != "postgresql":  # on PostgreSQL, in refresh_clients_sql's write of each client
        Client.objects.filter(pk__in=client_ids).update(status=Client.Status.OPEN)
    changes = {"situação": [str(Agreement.Status.ACTIVE.label), str(Agreement.Status.COMPLETED.label)]}
    template = _("Acordo #%(id)s — %(client)s")
    events = [
        (pk, template % {"id": pk, "client": f"{name} ({format_cpf(cpf)})"}, changes) for pk, _c, name, cpf in rows
    ]
    _write_audit_events(tenant, user, audit.Action.AGREEMENT_SETTLED, Agreement, events, now)
    # What Agreement.save would have sent: the payments app cancels the charges of an agreement that ended.
    if post_save.has_listeners(Agreement):
        update_fields = frozenset(["status", "closed_at", "close_reason"])
        template = Agreement(tenant=tenant, status=Agreement.Status.COMPLETED, closed_at=now, close_reason=reason)
        for pk, client_id, _name, _cpf in rows:
            agreement = _copy_of(template, id=pk, client_id=client_id)
            post_save.send(
                sender=Agreement,
                instance=agreement,
                created=False,
                update_fields=update_fields,
                raw=False,
                using="default",
            )
    if connection.vendor == "postgresql":
        refresh_clients_sql(client_ids, reopen=True)
    else:
        refresh_clients(client_ids)


def _copy_of(template, **values):
    """A saved instance like `template` (its related objects cached too) with `values` set: Model.__init__ runs
    every field's default, a millisecond per instance when a file pays off thousands of agreements."""
    instance = template.__class__.__new__(template.__class__)
    instance.__dict__.update(template.__dict__)
    instance.__dict__.update(values)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = "default"
    instance._state.fields_cache = dict(template._state.fields_cache)
    return instance


def _write_audit_events(tenant, user, action, model, events: list[tuple[int, str, dict]], at) -> None:
    """Audit events [(object id, object repr, changes)] of one action on `model`'s rows: COPied on PostgreSQL, one
    bulk insert elsewhere; the same rows as audit.build for each object."""
    if not events:
        return
    object_type = str(model._meta.verbose_name)
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_create(
            (
                AuditEvent(
                    tenant=tenant,
                    user_id=user_id,
                    action=action,
                    object_type=object_type,
                    object_id=str(pk),
                    object_repr=text[:200],
                    changes=changes,
                    at=at,
                )
                for pk, text, changes in events
            ),
            batch_size=1000,
        )
        return
    given = ["tenant", "user", "action", "object_type", "object_id", "object_repr", "changes", "at"]
    columns, constants = _copy_columns(AuditEvent, given)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY tenants_auditevent ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for pk, text, changes in events:
            copy.write_row(
                (
                    tenant.pk,
                    user_id,
                    audit.Action(action).value,
                    object_type,
                    str(pk),
                    text[:200],
                    json.dumps(changes, ensure_ascii=False),
                    at,
                    *constants,
                )
            )


def _post_debt_payments_orm(tenant, user, items):
    debts = {
        d.pk: d
        for d in Debt.objects.select_for_update()
        .filter(tenant=tenant, pk__in={debt_id for _data, debt_id in items})
        .order_by("pk")
    }
    results, new_payments, changed = [], [], {}
    for index, (data, debt_id) in enumerate(items):
        debt = debts[debt_id]
        before = (debt.paid_amount, debt.status)
        try:
            _check_input(data)
            credit = _apply_to_debt(data, debt)
        except ValidationError as error:
            debt.paid_amount, debt.status = before
            results.append((index, error))
            continue
        changed[debt.pk] = debt
        new_payments.append(_build(tenant, user, data, debt.client_id, credit, debt=debt))
        results.append((index, None))
    _bulk_set(Debt, list(changed.values()), ["paid_amount", "status"])
    Payment.objects.bulk_create(new_payments, batch_size=1000)
    AuditEvent.objects.bulk_create(
        (audit.build(tenant, user, audit.Action.PAYMENT_POSTED, p, changes=_audit_changes(p)) for p in new_payments),
        batch_size=1000,
    )
    refresh_clients({d.client_id for d in changed.values()})
    return results


DEBT_STATE = ["id", "client_id", "contract_code", "installment_number", "installment_total", "original_amount"]


@dataclasses.dataclass(slots=True, eq=False)
class InstallmentState:
    """An agreement installment as the payment rules read and write it, without a model instance (see DebtState)."""

    pk: int
    agreement_id: int
    number: int
    amount: Decimal
    paid_amount: Decimal
    status: str
    paid_on: datetime.date | None
    payment_method: str

    __str__ = Installment.__str__
    open_amount = Installment.open_amount


INSTALLMENT_STATE = [field.name for field in dataclasses.fields(InstallmentState)]  # its values_list, in order


@dataclasses.dataclass(slots=True, eq=False)
class DebtState:
    """What the payment rules read and write of a título, without a model instance's cost (a file builds 100,000):
    the fields _apply_to_debt, _bulk_set and the messages use, under the model's names."""

    pk: int
    client_id: int
    contract_code: str
    installment_number: int
    installment_total: int
    original_amount: Decimal | None = None
    paid_amount: Decimal | None = None
    status: str | None = None

    __str__ = Debt.__str__
    open_amount = Debt.open_amount

    def get_status_display(self) -> str:
        return str(Debt.Status(self.status).label)


def _post_debt_payments_copy(tenant, user, items):
    """post_debt_payments on PostgreSQL: the títulos locked and read in one query, the rules applied in memory, the
    payments and audit events COPied in (their ids drawn from the payments' sequence first, so that each event
    names its payment), the títulos written by one UPDATE and the clients refreshed by one more."""
    debt_ids = sorted({debt_id for _data, debt_id in items})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(DEBT_STATE)}, paid_amount, status FROM core_debt "
            "WHERE tenant_id = %s AND id = ANY(%s) ORDER BY id FOR UPDATE",
            [tenant.pk, debt_ids],
        )
        debts = {row[0]: DebtState(*row) for row in cursor.fetchall()}
    results, accepted, changed = [], [], {}
    today = timezone.localdate()
    for index, (data, debt_id) in enumerate(items):
        debt = debts[debt_id]
        before = (debt.paid_amount, debt.status)
        try:
            _check_input(data, today)
            credit = _apply_to_debt(data, debt)
        except ValidationError as error:
            debt.paid_amount, debt.status = before
            results.append((index, error))
            continue
        changed[debt.pk] = debt
        accepted.append((data, debt.client_id, debt.pk, credit))
        results.append((index, None))
    if accepted:
        _copy_payments(tenant, user, accepted)
    _bulk_set(Debt, list(changed.values()), ["paid_amount", "status"])
    refresh_clients_sql({d.client_id for d in changed.values()})
    return results


def among(queryset, field: str, values):
    """`queryset` filtered on `field` in `values`. On PostgreSQL as `= ANY(one array)`: a chunk's 5,000-value IN list
    costs more to quote on the client and to parse on the server than the query costs to run."""
    values = list(values)
    if connection.vendor != "postgresql" or not values:
        return queryset.filter(**{f"{field}__in": values})
    model = queryset.model
    target = model._meta.pk if field == "pk" else model._meta.get_field(field)
    # Cast to the column's type: a list of ints alone may travel as numeric[], and bigint = numeric skips the index.
    column = f'"{model._meta.db_table}"."{target.column}"'
    return queryset.extra(
        where=[f"{column} = ANY(%s::{target.db_type(connection)}[])"], params=[_array_literal(values)]
    )


def _copy_columns(model, given: list[str]) -> tuple[list[str], list]:
    """The columns a COPY into `model`'s table writes: `given` (field names, in order), then every other column
    without a database default, filled as the ORM would fill it (a column added to the model later included)."""
    fields = {f.name: f for f in model._meta.concrete_fields}
    columns = [fields[name].column for name in given]
    constants = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in given or field.has_db_default():
            continue
        columns.append(field.column)
        constants.append(field.get_db_prep_save(field.get_default(), connection))
    return columns, constants


def _copy_payments(tenant, user, accepted: list[tuple[PaymentInput, int, int, Decimal]], target: str = "debt") -> None:
    """COPY the payments [(data, client id, target id, credit)] against `target` ("debt" or "installment") and their
    audit events."""
    now = timezone.now()
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('attendance_payment', 'id')) FROM generate_series(1, %s)",
            [len(accepted)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        given = [
            "id",
            "tenant",
            "client",
            target,
            "paid_on",
            "amount",
            "credit_amount",
            "method",
            "source",
            "external_id",
            "submission_token",
            "notes",
            "created_by",
            "created_at",
        ]
        columns, constants = _copy_columns(Payment, given)
        raw = cursor.cursor
        with raw.copy(f"COPY attendance_payment ({', '.join(columns)}) FROM STDIN") as copy:
            for pk, (data, client_id, target_id, credit) in zip(ids, accepted, strict=True):
                copy.write_row(
                    (
                        pk,
                        tenant.pk,
                        client_id,
                        target_id,
                        data.paid_on,
                        data.amount,
                        credit,
                        data.method,
                        data.source,
                        data.external_id,
                        data.submission_token,
                        data.notes,
                        user_id,
                        now,
                        *constants,
                    )
                )
        given = ["tenant", "user", "action", "object_type", "object_id", "object_repr", "changes", "at"]
        columns, constants = _copy_columns(AuditEvent, given)
        object_type = str(Payment._meta.verbose_name)
        source_labels = {value: str(label) for value, label in Payment.Source.choices}
        repr_template = _("Pagamento de %(v)s em %(d)s")
        # A file's payments share a few dates: each written once (strftime costs more than the COPY of its row).
        shown_date = functools.cache(lambda day: day.strftime("%d/%m/%Y"))
        with raw.copy(f"COPY tenants_auditevent ({', '.join(columns)}) FROM STDIN") as copy:
            for pk, (data, _client_id, _target_id, credit) in zip(ids, accepted, strict=True):
                changes = _changes_of(data.amount, data.paid_on, credit, data.source, data.external_id, source_labels)
                copy.write_row(
                    (
                        tenant.pk,
                        user_id,
                        audit.Action.PAYMENT_POSTED.value,
                        object_type,
                        str(pk),
                        (repr_template % {"v": format_brl(data.amount), "d": shown_date(data.paid_on)})[:200],
                        json.dumps(changes, ensure_ascii=False),
                        now,
                        *constants,
                    )
                )


def refresh_clients_sql(client_ids, *, reopen: bool = False) -> None:
    """refresh_clients in one UPDATE on PostgreSQL, for what a payment moves: open balance, oldest open due date
    and situation (quitado when nothing is open and something was paid, em aberto again when something reopens;
    other situations are the agreement's). Rows that would not change are not written. reopen: the clients' agreement
    just ended (quitado), their situation is em aberto before the rules apply, in the same write of each row."""
    client_ids = sorted(client_ids)
    if not client_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH sums AS (
                -- Per client through the (client, contract, installment) index: grouped over the whole array,
                -- the planner scans every título of the table.
                SELECT ids.id AS client_id, s.*
                FROM unnest(%(ids)s::bigint[]) AS ids(id) CROSS JOIN LATERAL (
                    SELECT SUM(d.original_amount - d.paid_amount) FILTER (WHERE d.status = %(open)s) AS balance,
                           MIN(d.due_date) FILTER (WHERE d.status = %(open)s) AS oldest,
                           bool_or(d.status IN (%(open)s, %(in_agreement)s)) AS has_open,
                           bool_or(d.status = %(paid)s) AS has_paid
                    FROM core_debt d
                    WHERE d.client_id = ids.id
                ) s
            ), base AS (
                SELECT c.id, CASE WHEN %(reopen)s THEN %(client_open)s ELSE c.status END AS status
                FROM core_client c
                WHERE c.id = ANY(%(ids)s)
            ), new AS (
                SELECT c.id, COALESCE(s.balance, 0) AS balance, s.oldest,
                       CASE WHEN c.status = %(client_open)s AND s.has_paid AND NOT s.has_open THEN %(client_paid)s
                            WHEN c.status = %(client_paid)s AND s.has_open THEN %(client_open)s
                            ELSE c.status END AS status
                FROM base c LEFT JOIN sums s ON s.client_id = c.id
            )
            UPDATE core_client c SET open_balance = new.balance, oldest_due_date = new.oldest, status = new.status
            FROM new
            WHERE c.id = new.id
              AND (c.open_balance, c.oldest_due_date, c.status) IS DISTINCT FROM (new.balance, new.oldest, new.status)
            RETURNING c.id, c.status
            """,
            {
                "ids": client_ids,
                "open": Debt.Status.OPEN,
                "in_agreement": Debt.Status.IN_AGREEMENT,
                "paid": Debt.Status.PAID,
                "client_open": Client.Status.OPEN,
                "client_paid": Client.Status.PAID,
                "reopen": reopen,
            },
        )
        paid_off = [pk for pk, status in cursor.fetchall() if status == Client.Status.PAID]
    _stop_calling_paid_off(paid_off)


def _stop_calling_paid_off(client_ids) -> None:
    """Clients paid off leave the dialer lists (after the commit, the hooks hearing them all at once)."""
    if client_ids:
        core_services.stop_calling_clients(
            Client.objects.filter(pk__in=client_ids).only("pk", "tenant_id"), reason="quitado"
        )


def _bulk_set(model, objects: list, fields: list[str]) -> None:
    """Write `fields` of many rows. Django's bulk_update builds a CASE per row, seconds of CPU per thousand
    rows; on PostgreSQL one UPDATE joins the new values, passed as one array per column, instead."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        # bulk_update takes model instances: a DebtState or InstallmentState becomes one with the fields it writes.
        objects = [
            o if isinstance(o, model) else model(pk=o.pk, **{name: getattr(o, name) for name in fields})
            for o in objects
        ]
        model.objects.bulk_update(objects, fields, batch_size=1000)
        return
    columns = [model._meta.get_field(name) for name in fields]
    names = ", ".join(c.column for c in columns)
    sql = (
        f"UPDATE {model._meta.db_table} AS t SET {', '.join(f'{c.column} = v.{c.column}' for c in columns)} "
        f"FROM unnest(%s::bigint[], {', '.join(f'%s::{c.db_type(connection)}[]' for c in columns)}) "
        f"AS v(pk, {names}) WHERE t.{model._meta.pk.column} = v.pk AND t.{model._meta.pk.column} = ANY(%s::bigint[])"
    )
    # Each column goes as one array literal: quoting 5,000 values one by one on the client costs more than the UPDATE.
    # The ids twice: joined to an unnest alone, the planner hashes the whole table (250 ms per 5,000 of 500,000 rows).
    ids = _array_literal(o.pk for o in objects)
    params = [ids] + [_array_literal(_prepared(c, getattr(o, c.attname)) for o in objects) for c in columns] + [ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


_AS_TEXT = (str, int, Decimal, type(None))


def _prepared(field, value):
    """The value as the database takes it: text, numbers, None and dates as they are (their text is what the
    column reads), anything else through the field."""
    if value.__class__ in _AS_TEXT or value.__class__ is datetime.date:
        return value
    return field.get_db_prep_save(value, connection)


def _array_literal(values) -> str:
    """A PostgreSQL array literal ('{"1","2",NULL}') of the values' text: each element quoted, its quotes and
    backslashes escaped, None as NULL; the column's cast (::numeric[], ::date[]…) reads them back."""
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value) -> str:
    if value is None:
        return "NULL"
    if value.__class__ in _UNQUOTED:  # digits, signs, dots and dashes only: nothing to quote
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


_UNQUOTED = (int, Decimal, datetime.date)


def _build(tenant, user, data, client_id, credit, **target) -> Payment:
    return Payment(
        tenant=tenant,
        client_id=client_id,
        paid_on=data.paid_on,
        amount=data.amount,
        credit_amount=credit,
        method=data.method,
        source=data.source,
        external_id=data.external_id,
        submission_token=data.submission_token,
        notes=data.notes,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        **target,
    )


def _create(tenant, user, data, client_id, credit, **target) -> Payment:
    payment = _build(tenant, user, data, client_id, credit, **target)
    payment.save()
    audit.record(tenant, user, audit.Action.PAYMENT_POSTED, payment, changes=_audit_changes(payment))
    return payment


def _audit_changes(payment: Payment) -> dict:
    """By hand or from a file, every payment is audited: money that lands is whose and where it came from."""
    return _changes_of(payment.amount, payment.paid_on, payment.credit_amount, payment.source, payment.external_id)


def _changes_of(amount, paid_on, credit, source, external_id, source_labels=None) -> dict:
    changes = {"valor": ["", str(amount)], "data": ["", paid_on.isoformat()]}
    if credit:
        changes["crédito"] = ["", str(credit)]
    if source != Payment.Source.MANUAL:
        label = source_labels[source] if source_labels else str(Payment.Source(source).label)
        changes["origem"] = ["", label]
        if external_id:
            changes["ID do pagamento"] = ["", external_id]
    return changes


def _settle(agreement: Agreement, user) -> None:
    agreement.status = Agreement.Status.COMPLETED
    agreement.closed_at = timezone.now()
    agreement.close_reason = _("Todas as parcelas pagas.")
    agreement.save(update_fields=["status", "closed_at", "close_reason"])
    agreement.debts.filter(status=Debt.Status.IN_AGREEMENT).update(status=Debt.Status.PAID)
    Client.objects.filter(pk=agreement.client_id).update(status=Client.Status.OPEN)
    audit.record(
        agreement.tenant,
        user,
        audit.Action.AGREEMENT_SETTLED,
        agreement,
        changes={"situação": [str(Agreement.Status.ACTIVE.label), str(Agreement.Status.COMPLETED.label)]},
    )
    refresh_clients([agreement.client_id])


def refresh_clients(client_ids) -> None:
    """Balance and situation after money moved; clients paid off leave the dialer lists."""
    clients = Client.objects.filter(pk__in=client_ids)
    clients.refresh_summaries()
    clients.refresh_situation()
    core_services.stop_calling_clients(clients.filter(status=Client.Status.PAID), reason="quitado")


# Breakage ------------------------------------------------------------------


def overdue_agreement_ids(today: datetime.date, tenant=None) -> list[int]:
    """Active agreements with an installment open beyond their creditor's tolerance, oldest id first."""
    ids: set[int] = set()
    creditors = Creditor.objects.all() if tenant is None else Creditor.objects.filter(tenant=tenant)
    for tolerance in creditors.values_list("late_tolerance_days", flat=True).distinct():
        ids.update(
            Installment.objects.filter(
                status=Installment.Status.OPEN,
                due_date__lt=today - datetime.timedelta(days=tolerance),
                agreement__status=Agreement.Status.ACTIVE,
                agreement__creditor__late_tolerance_days=tolerance,
                **({"agreement__tenant": tenant} if tenant is not None else {}),
            ).values_list("agreement_id", flat=True)
        )
    return sorted(ids)


def break_overdue_agreements(today: datetime.date | None = None, *, tenant=None, batch_size: int | None = None) -> int:
    """The daily job: break every active agreement overdue beyond tolerance; returns how many broke."""
    today = today or timezone.localdate()
    ids = overdue_agreement_ids(today, tenant)
    # On PostgreSQL a batch is a few set-based statements whatever its size: fewer, larger transactions.
    batch_size = batch_size or (10_000 if connection.vendor == "postgresql" else 1000)
    broken = 0
    for start in range(0, len(ids), batch_size):
        broken += _break_batch(ids[start : start + batch_size], today)
    return broken


def _break_batch(ids: list[int], today: datetime.date) -> int:
    if connection.vendor == "postgresql":
        return _break_batch_sql(ids, today)
    return _break_batch_orm(ids, today)


def _break_batch_orm(ids: list[int], today: datetime.date) -> int:
    """The breakage through the ORM (SQLite; _break_batch_sql does the same in set-based SQL on PostgreSQL)."""
    now = timezone.now()
    with transaction.atomic():
        # A payment being posted holds its agreement's lock: skip it now, the next run sees it paid or still late.
        agreements = list(
            Agreement.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ids, status=Agreement.Status.ACTIVE)
            .select_related("creditor", "tenant")
        )
        late = {}
        for inst in (
            Installment.objects.filter(agreement__in=agreements, status=Installment.Status.OPEN)
            .order_by("agreement_id", "due_date")
            .values("agreement_id", "number", "due_date")
        ):
            late.setdefault(inst["agreement_id"], inst)
        agreements = [
            a
            for a in agreements
            if a.pk in late and late[a.pk]["due_date"] < today - datetime.timedelta(days=a.creditor.late_tolerance_days)
        ]
        if not agreements:
            return 0
        paid = dict(
            Installment.objects.filter(agreement__in=agreements)
            .values("agreement_id")
            .annotate(total=Sum("paid_amount"))
            .values_list("agreement_id", "total")
        )
        events = []
        for agreement in agreements:
            first = late[agreement.pk]
            name = _("Entrada") if first["number"] == 0 else _("Parcela %(n)s") % {"n": first["number"]}
            agreement.status = Agreement.Status.BROKEN
            agreement.closed_at = now
            agreement.close_reason = _(
                "%(i)s vencida em %(d)s sem pagamento além da tolerância de %(t)s dia(s); pago no acordo: %(p)s."
            ) % {
                "i": name,
                "d": first["due_date"].strftime("%d/%m/%Y"),
                "t": agreement.creditor.late_tolerance_days,
                "p": format_brl(paid.get(agreement.pk) or ZERO),
            }
            events.append(
                audit.build(
                    agreement.tenant,
                    None,
                    audit.Action.AGREEMENT_BROKEN,
                    agreement,
                    changes={
                        "situação": [str(Agreement.Status.ACTIVE.label), str(Agreement.Status.BROKEN.label)],
                        "motivo": ["", agreement.close_reason],
                    },
                    object_repr=_("Acordo #%(id)s") % {"id": agreement.pk},
                )
            )
        _bulk_set(Agreement, agreements, ["status", "closed_at", "close_reason"])
        AuditEvent.objects.bulk_create(events)
        _return_debts(agreements, paid)
        client_ids = [a.client_id for a in agreements]
        Client.objects.filter(pk__in=client_ids).update(status=Client.Status.OPEN)
        refresh_clients(client_ids)
    return len(agreements)


def _pg_format(message: str, names: list[str]) -> str:
    """A translated "%(name)s" message as a template for PostgreSQL's format(): %1$s, %2$s… in `names` order."""
    message = message.replace("%", "%%")
    for position, name in enumerate(names, 1):
        message = message.replace(f"%%({name})s", f"%{position}$s")
    return message


def _break_batch_sql(ids: list[int], today: datetime.date) -> int:
    """_break_batch in a few statements over the whole batch (PostgreSQL): the same rows, texts and audit events.

    The agreements are locked SKIP LOCKED (a payment being posted holds its agreement: the next run judges it);
    what they break on is read under the lock into a temporary table the other statements join.
    """
    params = {
        "ids": ids,
        "today": today,
        "now": timezone.now(),
        "reason": _pg_format(
            _("%(i)s vencida em %(d)s sem pagamento além da tolerância de %(t)s dia(s); pago no acordo: %(p)s."),
            ["i", "d", "t", "p"],
        ),
        "entry": _("Entrada"),
        "installment": _("Parcela %(n)s").replace("%(n)s", "{n}"),
        "object_type": str(Agreement._meta.verbose_name),
        "object_repr": _("Acordo #%(id)s").replace("%(id)s", "{id}"),
        "active": str(Agreement.Status.ACTIVE.label),
        "broken": str(Agreement.Status.BROKEN.label),
        "status_key": "situação",
        "reason_key": "motivo",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Inside an outer transaction (a test, a caller's atomic block) the previous batch's table is still there.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.breaking")
        cursor.execute(
            """
            CREATE TEMPORARY TABLE breaking ON COMMIT DROP AS
            WITH locked AS (
                SELECT a.id, a.client_id, c.late_tolerance_days AS tolerance
                FROM attendance_agreement a JOIN core_creditor c ON c.id = a.creditor_id
                WHERE a.id = ANY(%(ids)s) AND a.status = 'ativo'
                FOR UPDATE OF a SKIP LOCKED
            ), first_open AS (
                SELECT DISTINCT ON (i.agreement_id) i.agreement_id, i.number, i.due_date
                FROM attendance_agreementinstallment i JOIN locked l ON l.id = i.agreement_id
                WHERE i.status = 'em_aberto'
                ORDER BY i.agreement_id, i.due_date
            ), paid AS (
                SELECT i.agreement_id, SUM(i.paid_amount) AS paid
                FROM attendance_agreementinstallment i JOIN locked l ON l.id = i.agreement_id
                GROUP BY i.agreement_id
            )
            SELECT l.id, l.client_id, l.tolerance, f.number, f.due_date, COALESCE(p.paid, 0) AS paid
            FROM locked l JOIN first_open f ON f.agreement_id = l.id LEFT JOIN paid p ON p.agreement_id = l.id
            WHERE f.due_date < %(today)s::date - l.tolerance
            """,
            params,
        )
        cursor.execute("ANALYZE breaking")  # the joins below are planned on what it holds, not on a guess
        cursor.execute(
            """
            UPDATE attendance_agreement a SET status = 'quebrado', closed_at = %(now)s, close_reason = format(
                %(reason)s,
                CASE WHEN b.number = 0 THEN %(entry)s ELSE replace(%(installment)s, '{n}', b.number::text) END,
                to_char(b.due_date, 'DD/MM/YYYY'),
                b.tolerance,
                'R$ ' || translate(to_char(b.paid, 'FM999,999,999,999,990.00'), ',.', '.,')
            )
            FROM breaking b WHERE a.id = b.id
            """,
            params,
        )
        broken = cursor.rowcount
        if not broken:
            return 0
        cursor.execute(
            """
            INSERT INTO tenants_auditevent
                (tenant_id, user_id, action, object_type, object_id, object_repr, changes, at)
            SELECT a.tenant_id, NULL, 'acordo_quebrado', %(object_type)s, a.id::text,
                   replace(%(object_repr)s, '{id}', a.id::text),
                   jsonb_build_object(%(status_key)s, jsonb_build_array(%(active)s, %(broken)s),
                                      %(reason_key)s, jsonb_build_array('', a.close_reason)),
                   %(now)s
            FROM attendance_agreement a JOIN breaking b ON b.id = a.id
            ORDER BY a.id
            """,
            params,
        )
        # What was paid on the agreement goes to its títulos oldest first; the rest of each reopens.
        cursor.execute(
            """
            WITH credited AS (
                SELECT d.id, b.paid,
                       d.original_amount - d.paid_amount AS open,
                       SUM(d.original_amount - d.paid_amount) OVER (
                           PARTITION BY l.agreement_id ORDER BY d.due_date, d.installment_number, d.id
                       ) - (d.original_amount - d.paid_amount) AS before
                FROM attendance_agreement_debts l
                JOIN breaking b ON b.id = l.agreement_id
                JOIN core_debt d ON d.id = l.debt_id
                WHERE d.status = 'em_acordo'
            ), applied AS (
                SELECT id, LEAST(GREATEST(paid - before, 0), open) AS amount FROM credited
            )
            UPDATE core_debt t
            SET paid_amount = t.paid_amount + applied.amount,
                status = CASE WHEN t.paid_amount + applied.amount >= t.original_amount THEN 'pago' ELSE 'aberto' END
            FROM applied WHERE t.id = applied.id
            """
        )
        # The clients leave "em acordo": balance, oldest due date and situation (refresh_clients' rules: quitado
        # when nothing is open and something was paid) in one write of each client row.
        cursor.execute(
            """
            WITH sums AS (
                SELECT d.client_id,
                       SUM(d.original_amount - d.paid_amount) FILTER (WHERE d.status = 'aberto') AS balance,
                       MIN(d.due_date) FILTER (WHERE d.status = 'aberto') AS oldest,
                       bool_or(d.status IN ('aberto', 'em_acordo')) AS has_open,
                       bool_or(d.status = 'pago') AS has_paid
                FROM core_debt d
                WHERE d.client_id IN (SELECT client_id FROM breaking)
                GROUP BY d.client_id
            )
            UPDATE core_client c
            SET open_balance = COALESCE(s.balance, 0),
                oldest_due_date = s.oldest,
                status = CASE WHEN s.has_paid AND NOT s.has_open THEN 'quitado' ELSE 'em_aberto' END
            FROM (SELECT DISTINCT client_id FROM breaking) b LEFT JOIN sums s ON s.client_id = b.client_id
            WHERE c.id = b.client_id
            RETURNING c.id, c.status
            """
        )
        paid_off = [pk for pk, status in cursor.fetchall() if status == Client.Status.PAID]
        _stop_calling_paid_off(paid_off)
    return broken


def _return_debts(agreements, paid: dict) -> None:
    """The client goes back to its títulos minus what was paid on the agreement, oldest título first."""
    through = Agreement.debts.through
    by_agreement = defaultdict(list)
    links = through.objects.filter(agreement__in=agreements, debt__status=Debt.Status.IN_AGREEMENT).select_related(
        "debt"
    )
    for link in links.order_by("debt__due_date", "debt__installment_number", "debt_id"):
        by_agreement[link.agreement_id].append(link.debt)
    changed = []
    for agreement in agreements:
        credit = paid.get(agreement.pk) or ZERO
        for debt in by_agreement[agreement.pk]:
            applied = min(credit, debt.open_amount)
            credit -= applied
            debt.paid_amount += applied
            debt.status = Debt.Status.PAID if debt.paid_amount >= debt.original_amount else Debt.Status.OPEN
            changed.append(debt)
    _bulk_set(Debt, changed, ["paid_amount", "status"])


# Reversals ------------------------------------------------------------------

REVERSAL_REASON_MAX = 2000


def reverse_payment(tenant, user, payment: Payment, *, kind: str, reason: str) -> tuple[Payment, bool]:
    """Estorno: the payment stays, marked reversed, and everything it settled opens again; (payment, reversed now).

    What it paid comes off its installment or título; a quitado agreement goes back to active (the daily breakage
    judges it again), a broken one gives back, from its títulos newest first, what the breakage had credited them;
    the client's balance and situation follow, so a quitado client is back in the wallet and may be dialled.
    Reversing a reversed payment changes nothing.
    """
    if not is_back_office(user):
        raise PermissionDenied(_("Só supervisores e administradores estornam pagamentos."))
    if kind not in Payment.ReversalKind.values:
        raise ValidationError({"kind": _("Escolha o tipo de estorno.")})
    reason = clean_text(reason or "", REVERSAL_REASON_MAX).strip()
    if not reason:
        raise ValidationError({"reason": _("Informe o motivo do estorno.")})
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk, tenant=tenant)
        if payment.reversed_at is not None:
            return payment, False
        applied = payment.applied_amount
        if payment.installment_id is not None:
            _unpay_installment(tenant, user, payment, applied)
        else:
            debt = Debt.objects.select_for_update().get(pk=payment.debt_id)
            _take_back([debt], applied)
        payment.reversed_at = timezone.now()
        payment.reversal_kind = kind
        payment.reversal_reason = reason
        payment.reversed_by = user if getattr(user, "is_authenticated", False) else None
        payment.save(update_fields=["reversed_at", "reversal_kind", "reversal_reason", "reversed_by"])
        audit.record(
            tenant,
            user,
            audit.Action.PAYMENT_REVERSED,
            payment,
            changes={
                "estorno": ["", str(payment.get_reversal_kind_display())],
                "valor": [str(payment.amount), ""],
                "motivo": ["", reason],
            },
        )
        refresh_clients([payment.client_id])
    return payment, True


def _unpay_installment(tenant, user, payment: Payment, applied: Decimal) -> None:
    agreement = Agreement.objects.select_for_update().get(pk=payment.installment.agreement_id, tenant=tenant)
    installment = Installment.objects.select_for_update().get(pk=payment.installment_id)
    installment.paid_amount = max(installment.paid_amount - applied, ZERO)
    if installment.paid_amount < installment.amount:
        installment.status = Installment.Status.OPEN
        installment.paid_on = None
        installment.payment_method = ""
    installment.save(update_fields=["paid_amount", "status", "paid_on", "payment_method"])
    if agreement.status == Agreement.Status.COMPLETED:
        _reopen(agreement, user)
    elif agreement.status == Agreement.Status.BROKEN:
        # The breakage credited what was paid on the agreement to its títulos: that credit goes back.
        debts = list(agreement.debts.select_for_update().order_by("-due_date", "-installment_number", "-id"))
        _take_back(debts, applied)


def _reopen(agreement: Agreement, user) -> None:
    """A quitado agreement that lost a payment is active again, its títulos back in it, its client in agreement."""
    if (
        Agreement.objects.filter(client_id=agreement.client_id, status__in=Agreement.OPEN_STATUSES)
        .exclude(pk=agreement.pk)
        .exists()
    ):
        raise ValidationError(
            _("O cliente já tem outro acordo em aberto: cancele-o antes de estornar um pagamento do acordo #%(id)s.")
            % {"id": agreement.pk}
        )
    agreement.status = Agreement.Status.ACTIVE
    agreement.closed_at = None
    agreement.close_reason = ""
    agreement.save(update_fields=["status", "closed_at", "close_reason"])
    agreement.debts.filter(status=Debt.Status.PAID).update(status=Debt.Status.IN_AGREEMENT)
    Client.objects.filter(pk=agreement.client_id).update(status=Client.Status.AGREEMENT)
    audit.record(
        agreement.tenant,
        user,
        audit.Action.PAYMENT_REVERSED,
        agreement,
        changes={"situação": [str(Agreement.Status.COMPLETED.label), str(Agreement.Status.ACTIVE.label)]},
    )


def _take_back(debts: list[Debt], amount: Decimal) -> None:
    """Remove `amount` from what the (locked) títulos have paid, in the order given; paid ones reopen."""
    changed = []
    for debt in debts:
        if amount <= 0:
            break
        taken = min(amount, debt.paid_amount)
        if not taken:
            continue
        amount -= taken
        debt.paid_amount -= taken
        if debt.status == Debt.Status.PAID and debt.paid_amount < debt.original_amount:
            debt.status = Debt.Status.OPEN
        changed.append(debt)
    for debt in changed:
        debt.save(update_fields=["paid_amount", "status"])
