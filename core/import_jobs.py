"""Carteira imports sent from the admin and run by the worker (`manage.py db_worker`), with live progress.

The upload is stored in the database (a worker on another machine reads it from there), a task is queued,
and the import page polls the job: rows read out of the total, rows imported, rows refused (a CSV report
in Portuguese) and, at the end, the summary. The import itself is core.importing's, the same as the
command's: a client is written whole or not at all, and bad rows are reported one by one.

A file that cannot be read is refused at the upload when it shows (no header, missing columns, not a
spreadsheet) and otherwise by the worker's first pass over the whole file, before anything is written.
"""

import contextlib
import csv
import dataclasses
import itertools
import logging
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from common import advisory_locks, uploads
from common.formats import SNIFF_SIZE, csv_encoding_and_dialect, read_rows, sniff_dialect, spreadsheet_encoding
from common.spreadsheets import neutralize_row
from core import hooks
from core.importing import import_wallet_rows, normalize_header
from core.models import WalletImport, WalletImportChunk, WalletImportError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024  # how the upload is stored: one row per megabyte
ERRORS_PER_WRITE = 500
PROGRESS_EVERY_SECONDS = 0.5
LOCK_NAMESPACE = 7301  # pg advisory locks: (namespace, import id); the dialer's exports use another
# Columns without which no row can import: such a file is refused at the upload, not row by row.
REQUIRED_COLUMNS = (("external_id", "codigo"), ("nome",), ("cpf",), ("credor",))
XLSX_FORMATS = ("xlsx", "xlsm")


@dataclasses.dataclass(frozen=True)
class FileKind:
    """A kind of file the worker imports in the background: the Carteira's (here) or another app's, registered in
    core.hooks.file_kinds. `run(job, path, progress)` imports the file's rows, calling progress.rows_done and
    progress.error as it goes, and returns (rows read, rows imported, rows refused)."""

    required_columns: tuple[tuple[str, ...], ...]
    run: Callable
    key_column: str  # the second column of the error report: what names a row


def file_kind(kind: str) -> FileKind:
    return hooks.file_kinds[kind]


# SQLite has one writer, and the preview imports the whole file in one transaction (a savepoint per row, ~50 ms a
# row in the demo): 375 rows locked every save, login and the worker for 20 s. This many stay within a few seconds.
SQLITE_INLINE_MAX_ROWS = 100


def inline_max_rows() -> int:
    """Files up to this many rows keep the admin's preview and import in the request; larger ones go to
    the worker (a production web timeout cuts a request long before a large file is done; the worker writes
    in chunks, each its own short transaction)."""
    configured = getattr(settings, "WALLET_IMPORT_INLINE_MAX_ROWS", 1000)
    if connection.vendor == "sqlite":
        return min(configured, SQLITE_INLINE_MAX_ROWS)
    return configured


def lease_seconds() -> int:
    return getattr(settings, "WALLET_IMPORT_LEASE_SECONDS", 120)


