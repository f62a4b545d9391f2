"""Cells the product writes to CSV and XLSX files, made inert: a spreadsheet never runs what a debtor typed.

A text cell starting with = + - @ tab or carriage return is a formula to Excel and LibreOffice (a planted
`=HYPERLINK(...)` in a name becomes a link that leaks data when clicked). Such cells are written with a
leading apostrophe, the spreadsheet convention for "this is text"; imports remove it again, so a file
exported and imported back gives the same values.

A control character is no text anyone typed on purpose, and a single one fails a whole XLSX (openpyxl refuses
what XML 1.0 cannot hold, its ILLEGAL_CHARACTERS_RE) and puts NULs in a CSV: every writer drops them here.
"""

import io

import tablib
from import_export.formats.base_formats import CSV, XLSX

from common import uploads
from common.parsing import CONTROL_CHARACTERS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralize(value):
    """The cell as inert, writable text, or the value untouched when it is not text."""
    if not isinstance(value, str):
        return value
    value = CONTROL_CHARACTERS.sub("", value)
    if value.startswith(FORMULA_STARTS):
        return QUOTE + value
    return value


def neutralize_row(values) -> list:
    return [neutralize(value) for value in values]


def unneutralize(value):
    """What `neutralize` wrote, read back."""
    if isinstance(value, str) and value.startswith(QUOTE) and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def neutralized_dataset(dataset: tablib.Dataset) -> tablib.Dataset:
    safe = tablib.Dataset(headers=dataset.headers, title=dataset.title)
    for row in dataset:
        safe.append(neutralize_row(row))
    return safe


class SafeExportMixin:
    """An import-export format whose exported cells are inert (text, never formulas)."""

    def export_data(self, dataset, **kwargs):
        return super().export_data(neutralized_dataset(dataset), **kwargs)


class SafeCSV(SafeExportMixin, CSV):
    pass


class SafeXLSX(SafeExportMixin, XLSX):
    def create_dataset(self, in_stream):
        """The first sheet's rows, read the way the worker reads them (common/uploads.open_xlsx): bounded, and
        every row the sheet holds rather than those its declared dimension claims, each cut or padded to the
        header's width (what tablib requires)."""
        workbook, rows = uploads.open_xlsx(io.BytesIO(in_stream), uploads.inline_limits())
        try:
            headers = list(next(rows, ()))
            width = len(headers)
            dataset = tablib.Dataset(headers=headers)
            for values in rows:
                if any(value not in (None, "") for value in values):
                    dataset.append((list(values) + [None] * width)[:width])
        finally:
            workbook.close()
        return dataset
