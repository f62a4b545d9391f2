"""Wallet import: one row is one client (with its phones) and one of its debts (títulos).

A client with several títulos has several rows, one per título, with the same client columns; rows of
one client that disagree on them are an error, as is the same título (contract and parcela) twice.

The admin's import (django-import-export) and `manage.py import_wallet` share the parsing and
the writing here, so a file gives the same result and the same row errors either way.
"""

import dataclasses
import datetime
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from common.parsing import parse_cpf, parse_date, parse_money, parse_phone_and_kind, strip_accents
from common.spreadsheets import unneutralize
from core.models import Client, ClientPhone, Creditor, Debt, DoNotCallReason
from core.services import mark_do_not_call

# File column -> Client field.
CLIENT_COLUMNS = {
    "nome": "name",
    "email": "email",
    "logradouro": "street",
    "numero": "number",
    "complemento": "complement",
    "bairro": "district",
    "cidade": "city",
    "uf": "state",
    "cep": "postal_code",
    "observacoes": "notes",
}
TEMPLATE_HEADERS = [
    "external_id",
    "nome",
    "cpf",
    "email",
    "credor",
    "telefones",
    "logradouro",
    "numero",
    "complemento",
    "bairro",
    "cidade",
    "uf",
    "cep",
    "observacoes",
    "contrato",
    "parcela",
    "total_parcelas",
    "vencimento",
    "valor_original",
    "valor_pago",
]
# Shown on the import page next to the model file.
COLUMN_HELP = {
    "external_id": _l("Código do cliente no credor (obrigatório): a chave das reimportações."),
    "nome": _l("Nome do cliente (obrigatório)."),
    "cpf": _l("CPF, com ou sem pontuação (obrigatório)."),
    "email": _l("E-mail (opcional)."),
    "credor": _l("Nome do credor, como cadastrado em Credores (obrigatório)."),
    "telefones": _l("Um ou mais telefones separados por ; (com DDD, qualquer formato)."),
    "logradouro": _l("Endereço: logradouro, número, complemento, bairro, cidade, UF e CEP (opcionais)."),
    "observacoes": _l("Observações sobre o cliente."),
    "contrato": _l("Código do contrato do título."),
    "parcela": _l("Número da parcela (1 se vazio); total_parcelas, o total do contrato."),
    "vencimento": _l("Vencimento do título, dd/mm/aaaa."),
    "valor_original": _l("Valor do título: 1.234,56 (ou 1234.56)."),
    "valor_pago": _l("Quanto já foi pago do título (0 se vazio)."),
}
PHONE_SEPARATORS = (";", "|", "/", ",")
MAX_CELL_CHARS = 10_000
CLIENT_UPDATE_FIELDS = ["creditor", "name", "cpf", *[f for f in CLIENT_COLUMNS.values() if f != "name"]]


@functools.lru_cache(maxsize=256)
def template_rows(creditor_name: str) -> list[list]:
    """The model file's example: one client with two títulos of one contract, so two rows."""
    client = ["12345", "Maria da Silva", "529.982.247-25", "maria@exemplo.com", creditor_name]
    client += ["(11) 98765-4321; (11) 3333-4444", "Rua das Flores", "100", "apto 12", "Centro", "São Paulo"]
    client += ["SP", "01001-000", ""]
    return [
        [*client, "CT-001", 1, 2, "10/01/2025", "1.234,56", "0,00"],
        [*client, "CT-001", 2, 2, "10/02/2025", "1.234,56", "0,00"],
    ]


def normalize_header(header) -> str:
    text = strip_accents(header).encode("ascii", "ignore").decode()
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(unneutralize(value)).strip()


@dataclasses.dataclass
class WalletRow:
    line: int
    external_id: str
    creditor_id: int
    cpf: str
    client: dict
    phones: list[tuple[str, bool]]  # (E.164, is mobile)
    debt: dict | None
    do_not_call: str = ""  # a DoNotCallReason; a blank cell never clears an earlier mark


