"""Wallet import: one row is one client (with its phones) and one of its debts (títulos).

A client with several títulos has several rows, one per título, with the same client columns; rows of
one client that disagree on them are an error, as is the same título (contract and parcela) twice.

The admin's import (django-import-export, or the worker for a large file: core.import_jobs) and
`manage.py import_wallet` share the parsing and the writing here, so a file gives the same result and the
same row errors either way. On PostgreSQL the rows reach the database through COPY and are written with a
few set-based statements per chunk; memory stays flat whatever the file's length.
"""

import dataclasses
import functools
import queue
import sqlite3
import struct
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import DatabaseError, connection, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from common.parsing import (
    CONTROL_CHARACTERS,
    check_date_window,
    parse_ascii_int,
    parse_cpf,
    parse_date,
    parse_money,
    parse_phone_and_kind,
    strip_accents,
)
from common.spreadsheets import QUOTE, unneutralize
from core import wallet_upsert
from core.models import Client, Creditor, DoNotCallReason
from core.services import mark_do_not_call
from core.wallet_upsert import CLIENT_FIELDS, WalletBatch, WalletRow

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
    "nao_ligar",
]
# What the export adds for people to read (situação, saldo, atraso, último contato); the import ignores them.
EXPORT_ONLY_HEADERS = ["situacao", "saldo", "dias_atraso", "ultimo_contato"]
# "nao_ligar" cells that mean yes (marked for the debtor's own request) and no (nothing marked).
DO_NOT_CALL_YES = ("sim", "s", "x", "true", "verdadeiro", "1", "yes", "y")
DO_NOT_CALL_NO = ("nao", "n", "false", "falso", "0", "no")
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
    "nao_ligar": _l(
        "Não ligar (opcional): sim, s, x, true ou 1 marca o cliente (pedido do devedor); vazio, não, n, false ou 0 "
        "não marca; ou o motivo: pedido_devedor, advogado, obito, numero_errado, lgpd (ou o nome, como "
        '"Pedido do devedor"). Uma célula vazia nunca desmarca um cliente.'
    ),
    "situacao": _l("Só na exportação (ignoradas na importação): situação, saldo, dias_atraso e ultimo_contato."),
}
PHONE_SEPARATORS = (";", "|", "/", ",")
# Django's e-mail check, with the domain part's verdict remembered: most of its cost, and a wallet's
# e-mails share a few domains.
_email_domain_is_valid = functools.lru_cache(maxsize=1024)(EmailValidator().validate_domain_part)


class WalletEmailValidator(EmailValidator):
    def validate_domain_part(self, domain_part):
        return _email_domain_is_valid(domain_part)


validate_email = WalletEmailValidator()
MAX_CELL_CHARS = 10_000
# The columns two rows of one client must agree on, in the order the parser hashes them (CLIENT_FIELDS, the
# upsert's, are CLIENT_COLUMNS' fields with the name first).
IDENTITY_COLUMNS = ["credor", "cpf", *[{v: k for k, v in CLIENT_COLUMNS.items()}[f] for f in CLIENT_FIELDS]]
IDENTITY = struct.Struct(f"{len(IDENTITY_COLUMNS)}q")
LINE = struct.Struct("q")


@functools.lru_cache(maxsize=256)
def template_rows(creditor_name: str) -> list[list]:
    """The model file's example: one client with two títulos of one contract, so two rows."""
    client = ["12345", "Maria da Silva", "529.982.247-25", "maria@exemplo.com", creditor_name]
    client += ["(11) 98765-4321; (11) 3333-4444", "Rua das Flores", "100", "apto 12", "Centro", "São Paulo"]
    client += ["SP", "01001-000", ""]
    return [
        [*client, "CT-001", 1, 2, "10/01/2025", "1.234,56", "0,00", "não"],
        [*client, "CT-001", 2, 2, "10/02/2025", "1.234,56", "0,00", "não"],
    ]


@functools.lru_cache(maxsize=1024)  # a file has a handful of headers, read again on every row
def normalize_header(header) -> str:
    text = strip_accents(header).encode("ascii", "ignore").decode()
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def _cell(value) -> str:
    if value.__class__ is str and not value.startswith(QUOTE):  # nearly every cell: nothing to undo
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(unneutralize(value)).strip()


