"""An XLSX bomb, and the peak memory of a process handling it as an upload.

`python -m tests.core.upload_memory [STRINGS]` builds a bomb whose shared strings hold STRINGS tiny strings
(5,000,000 by default: a file of about 205 KiB that openpyxl turned into ~1.3 GiB), hands it to what a request
and the worker do with an upload (the Carteira import form, the payment and WhatsApp import forms, the preview's
reading, the worker's first pass) and prints `peak_rss_mb=N`: the process's ru_maxrss at the end. It needs no
database, so a test runs it in a subprocess of its own and reads the figure.
"""

import io
import resource
import sys
import tempfile
import zipfile
from pathlib import Path

BOMB_STRINGS = 5_000_000
# The four columns an import needs, in the header; the data rows point at the bomb's strings.
HEADER = ("external_id", "nome", "cpf", "credor")


def xlsx_bomb(strings: int = BOMB_STRINGS, declared_dimension: str = "A1:D2") -> bytes:
    """A valid one-sheet workbook whose shared strings table holds `strings` copies of one letter: the file stays
    small (deflate packs the repetition about a thousand to one) while a reader that loads the table whole holds
    millions of Python strings."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in workbook_skeleton(declared_dimension).items():
            archive.writestr(name, text)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            member.write(
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            for title in HEADER:
                member.write(f"<si><t>{title}</t></si>".encode())
            block = b"<si><t>a</t></si>" * 10_000
            for _ in range(strings // 10_000):
                member.write(block)
            member.write(b"</sst>")
    return buffer.getvalue()


def workbook_skeleton(declared_dimension: str, rows_xml: str | None = None) -> dict[str, str]:
    """The members of a minimal workbook; the sheet's cells are shared strings 0-3 (the header) unless given."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    if rows_xml is None:
        cells = "".join(f'<c r="{letter}1" t="s"><v>{n}</v></c>' for n, letter in enumerate("ABCD"))
        rows_xml = f'<row r="1">{cells}</row><row r="2"><c r="A2" t="s"><v>4</v></c></row>'
    return {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{rel}">'
            '<sheets><sheet name="Carteira" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}">'
            f'<dimension ref="{declared_dimension}"/><sheetData>{rows_xml}</sheetData></worksheet>'
        ),
    }


def handle_upload(data: bytes) -> list[str]:
    """What the web process and the worker do with an uploaded XLSX, up to where they refuse it; their verdicts."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from attendance.admin import MessageAdmin, PaymentAdmin
    from attendance.models import Message, Payment
    from core import import_jobs
    from core.admin import ClientAdmin
    from core.models import Client

    verdicts = []
    for admin_class, model in ((ClientAdmin, Client), (PaymentAdmin, Payment), (MessageAdmin, Message)):
        model_admin = admin_class(model, None)
        formats = model_admin.get_import_formats()
        index = next(i for i, f in enumerate(formats) if f().get_extension() == "xlsx")
        upload = SimpleUploadedFile("bomba.xlsx", data)
        resources = model_admin.get_import_resource_classes(None)
        form = model_admin.import_form_class(
            formats, resources, data={"format": str(index)}, files={"import_file": upload}
        )
        if form.is_valid() and getattr(form, "goes_to_worker", lambda: False)():
            verdicts.append(f"{admin_class.__name__}: aceito, para o worker")
        elif form.is_valid():  # what import_action does next with a file it previews
            upload.seek(0)
            formats[index]().create_dataset(upload.read())
            verdicts.append(f"{admin_class.__name__}: aceito, com prévia")
        else:
            verdicts.append(f"{admin_class.__name__}: {' '.join(form.errors.get('import_file', form.errors))}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "arquivo.xlsx"
        path.write_bytes(data)
        try:
            verdicts.append(f"worker: {import_jobs.count_rows(path)} linhas")
        except import_jobs.UnreadableFile as error:
            verdicts.append(f"worker: {error.message}")
    return verdicts


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    import django

    django.setup()
    strings = int(sys.argv[1]) if len(sys.argv) > 1 else BOMB_STRINGS
    data = xlsx_bomb(strings)
    print(f"bomb_kib={len(data) / 1024:.0f}")
    print(f"rss_before_mb={peak_rss_mb():.0f}")
    for verdict in handle_upload(data):
        print(verdict)
    print(f"peak_rss_mb={peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
