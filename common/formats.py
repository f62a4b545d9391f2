import codecs
import csv
from pathlib import Path

from common import uploads
from common.spreadsheets import SafeCSV, SafeXLSX

# Python's csv refuses a cell over 128 KB and fails the whole file; the importer reports a huge cell as the
# error of its row instead (see core.importing.MAX_CELL_CHARS).
csv.field_size_limit(64 * 1024 * 1024)


def spreadsheet_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM), else what Excel in Brazil saves: Windows-1252, else Latin-1.

    `sample` may be the start of a file: a character cut at its end does not count against UTF-8.
    """
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def read_rows(path: Path):
    """(line number, row dict) from a CSV or XLSX file, streamed; ValidationError for an XLSX that expands past
    what the worker takes (common/uploads.py)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        workbook, rows = uploads.open_xlsx(path, uploads.queued_limits())
        header = [str(h or "") for h in next(rows, [])]
        for line, values in enumerate(rows, 2):
            if any(v not in (None, "") for v in values):
                yield line, dict(zip(header, values, strict=False))
        workbook.close()
        return
    encoding, dialect = csv_encoding_and_dialect(path)
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle, dialect=dialect)
        for line, row in enumerate(reader, 2):
            if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                yield line, row


SNIFF_SIZE = 64 * 1024  # how much of a file's start is read to find its encoding and delimiter


def sniff_dialect(sample: str) -> type[csv.Dialect] | None:
    """The CSV dialect of a file's start, delimited by ';' ',' tab or '|'; None when it cannot be told.

    Every reader of an uploaded CSV asks here (the import's worker, its preview, the admin's import format)."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return None


def csv_encoding_and_dialect(path: Path):
    with open(path, "rb") as binary:
        sample = binary.read(SNIFF_SIZE)
    encoding = spreadsheet_encoding(sample)
    return encoding, sniff_dialect(sample.decode(encoding, errors="ignore")) or csv.excel


def decode_spreadsheet_text(data: bytes) -> str:
    return data.decode(spreadsheet_encoding(data))


class SniffingCSV(SafeCSV):
    """CSV as Brazilian spreadsheets save it: ';' or ',' (or tab), detected from the file."""

    # Read as bytes: the encoding is found from the file, not assumed to be UTF-8.
    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            in_stream = decode_spreadsheet_text(in_stream)
        in_stream = in_stream.lstrip("\ufeff")
        dialect = sniff_dialect(in_stream[:SNIFF_SIZE])
        if dialect is not None:
            kwargs.setdefault("delimiter", dialect.delimiter)
        return super().create_dataset(in_stream, **kwargs)

    def export_data(self, dataset, **kwargs):
        # ';' and a BOM: what Excel in Brazil opens in columns, with the accents right.
        kwargs.setdefault("delimiter", ";")
        return "\ufeff" + super().export_data(dataset, **kwargs)


WALLET_FORMATS = [SniffingCSV, SafeXLSX]
EXPORT_FORMATS = [SafeCSV, SafeXLSX]