class FirstSeen:
    """What the first row of each key said, for a file of any length: in memory up to `in_memory` keys,
    then moved to a temporary SQLite file, so memory stays flat. A fixed bitmap of the keys on disk (a Bloom
    filter) spares the disk the lookups of keys never seen, which are nearly all of them."""

    in_memory = 20_000
    FILTER_BITS = 1 << 25  # 4 MB; a few wrong "maybe"s in a thousand at a million keys on disk

    def __init__(self):
        self.memory: dict = {}
        self.disk: sqlite3.Connection | None = None
        self.folder: tempfile.TemporaryDirectory | None = None
        self.on_disk = bytearray()

    def _bits(self, key) -> tuple[int, int]:
        digest = hash(key) & 0xFFFFFFFFFFFFFFFF
        return digest % self.FILTER_BITS, (digest >> 32) % self.FILTER_BITS

    def get(self, key):
        value = self.memory.get(key)
        if value is None and self.disk is not None:
            first, second = self._bits(key)
            if self.on_disk[first >> 3] >> (first & 7) & 1 and self.on_disk[second >> 3] >> (second & 7) & 1:
                found = self.disk.execute("SELECT value FROM seen WHERE key = ?", (key,)).fetchone()
                value = found[0] if found else None
        return value

    def add(self, key, value) -> None:
        self.memory[key] = value
        if len(self.memory) >= self.in_memory:
            self._spill()

    def _spill(self) -> None:
        if self.disk is None:
            self.folder = tempfile.TemporaryDirectory(prefix="importacao-")
            self.disk = sqlite3.connect(Path(self.folder.name) / "vistos.sqlite3", check_same_thread=False)
            self.disk.execute("PRAGMA journal_mode = OFF")
            self.disk.execute("PRAGMA synchronous = OFF")
            self.disk.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, value) WITHOUT ROWID")
            self.on_disk = bytearray(self.FILTER_BITS // 8)
        with self.disk:
            self.disk.executemany("INSERT INTO seen VALUES (?, ?)", self.memory.items())
        for key in self.memory:
            for bit in self._bits(key):
                self.on_disk[bit >> 3] |= 1 << (bit & 7)
        self.memory = {}

    def close(self) -> None:
        if self.disk is not None:
            self.disk.close()
            self.folder.cleanup()
            self.disk = self.folder = None
            self.on_disk = bytearray()


def clean_cells(row: dict) -> list[str]:
    """The errors of cells no column may hold, checked before anything else reads the row: NUL (the database
    refuses it) and a huge cell (a mistake). Other control characters are removed from the row in place: invisible,
    they would only break the XLSX files that export them."""
    errors = []
    for column, value in row.items():
        if value.__class__ is not str or (len(value) <= MAX_CELL_CHARS and not CONTROL_CHARACTERS.search(value)):
            continue
        if "\x00" in value:
            errors.append(_("Coluna %(column)s com caractere nulo (\\0).") % {"column": column or "?"})
        elif len(value) > MAX_CELL_CHARS:
            errors.append(
                _("Coluna %(column)s longa demais (%(n)d caracteres; o máximo é %(max)d).")
                % {"column": column or "?", "n": len(value), "max": MAX_CELL_CHARS}
            )
        else:
            row[column] = CONTROL_CHARACTERS.sub("", value)
    return errors


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
        # What a later row of the same client is checked against: external_id -> the first line and a
        # hash of each client column, packed.
        self.seen = FirstSeen()
        # external_id, contract and parcela -> line: a título twice in the file is an error.
        self.debts_seen = FirstSeen()

    def close(self) -> None:
        self.seen.close()
        self.debts_seen.close()

    def parse(self, raw: dict, line: int) -> WalletRow:
        """A WalletRow, or ValidationError listing every problem of the row."""
        row = {normalize_header(k): v for k, v in raw.items()}
        errors = clean_cells(row)
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

        # A bad phone is skipped and reported: the debtor and the debt are imported all the same.
        phones: list[tuple[str, bool]] = []
        warnings = []
        for raw_phone in self._phone_cells(row):
            try:
                phone = parse_phone_and_kind(raw_phone)
            except ValidationError as error:
                warnings.append(
                    _("Telefone ignorado (%(value)s): %(error)s")
                    % {"value": raw_phone[:40], "error": " ".join(error.messages)}
                )
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
        identity = self._identity(creditor_id, cpf, client)
        first = self.seen.get(external_id) if not errors else None
        if first is not None and first[LINE.size :] != identity:
            first_line, differing = self._differing_columns(first, identity)
            errors.append(
                _("Os dados do cliente %(id)s diferem dos da linha %(line)s (%(columns)s).")
                % {"id": external_id, "line": first_line, "columns": ", ".join(differing)}
            )
        # Only a valid título has a key (its parcela may be the very error).
        debt_key = (
            f"{external_id}\x1f{debt['contract_code']}\x1f{debt['installment_number']}" if debt and not errors else None
        )
        first_debt_line = self.debts_seen.get(debt_key) if debt_key else None
        if first_debt_line is not None:
            errors.append(
                _("Título repetido no arquivo: contrato %(contract)s, parcela %(n)s (já na linha %(line)s).")
                % {
                    "contract": debt["contract_code"],
                    "n": debt["installment_number"],
                    "line": first_debt_line,
                }
            )
        if errors:
            raise ValidationError(errors)
        if first is None:
            self.seen.add(external_id, LINE.pack(line) + identity)
        if debt:
            self.debts_seen.add(debt_key, line)
        return WalletRow(line, external_id, creditor_id, cpf, client, phones, debt, do_not_call, warnings)

    @staticmethod
    def _identity(creditor_id, cpf, client: dict) -> bytes:
        """The client columns of a row, as one hash per column (IDENTITY_COLUMNS order)."""
        return IDENTITY.pack(*(hash(value) for value in (creditor_id, cpf, *(client[f] for f in CLIENT_FIELDS))))

    @staticmethod
    def _differing_columns(first: bytes, identity: bytes) -> tuple[int, list[str]]:
        (first_line,) = LINE.unpack(first[: LINE.size])
        before, now = IDENTITY.unpack(first[LINE.size :]), IDENTITY.unpack(identity)
        return first_line, [column for column, a, b in zip(IDENTITY_COLUMNS, before, now, strict=True) if a != b]

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
            debt[field] = parse_ascii_int(text, 3) if text else default
            if debt[field] is None or debt[field] < 1:
                errors.append(
                    _("%(column)s inválida: %(value)s.")
                    % {"column": column.replace("_", " ").capitalize(), "value": text}
                )
        if not errors and debt["installment_number"] > debt["installment_total"]:
            errors.append(_("Parcela maior que o total de parcelas."))
        try:
            debt["due_date"] = check_date_window(parse_date(row.get("vencimento"), "vencimento"), "vencimento")
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


def upsert_wallet_rows(tenant, rows: list[WalletRow], user=None) -> None:
    """Write validated rows: clients upserted by external_id, phones added, debts upserted.

    Existing phones keep their state (a number marked wrong stays inactive). Call inside a transaction.
    PostgreSQL gets the rows through COPY and writes them set-based; other databases (SQLite, the demo)
    through the ORM (core.wallet_upsert). Both leave the same wallet.
    """
    if not rows:
        return
    wallet_upsert.upsert(tenant, WalletBatch(rows))
    marked = [(row.external_id, row.do_not_call) for row in rows if row.do_not_call]
    if marked:
        clients = Client.objects.filter(tenant=tenant, external_id__in={external_id for external_id, _r in marked})
        ids = dict(clients.values_list("external_id", "pk"))
        mark_do_not_call(tenant, [(ids[external_id], reason) for external_id, reason in marked], user=user)


def parse_do_not_call(value) -> str | None:
    """The "nao_ligar" column: blank or no (""), yes (the debtor's request), a reason's code or its label (any
    case/accents); None if unknown."""
    text = normalize_header(_cell(value))
    if not text or text in DO_NOT_CALL_NO:
        return ""
    if text in DO_NOT_CALL_YES:
        return DoNotCallReason.DEBTOR_REQUEST.value
    for reason in DoNotCallReason:
        if text in (reason.value, normalize_header(reason.label)):
            return reason.value
    return None


@dataclasses.dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    failed: int = 0
    # (line, external_id, message), sorted by line; empty when the errors went to an `on_error` sink.
    errors: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    warned: int = 0  # rows imported with something skipped (a bad phone)
    # (line, external_id, message) of those rows, sorted; empty when they went to an `on_warning` sink.
    warnings: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)