class UnreadableFile(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def inspect_upload(
    upload, file_format: str, read_rows: bool = True, kind: str = WalletImport.Kind.WALLET
) -> int | None:
    """How many rows the uploaded file has (CSV: counted by lines, so an estimate; XLSX: counted, and None past
    inline_max_rows(), or unread with `read_rows` false), or UnreadableFile with a Portuguese message. The caller
    has bounded the file (common/uploads.py). Leaves the file rewound."""
    try:
        if file_format in XLSX_FORMATS:
            return _inspect_xlsx(upload, kind) if read_rows else None
        return _inspect_csv(upload, kind)
    finally:
        upload.seek(0)


def _inspect_csv(upload, kind: str) -> int:
    upload.seek(0)
    sample = upload.read(SNIFF_SIZE)
    text = sample.decode(spreadsheet_encoding(sample), errors="ignore").lstrip("\ufeff")
    dialect = sniff_dialect(text) or csv.excel
    try:
        header = next(csv.reader(text.splitlines()[:1], dialect=dialect), [])
    except csv.Error:
        header = []
    _check_header(header, _("CSV"), kind)
    upload.seek(0)
    lines, last = 0, b"\n"
    for piece in upload.chunks():
        lines, last = lines + piece.count(b"\n"), piece[-1:] or last
    return max(lines + (last != b"\n") - 1, 0)  # the header is not a row; the last line may lack its newline


def _inspect_xlsx(upload, kind: str) -> int | None:
    """The rows of the sheet, counted as they are read (the dimension a sheet declares can be anything), up to
    one past what the preview takes: a larger file goes to the worker, whatever its length."""
    upload.seek(0)
    try:
        workbook, rows = uploads.open_xlsx(upload, uploads.inline_limits())
        try:
            header = [str(h or "") for h in next(rows, [])]
            counted = sum(1 for _row in itertools.islice(rows, inline_max_rows() + 1))
        finally:
            workbook.close()
    except ValidationError as error:
        raise UnreadableFile(" ".join(error.messages)) from None
    except Exception:  # openpyxl raises a dozen types for a file that is not a workbook
        raise UnreadableFile(
            _("Não foi possível ler o arquivo como planilha XLSX. Confira o formato escolhido.")
        ) from None
    _check_header(header, _("XLSX"), kind)
    return counted if counted <= inline_max_rows() else None


def _check_header(header: list, format_name: str, kind: str = WalletImport.Kind.WALLET) -> None:
    columns = {normalize_header(cell) for cell in header}
    missing = [names[0] for names in file_kind(kind).required_columns if not columns.intersection(names)]
    if missing:
        raise UnreadableFile(
            _(
                "Não foi possível ler o arquivo como %(format)s: a primeira linha não tem as colunas %(columns)s. "
                "Confira o formato escolhido e o cabeçalho (o modelo mostra as colunas)."
            )
            % {"format": format_name, "columns": ", ".join(missing)}
        )


def queue_import(
    tenant, user, upload, file_format: str, total_rows: int | None = None, kind: str = WalletImport.Kind.WALLET
) -> WalletImport:
    """Store the upload and queue its import; the task starts once this transaction commits."""
    with transaction.atomic():
        job = WalletImport.objects.create(
            tenant=tenant,
            kind=kind,
            requested_by=user,
            file_name=Path(upload.name or "carteira").name[:255],
            file_format="xlsx" if file_format in XLSX_FORMATS else "csv",
            file_size=upload.size or 0,
            total_rows=total_rows,
        )
        upload.seek(0)
        for sequence, piece in enumerate(upload.chunks(CHUNK_BYTES)):
            WalletImportChunk.objects.create(tenant=tenant, wallet_import=job, sequence=sequence, data=piece)
        transaction.on_commit(lambda: enqueue_import(job))
    return job


def record_inline_import(tenant, user, file_name: str, rows: int, errors: list, warnings: list) -> WalletImport:
    """A file the admin imported in the request (its preview confirmed), listed in Importações da carteira
    like the worker's, with its report: `errors` the rows refused, `warnings` the rows imported with
    something skipped, each (line, external_id, message)."""
    now = timezone.now()
    failed = len({line for line, _external_id, _message in errors})
    with transaction.atomic():
        job = WalletImport.objects.create(
            tenant=tenant,
            requested_by=user,
            file_name=Path(file_name or "carteira").name[:255],
            file_format="xlsx" if Path(file_name or "").suffix.lower() in (".xlsx", ".xlsm") else "csv",
            status=WalletImport.Status.DONE,
            total_rows=rows,
            processed_rows=rows,
            imported_rows=rows - failed,
            error_rows=failed,
            warning_rows=len({line for line, _external_id, _message in warnings}),
            started_at=now,
            finished_at=now,
            heartbeat_at=now,
        )
        WalletImportError.objects.bulk_create(
            WalletImportError(
                tenant=tenant, wallet_import=job, line=line, external_id=external_id[:64], message=message
            )
            for line, external_id, message in sorted([*errors, *warnings])
        )
    return job


def enqueue_import(job):
    from core.tasks import import_wallet_file

    import_wallet_file.enqueue(job.pk)


def run_import(job_id: int) -> WalletImport:
    """Import a queued file. Safe to run again after a worker died: the import upserts, so the rows
    written before are written again the same; the error report starts over."""
    with import_lock(job_id) as acquired:
        if not acquired:
            return WalletImport.objects.get(pk=job_id)
        claimed = WalletImport.objects.filter(pk=job_id, status=WalletImport.Status.QUEUED).update(
            status=WalletImport.Status.RUNNING,
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            processed_rows=0,
            imported_rows=0,
            error_rows=0,
            warning_rows=0,
            failure="",
        )
        job = WalletImport.objects.select_related("tenant", "requested_by").get(pk=job_id)
        if not claimed:
            return job
        WalletImportError.objects.filter(wallet_import=job).delete()
        try:
            _run(job)
        except (OperationalError, InterfaceError):
            # The database went away: no verdict on the file. Back in the queue if it can be said now (the worker
            # runs the task again once the database is back); else the sweep finds it when its lease runs out.
            with contextlib.suppress(DatabaseError):
                WalletImport.objects.filter(pk=job.pk, status=WalletImport.Status.RUNNING).update(
                    status=WalletImport.Status.QUEUED
                )
            raise
        except Exception:
            logger.exception("Importação %s falhou", job.pk)
            _finish(
                job,
                WalletImport.Status.FAILED,
                _("Erro inesperado durante a importação. As linhas já gravadas ficam; envie o arquivo de novo."),
            )
            raise
        job.refresh_from_db()
        return job


def _run(job: WalletImport) -> None:
    suffix = ".xlsx" if job.file_format in XLSX_FORMATS else ".csv"
    with tempfile.TemporaryDirectory(prefix="importacao-") as folder:
        path = Path(folder) / f"arquivo{suffix}"
        with open(path, "wb") as handle:
            pieces = WalletImportChunk.objects.filter(wallet_import=job).order_by("sequence")
            for sequence in pieces.values_list("sequence", flat=True):
                handle.write(pieces.filter(sequence=sequence).values_list("data", flat=True).get())
        try:
            # A whole first pass: a file that cannot be read stops here, before writing.
            total = count_rows(path, job.kind)
        except UnreadableFile as error:
            _finish(job, WalletImport.Status.FAILED, error.message)
            return
        WalletImport.objects.filter(pk=job.pk).update(total_rows=total, heartbeat_at=timezone.now())
        progress = JobProgress(job)
        rows, imported, failed = file_kind(job.kind).run(job, path, progress)
        progress.flush()
    WalletImport.objects.filter(pk=job.pk).update(processed_rows=rows, imported_rows=imported, error_rows=failed)
    _finish(job, WalletImport.Status.DONE, "")


def _run_wallet(job: WalletImport, path: Path, progress: "JobProgress") -> tuple[int, int, int]:
    report = import_wallet_rows(
        job.tenant,
        read_rows(path),
        progress=progress.rows_done,
        on_error=progress.error,
        on_warning=progress.warning,
        user=job.requested_by,
    )
    WalletImport.objects.filter(pk=job.pk).update(warning_rows=report.warned)
    return report.rows, report.imported, report.failed


def count_rows(path: Path, kind: str = WalletImport.Kind.WALLET) -> int:
    """The rows read_rows will give, reading the whole file; UnreadableFile if some of it cannot be read."""
    try:
        if path.suffix in (".xlsx", ".xlsm"):
            workbook, rows = uploads.open_xlsx(path, uploads.queued_limits())
            try:  # the upload did not read the header of a file too large for the request
                _check_header([str(h or "") for h in next(rows, [])], _("XLSX"), kind)
            finally:
                workbook.close()
            return sum(1 for _row in read_rows(path))
        encoding, dialect = csv_encoding_and_dialect(path)
        with open(path, encoding=encoding, newline="") as handle:
            reader = csv.reader(handle, dialect=dialect)
            next(reader, None)
            return sum(1 for cells in reader if any(cell.strip() for cell in cells))
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            _(
                "O arquivo mistura codificações de texto (byte inválido na posição %(position)s): "
                "salve-o de novo como CSV UTF-8 e envie outra vez. Nada foi importado."
            )
            % {"position": error.start}
        ) from None
    except ValidationError as error:  # an XLSX that expands past the limits
        raise UnreadableFile(" ".join(error.messages) + " " + _("Nada foi importado.")) from None
    except (csv.Error, zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise UnreadableFile(
            _("Não foi possível ler o arquivo (%(error)s). Nada foi importado.") % {"error": error}
        ) from None


class JobProgress:
    """What the import page polls: counts and errors written every half second from the import's threads."""

    def __init__(self, job: WalletImport):
        self.job = job
        self.processed = 0
        self.failed = 0
        self.errors: list[WalletImportError] = []
        self.written = time.monotonic()

    def rows_done(self, count: int) -> None:
        self.processed += count
        if time.monotonic() - self.written >= PROGRESS_EVERY_SECONDS:
            self.flush()

    def error(self, line: int, external_id: str, message: str) -> None:
        self.failed += 1
        self._report(line, external_id, message)

    def warning(self, line: int, external_id: str, message: str) -> None:
        """Something skipped in a row that is imported all the same: in the report, not counted as an error."""
        self._report(line, external_id, message)

    def _report(self, line: int, external_id: str, message: str) -> None:
        self.errors.append(
            WalletImportError(
                tenant_id=self.job.tenant_id,
                wallet_import=self.job,
                line=line,
                external_id=external_id,
                message=message,
            )
        )
        if len(self.errors) >= ERRORS_PER_WRITE:
            self._write_errors()

    def flush(self) -> None:
        self._write_errors()
        WalletImport.objects.filter(pk=self.job.pk).update(
            processed_rows=self.processed,
            imported_rows=self.processed - self.failed,
            error_rows=self.failed,
            heartbeat_at=timezone.now(),
        )
        self.written = time.monotonic()

    def _write_errors(self) -> None:
        if self.errors:
            WalletImportError.objects.bulk_create(self.errors)
            self.errors = []


def _finish(job: WalletImport, status: str, failure: str) -> None:
    with transaction.atomic():
        WalletImport.objects.filter(pk=job.pk).update(
            status=status, failure=failure, finished_at=timezone.now(), heartbeat_at=timezone.now()
        )
        # The file is not needed any more: the report and the counts stay.
        WalletImportChunk.objects.filter(wallet_import=job).delete()


def summary(job: WalletImport) -> str:
    """The last line of the import page."""
    if job.status == WalletImport.Status.FAILED:
        return _("A importação falhou: %(reason)s") % {"reason": job.failure}
    if job.status != WalletImport.Status.DONE:
        return ""
    figures = {
        "imported": f"{job.imported_rows:,}".replace(",", "."),
        "errors": f"{job.error_rows:,}".replace(",", "."),
        "rows": f"{job.processed_rows:,}".replace(",", "."),
        "warnings": f"{job.warning_rows:,}".replace(",", "."),
    }
    if job.kind == WalletImport.Kind.PAYMENTS:
        figures["already"] = f"{job.processed_rows - job.imported_rows - job.error_rows:,}".replace(",", ".")
        return (
            _(
                "Importação concluída: %(imported)s pagamento(s) registrado(s), %(already)s já importado(s) antes, "
                "%(errors)s com erro, de %(rows)s linha(s) lida(s)."
            )
            % figures
        )
    if job.warning_rows:
        return (
            _(
                "Importação concluída: %(imported)s linha(s) importada(s), %(errors)s com erro, de %(rows)s lida(s); "
                "%(warnings)s importada(s) com telefone ignorado (veja o relatório)."
            )
            % figures
        )
    return (
        _("Importação concluída: %(imported)s linha(s) importada(s), %(errors)s com erro, de %(rows)s lida(s).")
        % figures
    )


def progress_context(job: WalletImport, *, progress_url: str, errors_url: str, back_url: str, back_label) -> dict:
    """What the progress template (admin/core/walletimport/_progress.html) shows of a job, on whichever page."""
    return {
        "job": job,
        "summary": summary(job),
        "progress_url": progress_url,
        "errors_url": errors_url if has_report(job) and not report_expired(job) else "",
        "report_expired": report_expired(job),
        "report_days": settings.WALLET_IMPORT_REPORT_DAYS,
        "back_url": back_url,
        "back_label": back_label,
    }


def report_cutoff(now=None):
    """Imports that ended before this no longer have their error report."""
    return (now or timezone.now()) - timedelta(days=settings.WALLET_IMPORT_REPORT_DAYS)


def has_report(job: WalletImport) -> bool:
    """Whether the import has rows in its report: refused ones, or imported ones with something skipped."""
    return bool(job.error_rows or job.warning_rows)


def report_expired(job: WalletImport, now=None) -> bool:
    return bool(has_report(job) and job.finished_at and job.finished_at < report_cutoff(now))


def prune_error_reports(now=None, batch_size: int = 5000) -> int:
    """Delete the refused rows of the imports that ended before the cutoff, a batch at a time (a bad file can
    leave a million); returns how many went."""
    old = (
        WalletImport.objects.filter(finished_at__lt=report_cutoff(now))
        .filter(Q(error_rows__gt=0) | Q(warning_rows__gt=0))
        .values("pk")
    )
    deleted = 0
    while True:
        batch = list(WalletImportError.objects.filter(wallet_import__in=old).values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += WalletImportError.objects.filter(pk__in=batch).delete()[0]


def write_error_report(job: WalletImport, response) -> None:
    """The refused rows as CSV (linha;external_id;erro, or the key column of the file's kind), streamed from the
    database in line order."""
    writer = csv.writer(response, delimiter=";")
    response.write("\ufeff")  # Excel in Brazil reads the accents right with a BOM
    writer.writerow(["linha", file_kind(job.kind).key_column, "erro"])
    errors = WalletImportError.objects.filter(wallet_import=job).order_by("line", "id")
    for line, external_id, message in errors.values_list("line", "external_id", "message").iterator(2000):
        writer.writerow(neutralize_row([line, external_id, message]))


def stranded_imports(now=None):
    """Running imports whose lease ran out: their worker died."""
    expired = (now or timezone.now()) - timedelta(seconds=lease_seconds())
    return WalletImport.objects.filter(
        Q(status=WalletImport.Status.RUNNING) & (Q(heartbeat_at__lt=expired) | Q(heartbeat_at__isnull=True))
    )


def sweep_imports() -> list[int]:
    """Queue again the imports whose worker died (run by every worker at each heartbeat).

    On PostgreSQL an import whose advisory lock is held still has a live worker and is left alone.
    """
    requeued = []
    with transaction.atomic():
        candidates = list(stranded_imports().select_for_update(skip_locked=True).values_list("pk", flat=True))
        with advisory_locks.try_locks(LOCK_NAMESPACE, candidates) as free:
            requeued = free
            WalletImport.objects.filter(pk__in=free).update(
                status=WalletImport.Status.QUEUED, heartbeat_at=timezone.now()
            )
    for job_id in requeued:
        logger.warning("Importação %s retomada pela varredura (worker parado).", job_id)
        enqueue_import(WalletImport(pk=job_id))
    return requeued


def import_lock(job_id: int):
    """Held by the worker running an import; PostgreSQL releases it if the worker dies."""
    return advisory_locks.try_lock(LOCK_NAMESPACE, job_id)


hooks.file_kinds[WalletImport.Kind.WALLET] = FileKind(REQUIRED_COLUMNS, _run_wallet, "external_id")
