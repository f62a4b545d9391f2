"""Uploaded spreadsheets bounded before anything parses them: the file's size and each XLSX member's expansion.

An XLSX is a zip: a few hundred KiB can expand to gigabytes. openpyxl, even read-only, reads every member but
the worksheets whole into memory (the shared strings above all), and streams only the worksheets. So the members
it loads whole are held to a small size each, and the whole file's expansion to a larger total. The sizes are the
ones the zip's directory declares: zipfile stops reading a member at its declared size, so a directory that lies
cannot let more out than was checked.
"""

import dataclasses
import re
import zipfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MB = 1024 * 1024
ZIP_SIGNATURE = b"PK\x03\x04"
# The members openpyxl streams in read-only mode; every other one it reads whole.
STREAMED_MEMBER = re.compile(r"xl/worksheets/[^/]+\.xml")


@dataclasses.dataclass(frozen=True)
class Limits:
    upload: int  # bytes of the file as sent
    uncompressed: int  # bytes of an XLSX's members together, uncompressed
    loaded_member: int  # bytes of one XLSX member openpyxl keeps whole (every one but the worksheets)


def queued_limits() -> Limits:
    """What a file imported by the worker may weigh (the Carteira import)."""
    return Limits(
        upload=settings.IMPORT_MAX_UPLOAD_MB * MB,
        uncompressed=settings.IMPORT_XLSX_MAX_UNCOMPRESSED_MB * MB,
        loaded_member=settings.IMPORT_XLSX_MAX_LOADED_MEMBER_MB * MB,
    )


def inline_limits() -> Limits:
    """What a file read whole in the request may weigh (the previews, the payment and message imports)."""
    return Limits(
        upload=settings.IMPORT_INLINE_MAX_UPLOAD_MB * MB,
        uncompressed=settings.IMPORT_INLINE_XLSX_MAX_UNCOMPRESSED_MB * MB,
        loaded_member=min(settings.IMPORT_XLSX_MAX_LOADED_MEMBER_MB, settings.IMPORT_INLINE_XLSX_MAX_UNCOMPRESSED_MB)
        * MB,
    )


def megabytes(size: int) -> str:
    """1,5 MB: a size as the pages state it."""
    return f"{size / MB:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " MB"


def content_size(upload, limits: Limits) -> int:
    """How much the file holds: its size, or for an XLSX its members' uncompressed size together.

    ValidationError (in Portuguese) when either passes `limits`. Reads the zip's directory only, never a member;
    leaves the file rewound.
    """
    size = upload.size or 0
    if size > limits.upload:
        raise ValidationError(
            _("O arquivo tem %(size)s; o limite é %(limit)s. Divida-o em arquivos menores e envie cada um.")
            % {"size": megabytes(size), "limit": megabytes(limits.upload)},
            code="too_large",
        )
    upload.seek(0)
    is_zip = upload.read(len(ZIP_SIGNATURE)) == ZIP_SIGNATURE
    upload.seek(0)
    if not is_zip:
        return size
    try:
        return xlsx_uncompressed_size(upload, limits)
    finally:
        upload.seek(0)


def xlsx_uncompressed_size(file, limits: Limits) -> int:
    """The uncompressed size of an XLSX (a path or a binary file), or ValidationError if it expands past `limits`."""
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(
            _("Não foi possível ler o arquivo como planilha XLSX. Confira o formato escolhido."), code="not_xlsx"
        ) from None
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > limits.loaded_member and not STREAMED_MEMBER.fullmatch(member.filename):
            raise ValidationError(
                _(
                    "A planilha tem uma parte (%(member)s) que descompactada ocupa %(size)s; o limite é %(limit)s. "
                    "Salve-a como CSV e envie de novo."
                )
                % {
                    "member": member.filename[:80],
                    "size": megabytes(member.file_size),
                    "limit": megabytes(limits.loaded_member),
                },
                code="xlsx_member_too_large",
            )
    if total > limits.uncompressed:
        raise ValidationError(
            _(
                "A planilha descompactada ocupa %(size)s; o limite é %(limit)s. "
                "Divida-a em arquivos menores ou salve-a como CSV."
            )
            % {"size": megabytes(total), "limit": megabytes(limits.uncompressed)},
            code="xlsx_too_large",
        )
    return total


def open_xlsx(source, limits: Limits):
    """The workbook and its active sheet's rows (tuples of values), streamed: the rows the sheet holds, not the
    dimension it declares. ValidationError, before openpyxl reads anything, if the file expands past `limits`."""
    from openpyxl import load_workbook

    xlsx_uncompressed_size(source, limits)
    if hasattr(source, "seek"):
        source.seek(0)
    workbook = load_workbook(source, read_only=True, data_only=True)
    sheet = workbook.active
    # A sheet may declare A1:A1 and hold 400,000 rows: read-only openpyxl would stop at the declared corner.
    sheet.reset_dimensions()
    return workbook, sheet.iter_rows(values_only=True)
