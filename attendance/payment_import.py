"""Payment import: one row is one payment, found by the client (CPF or external_id) and what it pays.

Columns: id_pagamento (required: re-importing the same id changes nothing), external_id or cpf, then either
acordo [+ parcela] (an agreement installment; without parcela the oldest open one) or contrato [+ parcela]
(a título; parcela 1 when omitted), data, valor, and optionally forma (pix, boleto, transferencia, cartao,
dinheiro, outro) and aceitar_excedente (sim: an overpayment is kept as the client's credit).
The admin's import (django-import-export) and `manage.py import_payments` share the parsing and the writing here.
"""

import dataclasses
import datetime
import itertools

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from attendance.models import Agreement, AgreementInstallment, Payment
from attendance.payments import PaymentInput, post_payment, refresh_clients
from core.importing import _cell, normalize_header
from core.models import Client, Debt
from core.parsing import parse_cpf, parse_date, parse_money

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
    installment: AgreementInstallment | None = None
    debt: Debt | None = None


class PaymentRowParser:
    """Validates the rows of one file for one tenant; remembers payment ids to catch repeats in the file."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.seen: dict[str, int] = {}

    def parse(self, raw: dict, line: int) -> PaymentRow:
        """A PaymentRow with its target found, or ValidationError listing the row's problems."""
        row = {normalize_header(k): v for k, v in raw.items()}
        errors: list[str] = []

        payment_id = _cell(row.get("id_pagamento") or row.get("payment_id"))
        if not payment_id:
            errors.append(_("id_pagamento não informado."))
        elif len(payment_id) > 80:
            errors.append(_("id_pagamento com mais de 80 caracteres."))
        elif payment_id in self.seen:
            errors.append(
                _("id_pagamento %(id)s repetido no arquivo (já na linha %(line)s).")
                % {"id": payment_id, "line": self.seen[payment_id]}
            )

        paid_on = amount = None
        try:
            paid_on = parse_date(row.get("data") or row.get("data_pagamento"), "data")
            if paid_on < datetime.date(1990, 1, 1):
                raise ValidationError(_("Data fora do intervalo aceito."))
        except ValidationError as error:
            errors.extend(error.messages)
        try:
            amount = parse_money(row.get("valor") or row.get("valor_pago"), "valor")
            if amount <= 0:
                errors.append(_("O valor pago deve ser maior que zero."))
        except ValidationError as error:
            errors.extend(error.messages)
        method_text = normalize_header(_cell(row.get("forma")))
        method = METHODS.get(method_text)
        if method is None:
            errors.append(
                _("Forma de pagamento desconhecida: %(f)s (use pix, boleto, transferencia, cartao, dinheiro ou outro).")
                % {"f": _cell(row.get("forma"))}
            )

        target = {}
        try:
            target = self._target(row)
        except ValidationError as error:
            errors.extend(error.messages)

        if errors:
            raise ValidationError(errors)
        self.seen[payment_id] = line
        data = PaymentInput(
            amount=amount,
            paid_on=paid_on,
            method=method,
            external_id=payment_id,
            accept_credit=normalize_header(_cell(row.get("aceitar_excedente"))) in YES,
            source=Payment.Source.IMPORT,
        )
        return PaymentRow(line, payment_id, data, **target)

    def _clients(self, row):
        external_id = _cell(row.get("external_id"))
        if external_id:
            clients = list(
                Client.objects.filter(tenant=self.tenant, external_id=external_id).values_list("pk", flat=True)
            )
            if not clients:
                raise ValidationError(_("Cliente não encontrado: external_id %(id)s.") % {"id": external_id})
            return clients
        cpf_text = _cell(row.get("cpf"))
        if not cpf_text:
            raise ValidationError(_("Informe o CPF ou o external_id do cliente."))
        cpf = parse_cpf(cpf_text)
        clients = list(Client.objects.filter(tenant=self.tenant, cpf=cpf).values_list("pk", flat=True))
        if not clients:
            raise ValidationError(_("Nenhum cliente com o CPF %(cpf)s.") % {"cpf": cpf_text})
        return clients

    def _target(self, row) -> dict:
        clients = self._clients(row)
        number_text = _cell(row.get("parcela"))
        try:
            number = int(number_text) if number_text else None
        except ValueError:
            raise ValidationError(_("Parcela inválida: %(p)s.") % {"p": number_text}) from None
        agreement_text = _cell(row.get("acordo")).lstrip("#")
        if agreement_text:
            if not agreement_text.isdigit():
                raise ValidationError(_("Acordo inválido: %(a)s.") % {"a": agreement_text})
            agreement = Agreement.objects.filter(
                tenant=self.tenant, pk=int(agreement_text), client_id__in=clients
            ).first()
            if agreement is None:
                raise ValidationError(_("Acordo #%(a)s não encontrado para este cliente.") % {"a": agreement_text})
            installments = agreement.installments.all()
            if number is None:
                installment = installments.filter(status=AgreementInstallment.Status.OPEN).first()
                if installment is None:
                    raise ValidationError(_("O acordo #%(a)s não tem parcela em aberto.") % {"a": agreement.pk})
            else:
                installment = installments.filter(number=number).first()
                if installment is None:
                    raise ValidationError(
                        _("O acordo #%(a)s não tem a parcela %(n)s.") % {"a": agreement.pk, "n": number}
                    )
            installment.agreement = agreement
            return {"installment": installment}
        contract = _cell(row.get("contrato"))
        if not contract:
            raise ValidationError(_("Informe o acordo ou o contrato pago."))
        debts = list(
            Debt.objects.filter(client_id__in=clients, contract_code=contract, installment_number=number or 1)[:2]
        )
        if not debts:
            raise ValidationError(
                _("Título não encontrado: contrato %(c)s, parcela %(n)s.") % {"c": contract, "n": number or 1}
            )
        if len(debts) > 1:
            raise ValidationError(
                _("Contrato %(c)s em mais de um cliente com este CPF: informe o external_id.") % {"c": contract}
            )
        return {"debt": debts[0]}


def write_row(tenant, user, row: PaymentRow, refresh: bool = True) -> tuple[Payment, bool]:
    return post_payment(tenant, user, row.data, installment=row.installment, debt=row.debt, refresh=refresh)


@dataclasses.dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    already: int = 0
    errors: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # (line, payment id, message)


def import_payment_rows(tenant, user, rows, *, dry_run: bool = False, chunk_size: int = 1000, progress=None):
    """Import (line, dict) rows: each good row is posted, each bad row reported; a dry run writes nothing.

    Rows commit in chunks so a long file neither holds its locks to the end nor is lost to one late failure.
    A dry run is one transaction rolled back at the end, so later rows see earlier ones exactly as the real run.
    """
    parser = PaymentRowParser(tenant)
    report = ImportReport()
    touched: set[int] = set()

    def post(line, raw):
        report.rows += 1
        try:
            with transaction.atomic():
                payment, created = write_row(tenant, user, parser.parse(raw, line), refresh=False)
            if created:
                touched.add(payment.client_id)
            report.imported += created
            report.already += not created
        except ValidationError as error:
            report.errors.append((line, _cell(raw.get("id_pagamento")), " ".join(error.messages)))
        if progress:
            progress(1)

    if dry_run:
        with transaction.atomic():
            for line, raw in rows:
                post(line, raw)
            refresh_clients(touched)
            transaction.set_rollback(True)
        return report
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, chunk_size)):
        with transaction.atomic():
            for line, raw in chunk:
                post(line, raw)
            refresh_clients(touched)
        touched.clear()
    return report
