"""Payment import: one row is one payment, found by the client (CPF or external_id) and what it pays.

Columns: id_pagamento (required: re-importing the same id changes nothing), external_id or cpf, then either
acordo [+ parcela] (an agreement installment; without parcela the oldest open one) or contrato [+ parcela]
(a título; parcela 1 when omitted), data, valor, and optionally forma (pix, boleto, transferencia, cartao,
dinheiro, outro) and aceitar_excedente (sim: an overpayment is kept as the client's credit).
The admin's import (django-import-export) and `manage.py import_payments` share the parsing and the writing here.
"""

import dataclasses
import functools
import itertools
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance.models import Agreement, AgreementInstallment, Payment
from attendance.payments import (
    INSTALLMENT_STATE,
    DebtState,
    InstallmentState,
    PaymentInput,
    among,
    check_paid_on,
    post_debt_payments,
    post_installment_payments,
    post_payment,
)
from common.formats import read_rows
from common.parsing import CONTROL_CHARACTERS, format_cpf, parse_ascii_int, parse_cpf, parse_date, parse_id, parse_money
from core.importing import _cell, clean_cells, normalize_header
from core.models import Client, Debt

TEMPLATE_HEADERS = [
    "id_pagamento",
    "external_id",
    "cpf",
    "acordo",
    "contrato",
    "parcela",
    "data",
    "valor",
    "forma",
    "aceitar_excedente",
]
METHODS = {
    "": Payment.Method.OTHER,
    "pix": Payment.Method.PIX,
    "boleto": Payment.Method.BOLETO,
    "transferencia": Payment.Method.TRANSFER,
    "ted": Payment.Method.TRANSFER,
    "doc": Payment.Method.TRANSFER,
    "cartao": Payment.Method.CARD,
    "dinheiro": Payment.Method.CASH,
    "outro": Payment.Method.OTHER,
}
YES = {"sim", "s", "1", "true", "x"}


@dataclasses.dataclass
class PaymentRow:
    line: int
    payment_id: str
    data: PaymentInput
    installment: InstallmentState | None = None
    debt: DebtState | None = None


@dataclasses.dataclass
class _Cells:
    """What one row says, checked on its own; its client and target are found for the whole chunk at once."""

    line: int
    payment_id: str
    data: PaymentInput | None
    errors: list[str]
    external_id: str = ""
    cpf: str = ""
    agreement_id: int | None = None
    number: int | None = None
    contract: str = ""


class PaymentRowParser:
    """Validates the rows of one file for one tenant; remembers payment ids to catch repeats in the file."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.seen: dict[str, int] = {}
        self.today = timezone.localdate()  # once per file, not once per row

    def parse(self, raw: dict, line: int) -> PaymentRow:
        """A PaymentRow with its target found, or ValidationError listing the row's problems."""
        result = self.parse_chunk([(line, raw)])[0]
        if isinstance(result, ValidationError):
            raise result
        return result

    def parse_chunk(self, rows: list[tuple[int, dict]]) -> list[PaymentRow | ValidationError]:
        """Each row parsed, in order: a PaymentRow, or the ValidationError listing its problems."""
        cells = [self._cells(raw, line, self.today) for line, raw in rows]
        targets = _Targets(self.tenant, cells)
        results = []
        for cell in cells:
            errors = list(cell.errors)
            target = {}
            if not errors:
                try:
                    target = targets.find(cell)
                except ValidationError as error:
                    errors.extend(error.messages)
            if cell.payment_id in self.seen:
                errors.insert(
                    0,
                    _("id_pagamento %(id)s repetido no arquivo (já na linha %(line)s).")
                    % {"id": cell.payment_id, "line": self.seen[cell.payment_id]},
                )
            if errors:
                results.append(ValidationError(errors))
                continue
            self.seen[cell.payment_id] = cell.line
            results.append(PaymentRow(cell.line, cell.payment_id, cell.data, **target))
        return results

    @staticmethod
    def _cells(raw: dict, line: int, today) -> _Cells:
        row = _normalized(raw)
        payment_id = _payment_id(row)  # read before clean_cells strips the row's control characters in place
        errors = clean_cells(row)
        if errors:  # a NUL or a huge cell: nothing else of the row is read
            return _Cells(line, payment_id, None, errors)

        if not payment_id:
            errors.append(_("id_pagamento não informado."))
        elif len(payment_id) > 80:
            errors.append(_("id_pagamento com mais de 80 caracteres."))

        paid_on = amount = None
        try:
            paid_on = parse_date(row.get("data") or row.get("data_pagamento"), "data")
            check_paid_on(paid_on, today)
        except ValidationError as error:
            errors.extend(error.messages)
        try:
            amount = parse_money(row.get("valor") or row.get("valor_pago"), "valor")
            if amount <= 0:
                errors.append(_("O valor pago deve ser maior que zero."))
        except ValidationError as error:
            errors.extend(error.messages)
        method = METHODS.get(normalize_header(_cell(row.get("forma"))))
        if method is None:
            errors.append(
                _("Forma de pagamento desconhecida: %(f)s (use pix, boleto, transferencia, cartao, dinheiro ou outro).")
                % {"f": _cell(row.get("forma"))}
            )

        cells = _Cells(line, payment_id, None, errors)
        cells.external_id = _cell(row.get("external_id"))
        cpf_text = _cell(row.get("cpf"))
        if not cells.external_id:
            if not cpf_text:
                errors.append(_("Informe o CPF ou o external_id do cliente."))
            else:
                try:
                    cells.cpf = parse_cpf(cpf_text)
                except ValidationError as error:
                    errors.extend(error.messages)
        number_text = _cell(row.get("parcela"))
        cells.number = parse_ascii_int(number_text, 3) if number_text else None
        if number_text and cells.number is None:
            errors.append(_("Parcela inválida: %(p)s.") % {"p": number_text})
        agreement_text = _cell(row.get("acordo")).lstrip("#")
        cells.contract = _cell(row.get("contrato"))
        if agreement_text:
            cells.agreement_id = parse_id(agreement_text)
            if cells.agreement_id is None:
                errors.append(_("Acordo inválido: %(a)s.") % {"a": agreement_text[:40]})
        elif not cells.contract:
            errors.append(_("Informe o acordo ou o contrato pago."))

        if not errors:
            cells.data = PaymentInput(
                amount=amount,
                paid_on=paid_on,
                method=method,
                external_id=payment_id,
                accept_credit=normalize_header(_cell(row.get("aceitar_excedente"))) in YES,
                source=Payment.Source.IMPORT,
            )
        return cells


