"""Every upload is bounded before anything parses it: the file's size, and each XLSX member's expansion."""

import io
import os
import re
import subprocess
import sys
import zipfile

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from import_export.admin import ImportMixin

from core import import_jobs
from core.models import Client, WalletImport
from tests.core.test_import import GOOD, csv_bytes
from tests.core.upload_memory import HEADER, workbook_skeleton, xlsx_bomb

pytestmark = pytest.mark.django_db

# Every admin page with an import, found in the registry: a new one is bounded without anyone remembering to.
IMPORT_ADMINS = sorted(
    (model._meta.label for model, model_admin in admin.site._registry.items() if isinstance(model_admin, ImportMixin)),
)


def import_url(label: str) -> str:
    app_label, model_name = label.lower().split(".")
    return f"/admin/{app_label}/{model_name}/import/"


def post_upload(client, label: str, data: bytes, extension: str):
    model_admin = next(a for m, a in admin.site._registry.items() if m._meta.label == label)
    formats = model_admin.get_import_formats()
    index = next(i for i, f in enumerate(formats) if f().get_extension() == extension)
    return client.post(
        import_url(label), {"format": index, "import_file": SimpleUploadedFile(f"arquivo.{extension}", data)}
    )


def file_errors(response) -> str:
    return " ".join(response.context["form"].errors.get("import_file", []))


def test_the_registry_has_the_import_pages():
    assert {"core.Client", "attendance.Payment", "attendance.Message"} <= set(IMPORT_ADMINS)


@pytest.mark.parametrize("label", IMPORT_ADMINS)
def test_every_import_page_states_its_limit_and_refuses_a_larger_file_in_portuguese(
    client, tenant_admin, creditor, settings, label
):
    settings.IMPORT_MAX_UPLOAD_MB = settings.IMPORT_INLINE_MAX_UPLOAD_MB = 1
    client.force_login(tenant_admin)
    page = client.get(import_url(label)).content.decode()
    assert "Tamanho máximo do arquivo: 1 MB" in page

    big = csv_bytes([GOOD]) + b"x" * (1024 * 1024)
    response = post_upload(client, label, big, "csv")
    assert response.status_code == 200
    assert "o limite é 1 MB" in file_errors(response), file_errors(response)
    assert "result" not in response.context and not WalletImport.objects.exists()


def test_the_carteira_takes_a_larger_file_than_the_pages_read_in_the_request(client, tenant_admin, creditor, settings):
    """Above the request's limit the Carteira file goes to the worker, unread, and so does a bank's payment file."""
    settings.IMPORT_INLINE_MAX_UPLOAD_MB = 1
    client.force_login(tenant_admin)
    data = csv_bytes([GOOD]) + b"\n" * (1024 * 1024)
    response = post_upload(client, "core.Client", data, "csv")
    job = WalletImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/core/walletimport/{job.pk}/change/"
    payments = b"id_pagamento;external_id;contrato;data;valor\nP1;E1;C1;01/01/2026;1,00\n" + b"\n" * (1024 * 1024)
    response = post_upload(client, "attendance.Payment", payments, "csv")
    job = WalletImport.objects.get(kind=WalletImport.Kind.PAYMENTS)
    assert response.status_code == 302 and response["Location"] == f"/admin/attendance/payment/importacao/{job.pk}/"


@pytest.fixture
def load_workbook_calls(monkeypatch):
    """openpyxl.load_workbook, counted: an unsafe file must be refused before it is called."""
    calls = []
    real = openpyxl.load_workbook

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counted)
    monkeypatch.setattr("openpyxl.reader.excel.load_workbook", counted)
    return calls


@pytest.mark.parametrize("label", ["core.Client", "attendance.Payment", "attendance.Message"])
def test_an_xlsx_bomb_is_refused_before_openpyxl_opens_it(
    client, tenant_admin, creditor, load_workbook_calls, settings, label
):
    settings.IMPORT_XLSX_MAX_LOADED_MEMBER_MB = 8
    bomb = xlsx_bomb(strings=1_000_000)  # 17 MB of shared strings packed in ~40 KiB
    assert len(bomb) < 50 * 1024
    client.force_login(tenant_admin)
    response = post_upload(client, label, bomb, "xlsx")
    expected = r"xl/sharedStrings\.xml\) que descompactada ocupa 16,2 MB; o limite é 8 MB"
    assert re.search(expected, file_errors(response)), file_errors(response)
    assert load_workbook_calls == []
    assert not WalletImport.objects.exists() and not Client.objects.exists()


