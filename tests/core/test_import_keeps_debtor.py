"""A Carteira import through the admin's page keeps the debtor: a bad phone is skipped and reported, the client
and its título imported; headers are read whatever their case and spaces; the import is listed in Importações
da carteira with its report, like the worker's."""

import csv
import io
from decimal import Decimal

from core.importing import TEMPLATE_HEADERS
from core.models import Client, WalletImport
from tests.conftest import valid_cpf
from tests.core.test_import import GOOD, admin_import, admin_import_confirmed, csv_bytes


def test_a_bad_phone_is_skipped_and_reported_and_the_debtor_and_the_debt_imported(
    client, tenant_admin, tenant, creditor
):
    rows = [
        GOOD,
        {**GOOD, "external_id": "E2", "cpf": valid_cpf(2), "telefones": "(00) 98765-4321; (11) 3333-5555"},
        {**GOOD, "external_id": "E3", "cpf": valid_cpf(3), "telefones": "123"},
    ]
    client.force_login(tenant_admin)
    preview = admin_import(client, csv_bytes(rows))
    html = preview.content.decode()
    assert preview.context["confirm_form"] is not None
    assert "Telefone ignorado ((00) 98765-4321)" in html and "Telefone ignorado (123)" in html
    response = admin_import_confirmed(client, csv_bytes(rows))

    second, third = Client.objects.get(external_id="E2"), Client.objects.get(external_id="E3")
    assert list(second.phones.values_list("number", flat=True)) == ["+551133335555"]
    assert (third.phones.count(), third.main_phone) == (0, "")
    for kept in (second, third):
        assert kept.debts.count() == 1 and kept.open_balance == Decimal("1234.56")

    # Listed with the worker's imports, its report downloadable.
    job = WalletImport.objects.get(tenant=tenant)
    assert (job.status, job.processed_rows, job.imported_rows, job.error_rows, job.warning_rows) == (
        "concluida",
        3,
        3,
        0,
        2,
    )
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Telefone ignorado (123)" in m for m in messages), messages
    listing = client.get("/admin/core/walletimport/").content.decode()
    assert "carteira.csv" in listing
    page = client.get(f"/admin/core/walletimport/{job.pk}/change/").content.decode()
    assert 'id="import-error-report"' in page and "com telefone ignorado" in page
    report = client.get(f"/admin/core/walletimport/{job.pk}/erros.csv")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig")), delimiter=";"))
    assert [(line, external_id) for line, external_id, _message in lines[1:]] == [("3", "E2"), ("4", "E3")]
    assert "Telefone ignorado ((00) 98765-4321)" in lines[1][2]


def test_an_inline_import_with_refused_rows_is_listed_with_its_error_report(client, tenant_admin, tenant, creditor):
    rows = [GOOD, {**GOOD, "external_id": "E2", "cpf": "111.222.333-44"}]
    client.force_login(tenant_admin)
    admin_import_confirmed(client, csv_bytes(rows))
    job = WalletImport.objects.get(tenant=tenant)
    assert (job.imported_rows, job.error_rows, job.requested_by) == (1, 1, tenant_admin)
    report = client.get(f"/admin/core/walletimport/{job.pk}/erros.csv").content.decode("utf-8-sig")
    assert "E2" in report and "CPF inválido" in report


def test_headers_are_read_whatever_their_case_and_spaces(client, tenant_admin, tenant, creditor):
    shouted = {column: f"  {column.upper()} " for column in TEMPLATE_HEADERS}
    shouted["external_id"] = "External_ID"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([shouted[column] for column in TEMPLATE_HEADERS])
    writer.writerow([GOOD.get(column, "") for column in TEMPLATE_HEADERS])
    client.force_login(tenant_admin)
    admin_import_confirmed(client, buffer.getvalue().encode())
    maria = Client.objects.get(tenant=tenant, external_id="E1")
    assert (maria.name, maria.city, maria.open_balance) == ("Maria Importada", "São Paulo", Decimal("1234.56"))
    assert maria.phones.count() == 2