class _Targets:
    """The clients, títulos and agreements a chunk of rows names, read in a few queries."""

    def __init__(self, tenant, cells: list[_Cells]):
        cells = [c for c in cells if not c.errors]
        self.by_external = defaultdict(list)
        self.by_cpf = defaultdict(list)
        clients = Client.objects.filter(tenant=tenant)
        for external_id, pk in among(
            clients, "external_id", {c.external_id for c in cells if c.external_id}
        ).values_list("external_id", "pk"):
            self.by_external[external_id].append(pk)
        for cpf, pk in among(clients, "cpf", {c.cpf for c in cells if c.cpf}).values_list("cpf", "pk"):
            self.by_cpf[cpf].append(pk)
        client_ids = {pk for pks in (*self.by_external.values(), *self.by_cpf.values()) for pk in pks}
        self.debts = defaultdict(list)
        contracts = {c.contract for c in cells if c.contract and c.agreement_id is None}
        if contracts:
            # Only what finding them takes: the payment reads and locks its título again.
            debts = among(among(Debt.objects.all(), "client_id", client_ids), "contract_code", contracts)
            for row in debts.values_list("pk", "client_id", "contract_code", "installment_number", "installment_total"):
                self.debts[(row[2], row[3])].append(row)
        # {agreement id: (client id, its installments by number)}, read as values: a chunk may name 5,000 agreements.
        self.agreements = {}
        agreement_ids = {c.agreement_id for c in cells if c.agreement_id}
        if agreement_ids:
            for pk, client_id in among(Agreement.objects.filter(tenant=tenant), "pk", agreement_ids).values_list(
                "pk", "client_id"
            ):
                self.agreements[pk] = (client_id, [])
            installments = among(AgreementInstallment.objects.all(), "agreement_id", list(self.agreements))
            for values in installments.order_by("agreement_id", "number").values_list(*INSTALLMENT_STATE):
                self.agreements[values[1]][1].append(InstallmentState(*values))

    def find(self, cell: _Cells) -> dict:
        if cell.external_id:
            clients = self.by_external.get(cell.external_id)
            if not clients:
                raise ValidationError(_("Cliente não encontrado: external_id %(id)s.") % {"id": cell.external_id})
        else:
            clients = self.by_cpf.get(cell.cpf)
            if not clients:
                raise ValidationError(_("Nenhum cliente com o CPF %(cpf)s.") % {"cpf": format_cpf(cell.cpf)})
        if cell.agreement_id is not None:
            client_id, installments = self.agreements.get(cell.agreement_id, (None, ()))
            if client_id is None or client_id not in clients:
                raise ValidationError(_("Acordo #%(a)s não encontrado para este cliente.") % {"a": cell.agreement_id})
            if cell.number is None:
                installment = next((i for i in installments if i.status == AgreementInstallment.Status.OPEN), None)
                if installment is None:
                    raise ValidationError(_("O acordo #%(a)s não tem parcela em aberto.") % {"a": cell.agreement_id})
            else:
                installment = next((i for i in installments if i.number == cell.number), None)
                if installment is None:
                    raise ValidationError(
                        _("O acordo #%(a)s não tem a parcela %(n)s.") % {"a": cell.agreement_id, "n": cell.number}
                    )
            return {"installment": installment}
        number = cell.number or 1
        debts = [d for d in self.debts.get((cell.contract, number), []) if d[1] in clients]
        if not debts:
            raise ValidationError(
                _("Título não encontrado: contrato %(c)s, parcela %(n)s.") % {"c": cell.contract, "n": number}
            )
        if len(debts) > 1:
            raise ValidationError(
                _("Contrato %(c)s em mais de um cliente com este CPF: informe o external_id.") % {"c": cell.contract}
            )
        # What finding it read, not a model instance (a file builds 100,000): the payment reads and locks it again.
        return {"debt": DebtState(*debts[0])}