def test_the_worker_refuses_an_xlsx_bomb_before_openpyxl_opens_it(tmp_path, load_workbook_calls, settings):
    settings.IMPORT_XLSX_MAX_LOADED_MEMBER_MB = 8
    path = tmp_path / "bomba.xlsx"
    path.write_bytes(xlsx_bomb(strings=1_000_000))
    with pytest.raises(import_jobs.UnreadableFile, match="descompactada ocupa"):
        import_jobs.count_rows(path)
    assert load_workbook_calls == []


def test_the_xlsx_bomb_of_the_report_keeps_the_process_under_300_mb():
    """The 205 KiB file that held a web process at ~1.3 GiB, through every upload path, in a process of its own."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.core.upload_memory"],
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        # The helper touches no database: the settings' default is enough, whatever this run tests on.
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": "sqlite://:memory:"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = dict(re.findall(r"^(\w+)=(\d+)$", result.stdout, re.MULTILINE))
    assert 190 <= int(figures["bomb_kib"]) <= 220, result.stdout
    assert result.stdout.count("descompactada ocupa") == 4, result.stdout  # three forms and the worker refused it
    assert int(figures["peak_rss_mb"]) < 300, result.stdout


def sheet_declaring_one_cell(data_rows: list[list[str]]) -> bytes:
    """An XLSX whose sheet declares the dimension A1:A1 while holding a header and `data_rows` (inline strings)."""

    def row_xml(number, values):
        cells = "".join(
            f'<c r="{letter}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
            for letter, value in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", values, strict=False)
        )
        return f'<row r="{number}">{cells}</row>'

    header = [*HEADER, "contrato", "vencimento", "valor_original"]
    rows = "".join(row_xml(n, values) for n, values in enumerate([header, *data_rows], 1))
    members = workbook_skeleton("A1:A1", rows_xml=rows)
    members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/>',
        "",
    )
    shared_strings = r'<Override PartName="/xl/sharedStrings.xml"[^>]*/>'
    members["[Content_Types].xml"] = re.sub(shared_strings, "", members["[Content_Types].xml"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def wallet_row(n: int) -> list[str]:
    from tests.conftest import valid_cpf

    return [f"D{n}", f"Cliente {n}", valid_cpf(n), "banco horizonte", f"K{n}", "10/01/2025", "100,00"]


def test_the_preview_reads_the_sheets_rows_not_its_declared_dimension(client, tenant_admin, creditor):
    client.force_login(tenant_admin)
    response = post_upload(client, "core.Client", sheet_declaring_one_cell([wallet_row(n) for n in (1, 2, 3)]), "xlsx")
    assert file_errors(response) == ""
    result = response.context["result"]
    assert result.total_rows == 3 and not result.has_validation_errors()
    assert [row.import_type for row in result.rows] == ["new", "new", "new"]


def test_the_worker_reads_the_sheets_rows_not_its_declared_dimension(
    client, tenant_admin, tenant, creditor, settings, django_capture_on_commit_callbacks, run_worker
):
    settings.WALLET_IMPORT_INLINE_MAX_ROWS = 2
    client.force_login(tenant_admin)
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, "core.Client", sheet_declaring_one_cell([wallet_row(n) for n in range(1, 6)]), "xlsx")
    run_worker()
    job = WalletImport.objects.get()
    assert (job.status, job.total_rows, job.imported_rows, job.error_rows) == ("concluida", 5, 5, 0)
    assert Client.objects.filter(tenant=tenant).count() == 5


def test_a_sheet_declaring_one_cell_and_holding_400_000_rows_goes_to_the_worker_and_is_counted(
    client, tenant_admin, creditor, tmp_path, django_capture_on_commit_callbacks
):
    data = sheet_declaring_one_cell([["x"]] * 400_000)
    client.force_login(tenant_admin)
    with django_capture_on_commit_callbacks():
        response = post_upload(client, "core.Client", data, "xlsx")
    job = WalletImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/core/walletimport/{job.pk}/change/"
    path = tmp_path / "grande.xlsx"
    path.write_bytes(data)
    assert import_jobs.count_rows(path) == 400_000