# Chunks are cut between clients (a client's rows are usually together), so two transactions write side by side.
WRITER_THREADS = 2


def import_wallet_rows(
    tenant, rows, chunk_size: int = 2000, progress=None, on_error=None, on_warning=None, user=None
) -> ImportReport:
    """Import an iterable of (line, dict) rows in chunks: good rows are written, bad rows reported.

    Each chunk is one transaction: a client is written whole (with its phones and títulos) or not at all.
    Memory stays flat whatever the file's length. On PostgreSQL, outside a transaction, the writes run in
    writer threads with their own connections, so parsing the next chunk overlaps with the database
    writing the previous ones (database waits release the GIL).

    `progress(n)` hears of every row done, good or bad; `on_error(line, external_id, message)`, if given,
    receives each row error instead of the report keeping them, and `on_warning` likewise each warning of a row
    imported with something skipped (a bad phone). They are called one at a time.
    """
    parser = WalletRowParser(tenant)
    report = ImportReport()
    lock = threading.Lock()  # writer threads share the report and the callbacks

    def fail(line, external_id, message):
        report.failed += 1
        if on_error:
            on_error(line, external_id, message)
        else:
            report.errors.append((line, external_id, message))

    def write(chunk: list[WalletRow]):
        try:
            with transaction.atomic():
                upsert_wallet_rows(tenant, chunk, user=user)
            done, refused = len(chunk), []
        except DatabaseError:
            # Isolate the row the database refused; the others still import.
            done, refused = 0, []
            for row in chunk:
                try:
                    with transaction.atomic():
                        upsert_wallet_rows(tenant, [row], user=user)
                    done += 1
                except DatabaseError as error:
                    refused.append((row.line, row.external_id, _("Erro ao gravar: %(e)s") % {"e": error}))
        with lock:
            report.imported += done
            for error in refused:
                fail(*error)
            if progress:
                progress(len(chunk))

    # SQLite has a single writer: parallel writes there only wait on each other's locks.
    pipelined = connection.vendor == "postgresql" and not connection.in_atomic_block
    writers = WriterThreads(write, WRITER_THREADS) if pipelined else None
    chunk: list[WalletRow] = []
    try:
        for line, raw in rows:
            try:
                row = parser.parse(raw, line)
            except ValidationError as error:
                with lock:
                    report.rows += 1
                    fail(line, _cell(raw.get("external_id")), " ".join(error.messages))
                    if progress:
                        progress(1)
                continue
            report.rows += 1
            if row.warnings:
                report.warned += 1
                for message in row.warnings:
                    (on_warning or _keep(report.warnings))(line, row.external_id, message)
            # Cut chunks between clients, so the títulos of one client are written together.
            if len(chunk) >= chunk_size and row.external_id != chunk[-1].external_id:
                writers.submit(chunk) if writers else write(chunk)
                chunk = []
            chunk.append(row)
        if chunk:
            writers.submit(chunk) if writers else write(chunk)
    finally:
        parser.close()
        if writers:
            writers.close()
    report.errors.sort()
    report.warnings.sort()
    return report


def _keep(found: list):
    return lambda *warning: found.append(warning)


class WriterThreads:
    """A few threads writing chunks, each with its own database connection, closed when they stop.

    The queue holds at most one chunk per thread: the reader waits rather than pile the file up in memory.
    An unexpected error in a writer stops the import, raised again in the caller's thread.
    """

    def __init__(self, write, count: int):
        self.write = write
        self.queue: queue.Queue = queue.Queue(maxsize=count)
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._run, name=f"wallet-writer-{n}", daemon=True) for n in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self):
        try:
            while (chunk := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        self.write(chunk)
                    except BaseException as error:
                        self.error = error
        finally:
            connection.close()

    def submit(self, chunk):
        if self.error is not None:
            raise self.error
        self.queue.put(chunk)

    def close(self):
        for _thread in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.error is not None:
            raise self.error