class WalletRowParser:
    """Validates rows of one file for one tenant; remembers each client's first row to catch disagreements."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.creditors = {
            name: pk
            for name, pk in Creditor.objects.filter(tenant=tenant)
            .annotate(lname=Lower("name"))
            .values_list("lname", "pk")
        }
        self.seen: dict[str, tuple[int, tuple]] = {}  # external_id -> (first line, client columns)
        self.debts_seen: dict[tuple, int] = {}  # (external_id, contract, parcela) -> line

    def parse(self, raw: dict, line: int) -> WalletRow:
        """A WalletRow, or ValidationError listing every problem of the row."""
        row = {normalize_header(k): v for k, v in raw.items()}
        errors: list[str] = []
        for column, value in row.items():
            # Checked before anything else reads the row: the database refuses NUL, and a huge cell is a mistake.
            if isinstance(value, str) and "\x00" in value:
                errors.append(_("Coluna %(column)s com caractere nulo (\\0).") % {"column": column or "?"})
            elif isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                errors.append(
                    _("Coluna %(column)s longa demais (%(n)d caracteres; o máximo é %(max)d).")
                    % {"column": column or "?", "n": len(value), "max": MAX_CELL_CHARS}
                )
        if errors:
            raise ValidationError(errors)

        external_id = _cell(row.get("external_id") or row.get("codigo"))
        if not external_id:
            errors.append(_("external_id não informado."))
        elif len(external_id) > 64:
            errors.append(_("external_id com mais de 64 caracteres."))

        name = _cell(row.get("nome"))
        if not name:
            errors.append(_("Nome não informado."))

        cpf = ""
        try:
            cpf = parse_cpf(_cell(row.get("cpf")))
        except ValidationError as error:
            errors.extend(error.messages)

        creditor_name = _cell(row.get("credor"))
        creditor_id = self.creditors.get(creditor_name.lower())
        if not creditor_name:
            errors.append(_("Credor não informado."))
        elif creditor_id is None:
            errors.append(_("Credor desconhecido: %(name)s.") % {"name": creditor_name})

        client = {field: _cell(row.get(column)) for column, field in CLIENT_COLUMNS.items()}
        client["state"] = client["state"].upper()
        if client["state"] and len(client["state"]) != 2:
            errors.append(_("UF inválida: %(uf)s.") % {"uf": client["state"]})
        if client["email"]:
            try:
                validate_email(client["email"])
            except ValidationError:
                errors.append(_("E-mail inválido: %(email)s.") % {"email": client["email"]})
        for field, limit in (("name", 200), ("city", 100), ("district", 100), ("street", 200), ("postal_code", 9)):
            if len(client[field]) > limit:
                errors.append(_("%(field)s longo demais.") % {"field": field})

        phones: list[tuple[str, bool]] = []
        for raw_phone in self._phone_cells(row):
            try:
                phone = parse_phone_and_kind(raw_phone)
            except ValidationError as error:
                errors.extend(error.messages)
                continue
            if phone not in phones:
                phones.append(phone)

        do_not_call = parse_do_not_call(row.get("nao_ligar"))
        if do_not_call is None:
            errors.append(_("Não ligar inválido: %(value)s.") % {"value": _cell(row.get("nao_ligar"))})

        debt = None
        if any(_cell(row.get(c)) for c in ("contrato", "vencimento", "valor_original")):
            debt, debt_errors = self._parse_debt(row)
            errors.extend(debt_errors)

        client = {"name": name, **client}
        identity = (creditor_id, cpf, tuple(sorted(client.items())))
        if not errors and external_id in self.seen:
            first_line, first_identity = self.seen[external_id]
            if identity != first_identity:
                differing = self._differing_columns(first_identity, identity)
                errors.append(
                    _("Os dados do cliente %(id)s diferem dos da linha %(line)s (%(columns)s).")
                    % {"id": external_id, "line": first_line, "columns": ", ".join(differing)}
                )
        if not errors and debt:
            key = (external_id, debt["contract_code"], debt["installment_number"])
            if key in self.debts_seen:
                errors.append(
                    _("Título repetido no arquivo: contrato %(contract)s, parcela %(n)s (já na linha %(line)s).")
                    % {"contract": key[1], "n": key[2], "line": self.debts_seen[key]}
                )
        if errors:
            raise ValidationError(errors)
        self.seen.setdefault(external_id, (line, identity))
        if debt:
            self.debts_seen[(external_id, debt["contract_code"], debt["installment_number"])] = line
        return WalletRow(line, external_id, creditor_id, cpf, client, phones, debt, do_not_call)

    @staticmethod
    def _differing_columns(first: tuple, other: tuple) -> list[str]:
        columns = []
        if first[0] != other[0]:
            columns.append("credor")
        if first[1] != other[1]:
            columns.append("cpf")
        by_field = {field: column for column, field in CLIENT_COLUMNS.items()}
        first_fields, other_fields = dict(first[2]), dict(other[2])
        columns += [by_field[f] for f in first_fields if first_fields[f] != other_fields.get(f)]
        return columns

    @staticmethod
    def _phone_cells(row: dict) -> list[str]:
        cells = []
        for key, value in row.items():
            if not key.startswith("telefone"):
                continue
            text = _cell(value)
            for separator in PHONE_SEPARATORS:
                text = text.replace(separator, ";")
            cells.extend(part.strip() for part in text.split(";") if part.strip())
        return cells

    @staticmethod
    def _parse_debt(row: dict) -> tuple[dict, list[str]]:
        errors = []
        debt: dict = {"contract_code": _cell(row.get("contrato"))}
        if not debt["contract_code"]:
            errors.append(_("Contrato não informado."))
        for column, field, default in (
            ("parcela", "installment_number", 1),
            ("total_parcelas", "installment_total", 1),
        ):
            text = _cell(row.get(column))
            try:
                debt[field] = int(text) if text else default
                if not 1 <= debt[field] <= 999:
                    raise ValueError
            except ValueError:
                errors.append(
                    _("%(column)s inválida: %(value)s.")
                    % {"column": column.replace("_", " ").capitalize(), "value": text}
                )
        if not errors and debt["installment_number"] > debt["installment_total"]:
            errors.append(_("Parcela maior que o total de parcelas."))
        try:
            debt["due_date"] = parse_date(row.get("vencimento"), "vencimento")
            if not datetime.date(1900, 1, 1) <= debt["due_date"] <= datetime.date(2200, 1, 1):
                raise ValidationError(_("Vencimento fora do intervalo aceito."))
        except ValidationError as error:
            errors.extend(error.messages)
        try:
            debt["original_amount"] = parse_money(row.get("valor_original"), "valor original")
        except ValidationError as error:
            errors.extend(error.messages)
        paid = row.get("valor_pago")
        try:
            debt["paid_amount"] = parse_money(paid, "valor pago") if _cell(paid) else Decimal("0")
        except ValidationError as error:
            errors.extend(error.messages)
        if not errors and debt["paid_amount"] > debt["original_amount"]:
            errors.append(_("Valor pago maior que o valor original."))
        return debt, errors


def upsert_wallet_rows(tenant, rows: list[WalletRow]) -> list[int]:
    """Write validated rows: clients upserted by external_id, phones added, debts upserted.

    Existing phones keep their state (a number marked wrong stays inactive). Call inside a
    transaction; returns the client ids touched.
    """
    if not rows:
        return []
    first_rows = {}  # one upsert per client, even when several of its títulos are in this chunk
    phones_of: dict[str, list] = {}
    for row in rows:
        first_rows.setdefault(row.external_id, row)
        client_phones = phones_of.setdefault(row.external_id, [])
        client_phones.extend(p for p in row.phones if p not in client_phones)
    clients = Client.objects.bulk_create(
        [
            Client(tenant=tenant, external_id=r.external_id, creditor_id=r.creditor_id, cpf=r.cpf, **r.client)
            for r in first_rows.values()
        ],
        update_conflicts=True,
        unique_fields=["tenant", "external_id"],
        update_fields=CLIENT_UPDATE_FIELDS,
    )
    by_external = {c.external_id: c.pk for c in clients}
    if any(pk is None for pk in by_external.values()):  # backends that do not return ids from an upsert
        by_external = dict(
            Client.objects.filter(tenant=tenant, external_id__in=list(first_rows)).values_list("external_id", "pk")
        )
    ids = [by_external[r.external_id] for r in rows]

    phones = [
        ClientPhone(
            tenant=tenant,
            client_id=by_external[external_id],
            number=number,
            priority=priority,
            kind=ClientPhone.Kind.MOBILE if mobile else ClientPhone.Kind.LANDLINE,
            whatsapp=mobile,
        )
        for external_id, client_phones in phones_of.items()
        for priority, (number, mobile) in enumerate(client_phones, 1)
    ]
    ClientPhone.objects.bulk_create(phones, ignore_conflicts=True)

    debts = [
        Debt(
            tenant=tenant,
            client_id=client_id,
            status=Debt.Status.PAID if row.debt["paid_amount"] >= row.debt["original_amount"] else Debt.Status.OPEN,
            **row.debt,
        )
        for client_id, row in zip(ids, rows, strict=True)
        if row.debt
    ]
    Debt.objects.bulk_create(
        debts,
        update_conflicts=True,
        unique_fields=["client", "contract_code", "installment_number"],
        update_fields=["installment_total", "due_date", "original_amount", "paid_amount"],
    )
    Debt.objects.filter(client_id__in=ids, status=Debt.Status.OPEN, paid_amount__gte=F("original_amount")).update(
        status=Debt.Status.PAID
    )
    unique_ids = set(ids)
    Client.objects.filter(pk__in=unique_ids).refresh_summaries()
    Client.objects.filter(pk__in=unique_ids).refresh_situation()
    marked = [(client_id, row.do_not_call) for client_id, row in zip(ids, rows, strict=True) if row.do_not_call]
    if marked:
        mark_do_not_call(tenant, marked)
    return list(dict.fromkeys(ids))


def parse_do_not_call(value) -> str | None:
    """The "nao_ligar" column: blank, a reason's code or its label (any case/accents); None if unknown."""
    text = normalize_header(_cell(value))
    if not text:
        return ""
    for reason in DoNotCallReason:
        if text in (reason.value, normalize_header(reason.label)):
            return reason.value
    return None