def write_row(tenant, user, row: PaymentRow, refresh: bool = True) -> tuple[Payment, bool]:
    return post_payment(tenant, user, row.data, installment=row.installment, debt=row.debt, refresh=refresh)


@dataclasses.dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    already: int = 0
    errors: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # (line, payment id, message)


def import_payment_rows(
    tenant, user, rows, *, dry_run: bool = False, chunk_size: int | None = None, progress=None, on_error=None
):
    """Import (line, dict) rows: each good row is posted, each bad row reported; a dry run writes nothing.

    Rows are parsed and written a chunk at a time (agreement installments, then títulos, each in one batch per
    chunk, COPied on PostgreSQL; the agreements they pay off settled together), each chunk committed on its own so a
    long file never holds its locks to the end. A dry run is one transaction rolled back at the end: later rows see
    earlier ones as in the real run. on_error(line, payment id, message) hears each chunk's refused rows once the
    chunk is committed (the admin's background import writes them to its report as it goes).
    """
    parser = PaymentRowParser(tenant)
    report = ImportReport()
    rows = iter(rows)
    # PostgreSQL writes a chunk's títulos with COPY and a few statements: larger chunks, fewer round trips.
    chunk_size = chunk_size or (5000 if connection.vendor == "postgresql" else 1000)

    def run():
        while chunk := list(itertools.islice(rows, chunk_size)):
            reported = len(report.errors)
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # A chunk's statements are short, but costed as huge while the statistics lag behind a bulk
                    # load: the planner's JIT compiled refresh_clients_sql for 3 of its 5.6 s (EXPLAIN ANALYZE).
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL jit = off")
                _import_chunk(tenant, user, parser, chunk, report)
            if on_error:
                for line, payment_id, message in sorted(report.errors[reported:]):
                    on_error(line, payment_id, message)
            if progress:
                progress(len(chunk))

    if dry_run:
        with transaction.atomic():
            run()
            transaction.set_rollback(True)
    else:
        run()
    report.errors.sort()
    return report


def _import_chunk(tenant, user, parser, chunk, report) -> None:
    report.rows += len(chunk)
    ids = {line: payment_id_of(raw) for line, raw in chunk}
    recorded = set(
        among(
            Payment.objects.filter(tenant=tenant), "external_id", {i for i in ids.values() if i and storable(i)}
        ).values_list("external_id", flat=True)
    )
    fresh = []
    for line, raw in chunk:
        if ids[line] in recorded and ids[line] not in parser.seen:
            parser.seen[ids[line]] = line
            report.already += 1
        else:
            fresh.append((line, raw))
    by_debt, by_installment = [], []
    for (line, _raw), row in zip(fresh, parser.parse_chunk(fresh), strict=True):
        if isinstance(row, ValidationError):
            report.errors.append((line, ids[line], " ".join(row.messages)))
        elif row.debt is not None:
            by_debt.append(row)
        else:
            by_installment.append(row)
    for rows, posted in (
        (by_installment, post_installment_payments(tenant, user, [(r.data, r.installment.pk) for r in by_installment])),
        (by_debt, post_debt_payments(tenant, user, [(r.data, r.debt.pk) for r in by_debt])),
    ):
        for index, error in posted:
            if error is None:
                report.imported += 1
            else:
                report.errors.append((rows[index].line, rows[index].payment_id, " ".join(error.messages)))


def payment_id_of(raw: dict) -> str:
    """The row's payment id as its parsing sees it: control characters removed, a NUL kept for the row's error."""
    return _payment_id(_normalized(raw))


def _payment_id(row: dict) -> str:
    text = _cell(row.get("id_pagamento") or row.get("payment_id"))
    return text if "\x00" in text else CONTROL_CHARACTERS.sub("", text)


@functools.lru_cache(maxsize=1024)
def _header(key) -> str:
    # A file repeats its few headers on every row: normalized once each (bounded: a hostile file's many columns).
    return normalize_header(key)


def _normalized(raw: dict) -> dict:
    return {_header(k): v for k, v in raw.items()}


def storable(payment_id: str) -> bool:
    """Whether the id may reach the database at all (PostgreSQL refuses NUL even in a query): a row with one
    is refused by its parsing, in Portuguese."""
    return "\x00" not in payment_id and len(payment_id) <= 80


# Without these no row can import: a file lacking them is refused at the upload (core.import_jobs.FileKind).
REQUIRED_COLUMNS = (("id_pagamento", "payment_id"), ("data", "data_pagamento"), ("valor", "valor_pago"))


def run_file_job(job, path, progress) -> tuple[int, int, int]:
    """The admin's background import of a payment file (core.import_jobs runs it on the worker): the same chunks,
    COPY and rules as `import_payments`; each refused row goes to the job's report, in Portuguese."""
    report = import_payment_rows(
        job.tenant, job.requested_by, read_rows(path), progress=progress.rows_done, on_error=progress.error
    )
    return report.rows, report.imported, len(report.errors)
