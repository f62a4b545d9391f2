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


def test_the_export_adds_columns_people_read_and_importing_it_back_changes_nothing(
    client, tenant_admin, tenant, creditor, operator, make_client
):
    import datetime

    from django.utils import timezone

    from attendance.models import CallDisposition, DispositionType
    from core import services as core_services
    from tests.core.test_import import admin_export_csv, wallet_state

    marked = make_client(name="Não Ligue", debts=((Decimal("1553.60"), 40),))
    core_services.set_do_not_call(marked, "lgpd", tenant_admin)
    CallDisposition.objects.create(
        tenant=tenant,
        client=marked,
        operator=operator,
        type=DispositionType.objects.get(tenant=None, behavior="caixa_postal"),
    )
    contacted = timezone.make_aware(datetime.datetime(2026, 3, 9, 14, 30))
    CallDisposition.objects.filter(client=marked).update(created_at=contacted)
    make_client(name="Sem Contato", debts=((Decimal("10.00"), 5),))
    client.force_login(tenant_admin)
    exported = admin_export_csv(client)
    rows = {r["nome"]: r for r in csv.DictReader(io.StringIO(exported.decode("utf-8-sig")), delimiter=";")}
    assert {k: rows["Não Ligue"][k] for k in ("nao_ligar", "situacao", "saldo", "dias_atraso", "ultimo_contato")} == {
        "nao_ligar": "LGPD",
        "situacao": "Em aberto",
        "saldo": "1.553,60",
        "dias_atraso": "40",
        "ultimo_contato": timezone.localtime(contacted).strftime("%d/%m/%Y %H:%M"),
    }
    assert (rows["Sem Contato"]["nao_ligar"], rows["Sem Contato"]["ultimo_contato"]) == ("", "")

    before = wallet_state(tenant)
    admin_import_confirmed(client, exported)
    assert wallet_state(tenant) == before
    marked.refresh_from_db()
    assert marked.do_not_call_reason == "lgpd"


def test_nao_ligar_is_documented_and_takes_yes_and_no(client, tenant_admin, tenant, creditor):
    client.force_login(tenant_admin)
    page = client.get("/admin/core/client/import/").content.decode()
    assert "nao_ligar" in page and "sim, s, x, true ou 1" in page
    model = client.get("/admin/core/client/modelo.csv").content.decode("utf-8-sig")
    assert "nao_ligar" in model.splitlines()[0]
    rows = [
        {**GOOD, "nao_ligar": "Sim"},
        {**GOOD, "external_id": "E2", "cpf": valid_cpf(2), "nao_ligar": "x"},
        {**GOOD, "external_id": "E3", "cpf": valid_cpf(3), "nao_ligar": "não"},
        {**GOOD, "external_id": "E4", "cpf": valid_cpf(4), "nao_ligar": "0"},
        {**GOOD, "external_id": "E5", "cpf": valid_cpf(5), "nao_ligar": "TRUE"},
    ]
    admin_import_confirmed(client, csv_bytes(rows))
    marks = dict(Client.objects.filter(tenant=tenant).values_list("external_id", "do_not_call_reason"))
    assert marks == {"E1": "pedido_devedor", "E2": "pedido_devedor", "E3": "", "E4": "", "E5": "pedido_devedor"}