@dataclasses.dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    errors: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # (line, external_id, message)


# Chunks are cut between clients (a client's rows are usually together), so two transactions write side by side.
WRITER_THREADS = 2


def import_wallet_rows(tenant, rows, chunk_size: int = 2000, progress=None) -> ImportReport:
    """Import an iterable of (line, dict) rows in chunks: good rows are written, bad rows reported.

    Memory stays bounded by the chunk size whatever the file's length. On PostgreSQL, outside a transaction, the
    writes run in writer threads with their own connections, so parsing the next chunk overlaps
    with the database writing the previous ones (database waits release the GIL).
    """
    parser = WalletRowParser(tenant)
    report = ImportReport()
    chunk: list[WalletRow] = []
    # SQLite has a single writer: parallel writes there only wait on each other's locks.
    pipelined = connection.vendor == "postgresql" and not connection.in_atomic_block
    writer = ThreadPoolExecutor(max_workers=WRITER_THREADS) if pipelined else None
    pending: list = []
    lock = threading.Lock()  # writer threads share the report and the progress bar

    def write(rows: list[WalletRow]):
        try:
            try:
                with transaction.atomic():
                    upsert_wallet_rows(tenant, rows)
                with lock:
                    report.imported += len(rows)
            except DatabaseError:
                # Isolate the row the database refused; the others still import.
                for row in rows:
                    try:
                        with transaction.atomic():
                            upsert_wallet_rows(tenant, [row])
                        with lock:
                            report.imported += 1
                    except DatabaseError as error:
                        with lock:
                            report.errors.append((row.line, row.external_id, _("Erro ao gravar: %(e)s") % {"e": error}))
            if progress:
                with lock:
                    progress(len(rows))
        finally:
            if pipelined:
                connection.close()  # the writer thread's own connection

    def flush():
        nonlocal pending, chunk
        if not chunk:
            return
        if writer is None:
            write(chunk)
        else:
            while len(pending) >= WRITER_THREADS:  # bounded: at most this many chunks in memory
                pending.pop(0).result()
            pending.append(writer.submit(write, chunk))
        chunk = []

    try:
        for line, raw in rows:
            report.rows += 1
            try:
                row = parser.parse(raw, line)
            except ValidationError as error:
                with lock:
                    report.errors.append((line, _cell(raw.get("external_id")), " ".join(error.messages)))
                    if progress:
                        progress(1)
                continue
            # Cut chunks between clients, so the títulos of one client are written together.
            if len(chunk) >= chunk_size and row.external_id != chunk[-1].external_id:
                flush()
            chunk.append(row)
        flush()
        for job in pending:
            job.result()
    finally:
        if writer is not None:
            writer.shutdown(wait=True)
    report.errors.sort()
    return report
