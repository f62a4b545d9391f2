import csv
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from core.importing import EXPORT_ONLY_HEADERS, TEMPLATE_HEADERS
from core.models import Client, ClientPhone, Debt
from tests.conftest import valid_cpf

GOOD = {
    "external_id": "E1",
    "nome": "Maria Importada",
    "cpf": "529.982.247-25",
    "email": "maria@exemplo.com",
    "credor": "banco horizonte",
    "telefones": "(11) 98765-4321; 11 3333-4444",
    "cidade": "São Paulo",
    "uf": "sp",
    "contrato": "CT-1",
    "parcela": "1",
    "total_parcelas": "2",
    "vencimento": "10/01/2025",
    "valor_original": "1.234,56",
    "valor_pago": "0",
}


def csv_bytes(rows, delimiter=";"):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TEMPLATE_HEADERS, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def bad_rows():
    return [
        {**GOOD, "external_id": "E2", "cpf": "111.222.333-44"},  # line 3: invalid CPF
        {**GOOD, "external_id": "E3", "cpf": valid_cpf(3), "telefones": "123"},  # line 4: invalid phone, imported
        {**GOOD, "external_id": "E4", "cpf": valid_cpf(4), "vencimento": "31/02/2025"},  # line 5: bad date
        {**GOOD, "external_id": "E5", "cpf": valid_cpf(5), "valor_original": "-10"},  # line 6: negative
        {**GOOD, "external_id": "E6", "cpf": valid_cpf(6), "credor": "Credor Fantasma"},  # line 7: unknown creditor
        {**GOOD, "cpf": valid_cpf(7)},  # line 8: E1 again, with another CPF
        {**GOOD, "external_id": "E9", "cpf": valid_cpf(9), "nome": "Outro Bom"},  # line 9: good
    ]


EXPECTED_ERRORS = {
    3: "CPF inválido",
    4: "Telefone ignorado (123)",  # a warning: the client and its título are imported without the phone
    5: "Vencimento inválida",
    6: "Valor original negativo",
    7: "Credor desconhecido",
    8: "diferem dos da linha 2 (cpf)",
}


def test_import_wallet_command_imports_good_rows_and_reports_bad_ones(tenant, creditor, tmp_path):
    path = tmp_path / "carteira.csv"
    path.write_bytes(csv_bytes([GOOD, *bad_rows()]))
    out = io.StringIO()
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=out)
    assert "8 linhas lidas, 3 importadas, 5 com erro, 1 com aviso" in out.getvalue()
    report = list(csv.DictReader(open(f"{path}.erros.csv", encoding="utf-8"), delimiter=";"))
    by_line = {int(r["linha"]): r["erro"] for r in report}
    assert set(by_line) == set(EXPECTED_ERRORS)
    for line, fragment in EXPECTED_ERRORS.items():
        assert fragment in by_line[line], (line, by_line[line])
    maria = Client.objects.get(tenant=tenant, external_id="E1")
    assert maria.cpf == "52998224725"
    assert maria.state == "SP"
    assert maria.open_balance == Decimal("1234.56")
    assert list(maria.phones.values_list("number", flat=True)) == ["+5511987654321", "+551133334444"]
    assert maria.main_phone == "+5511987654321"
    # The bad phone is skipped, the debtor and the debt kept.
    kept = Client.objects.get(tenant=tenant, external_id="E3")
    assert (kept.phones.count(), kept.debts.count(), kept.open_balance) == (0, 1, Decimal("1234.56"))
    # Nothing half-written for the bad rows.
    assert not Client.objects.filter(external_id__in=["E2", "E4", "E5", "E6"]).exists()
    assert Client.objects.filter(tenant=tenant).count() == 3


def test_reimport_upserts_by_external_id_and_keeps_deactivated_phones(tenant, creditor, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes([GOOD]))
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    phone = ClientPhone.objects.get(number="+5511987654321")
    phone.active, phone.deactivation_reason = False, "contato_incorreto"
    phone.save()
    path.write_bytes(csv_bytes([{**GOOD, "nome": "Maria Renomeada", "valor_pago": "234,56"}]))
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    maria = Client.objects.get(tenant=tenant, external_id="E1")
    assert maria.name == "Maria Renomeada"
    assert Debt.objects.get(client=maria).paid_amount == Decimal("234.56")
    assert maria.open_balance == Decimal("1000.00")
    assert not ClientPhone.objects.get(number="+5511987654321").active
    assert maria.main_phone == "+551133334444"
    assert Client.objects.filter(tenant=tenant).count() == 1


def test_import_is_scoped_to_the_tenant(tenant, other_tenant, creditor, tmp_path):
    from core.models import Creditor

    Creditor.objects.create(tenant=other_tenant, name="Banco Horizonte")
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes([GOOD]))
    call_command("import_wallet", str(path), "--tenant", other_tenant.slug, "--no-progress", stdout=io.StringIO())
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    assert Client.objects.filter(external_id="E1").count() == 2
    assert {c.tenant_id for c in Client.objects.filter(external_id="E1")} == {tenant.pk, other_tenant.pk}
    for c in Client.objects.filter(external_id="E1"):
        assert c.creditor.tenant_id == c.tenant_id


def test_xlsx_import(tenant, creditor, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(TEMPLATE_HEADERS)
    sheet.append([GOOD.get(h, "") for h in TEMPLATE_HEADERS])
    path = tmp_path / "c.xlsx"
    workbook.save(path)
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    assert Client.objects.get(tenant=tenant, external_id="E1").open_balance == Decimal("1234.56")


def admin_import(client, data: bytes, name="carteira.csv"):
    from common.formats import SniffingCSV as CSV
    from core.admin import ClientAdmin

    formats = ClientAdmin(Client, None).get_import_formats()
    index = next(i for i, f in enumerate(formats) if f is CSV)
    return client.post(
        "/admin/core/client/import/",
        {"format": index, "import_file": SimpleUploadedFile(name, data, content_type="text/csv")},
    )


def test_admin_import_previews_row_errors_then_imports_the_good_rows(client, tenant_admin, tenant, creditor):
    client.force_login(tenant_admin)
    response = admin_import(client, csv_bytes([GOOD, *bad_rows()]))
    assert response.status_code == 200
    html = response.content.decode()
    for fragment in EXPECTED_ERRORS.values():
        assert fragment in html
    assert not Client.objects.exists(), "the preview is a dry run"
    confirm = response.context["confirm_form"]
    response = client.post(
        "/admin/core/client/process_import/",
        {
            name: field.initial if field.initial is not None else confirm.initial.get(name)
            for name, field in confirm.fields.items()
        },
    )
    assert response.status_code == 302
    assert set(Client.objects.filter(tenant=tenant).values_list("external_id", flat=True)) == {"E1", "E3", "E9"}
    assert Client.objects.get(external_id="E1").phones.count() == 2
    assert Client.objects.get(external_id="E3").debts.count() == 1


def test_admin_export_contains_only_the_tenants_clients(client, tenant_admin, make_client, other_tenant):
    make_client(name="Exportável")
    make_client(tenant=other_tenant, name="Invisível")
    client.force_login(tenant_admin)
    from common.formats import SniffingCSV as CSV
    from core.admin import ClientAdmin

    formats = ClientAdmin(Client, None).get_export_formats()
    index = next(i for i, f in enumerate(formats) if f is CSV)
    response = client.post(
        "/admin/core/client/export/",
        {
            "format": index,
            "resource": 0,
            **{f"clientresource_{f}": "on" for f in ("external_id", "nome", "cpf", "telefones", "saldo_em_aberto")},
        },
    )
    body = response.content.decode()
    assert response.status_code == 200, body[:500]
    assert "Exportável" in body
    assert "Invisível" not in body


@pytest.mark.parametrize("header", ["External_ID", "NOME", "Cpf"])
def test_headers_are_matched_loosely(tenant, creditor, tmp_path, header):
    row = dict(GOOD)
    text = csv_bytes([row]).decode().replace(header.lower(), header, 1)
    path = tmp_path / "c.csv"
    path.write_text(text)
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    assert Client.objects.filter(tenant=tenant, external_id="E1").exists()


@pytest.mark.django_db(transaction=True)
def test_command_outside_a_transaction_writes_through_parallel_writers(tmp_path):
    """The command's real path: writer threads with their own connections, chunks side by side."""
    from core.models import Creditor
    from tenants.models import Tenant

    tenant = Tenant.objects.create(name="Paralela", slug="paralela")
    Creditor.objects.create(tenant=tenant, name="Banco Horizonte")
    rows = [{**GOOD, "external_id": f"P{n}", "cpf": valid_cpf(n), "contrato": f"K{n}"} for n in range(1, 41)]
    rows[7]["cpf"] = "000.000.000-00"
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    call_command("import_wallet", str(path), "--tenant", "paralela", "--chunk-size", "5", "--no-progress", stdout=out)
    assert "40 linhas lidas, 39 importadas, 1 com erro" in out.getvalue()
    assert Client.objects.filter(tenant=tenant).count() == 39
    assert Debt.objects.filter(tenant=tenant).count() == 39
    assert all(c.open_balance == Decimal("1234.56") for c in Client.objects.filter(tenant=tenant))


def several_titulos_rows():
    base = {**GOOD, "external_id": "M1", "contrato": "CT-9", "total_parcelas": "3"}
    return [
        {**base, "parcela": "1", "vencimento": "10/01/2025", "valor_original": "100,00"},
        {**base, "parcela": "2", "vencimento": "10/02/2025", "valor_original": "200,00", "telefones": "11 2222-3333"},
        {**base, "parcela": "3", "vencimento": "10/03/2025", "valor_original": "300,00", "valor_pago": "300,00"},
    ]


@pytest.mark.parametrize("in_memory", [100_000, 1], ids=["em memória", "em disco"])
def test_several_rows_of_one_client_are_its_titulos(tenant, creditor, tmp_path, monkeypatch, in_memory):
    """Also with what the file showed so far moved to disk at once, as a file of millions of rows does."""
    monkeypatch.setattr("core.importing.FirstSeen.in_memory", in_memory)
    path = tmp_path / "carteira.csv"
    rows = several_titulos_rows()
    rows += [
        {**rows[0], "nome": "Maria Outra"},  # line 5: the same client with another name
        {**rows[1], "valor_original": "250,00"},  # line 6: título 2 again
    ]
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", "--chunk-size", "2", stdout=out)
    assert "5 linhas lidas, 3 importadas, 2 com erro" in out.getvalue()
    report = {int(r["linha"]): r["erro"] for r in csv.DictReader(open(f"{path}.erros.csv"), delimiter=";")}
    assert "diferem dos da linha 2 (nome)" in report[5]
    assert "Título repetido" in report[6] and "linha 3" in report[6]
    client = Client.objects.get(tenant=tenant, external_id="M1")
    debts = Debt.objects.filter(client=client).order_by("installment_number")
    assert [(d.installment_number, d.original_amount, d.status) for d in debts] == [
        (1, Decimal("100.00"), "aberto"),
        (2, Decimal("200.00"), "aberto"),
        (3, Decimal("300.00"), "pago"),
    ]
    assert client.open_balance == Decimal("300.00")
    assert set(client.phones.values_list("number", flat=True)) == {"+5511987654321", "+551133334444", "+551122223333"}


def wallet_state(tenant) -> dict:
    """Every stored value of the tenant's wallet, minus the bookkeeping a write touches."""
    return {
        "clients": sorted(
            repr(sorted((k, v) for k, v in row.items() if k != "updated_at"))
            for row in Client.objects.filter(tenant=tenant).values()
        ),
        "phones": sorted(map(repr, ClientPhone.objects.filter(tenant=tenant).values())),
        "debts": sorted(map(repr, Debt.objects.filter(tenant=tenant).values())),
    }


def admin_export_csv(client) -> bytes:
    from common.formats import SniffingCSV as CSV
    from core.admin import ClientAdmin

    formats = ClientAdmin(Client, None).get_export_formats()
    index = next(i for i, f in enumerate(formats) if f is CSV)
    form = client.get("/admin/core/client/export/").context["form"]
    selected = {name: "on" for name in form.fields if name.startswith("clientresource_")}
    response = client.post("/admin/core/client/export/", {"format": index, "resource": 0, **selected})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="carteira-')
    return response.content


def admin_import_confirmed(client, data: bytes):
    response = admin_import(client, data)
    assert response.status_code == 200
    confirm = response.context.get("confirm_form")
    assert confirm is not None, response.content.decode()[:3000]
    response = client.post(
        "/admin/core/client/process_import/",
        {
            name: field.initial if field.initial is not None else confirm.initial.get(name)
            for name, field in confirm.fields.items()
        },
    )
    assert response.status_code == 302
    return response


def test_export_then_import_untouched_changes_nothing_and_an_edit_changes_only_itself(
    client, tenant_admin, tenant, creditor, make_client
):
    import datetime

    make_client(
        name="Três Títulos",
        notes='=HYPERLINK("x")\nsegunda linha',
        debts=((Decimal("1553.60"), 40), (Decimal("27271.20"), 10), (Decimal("0.10"), 5)),
    )
    make_client(name="Sem Títulos", debts=(), phones=())
    paid = make_client(name="Quitado", city="São Paulo", state="SP")
    Debt.objects.filter(client=paid).update(paid_amount=Decimal("100.00"), status="pago")
    Client.objects.filter(pk=paid.pk).refresh_summaries()
    Client.objects.filter(pk=paid.pk).refresh_situation()  # paid off: quitado, as every balance change leaves it
    client.force_login(tenant_admin)
    exported = admin_export_csv(client)
    text = exported.decode("utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header == [*TEMPLATE_HEADERS, *EXPORT_ONLY_HEADERS]
    assert "1.553,60" in text and "27.271,20" in text
    assert datetime.date.today().strftime("%d/%m/%Y")[3:] in text or "/" in text
    assert sum(1 for row in csv.DictReader(io.StringIO(text), delimiter=";")) == 5  # 3 + 1 + 1 títulos

    before = wallet_state(tenant)
    admin_import_confirmed(client, exported)
    assert wallet_state(tenant) == before

    edited = text.replace("27.271,20;0,00", "27.271,20;1.000,00")
    assert edited != text
    admin_import_confirmed(client, edited.encode("utf-8"))
    after = wallet_state(tenant)
    assert after["phones"] == before["phones"]
    changed = set(after["debts"]) ^ set(before["debts"])
    assert len(changed) == 2 and all("Decimal('1000.00')" in row or "Decimal('0.00')" in row for row in changed)
    assert Debt.objects.get(original_amount=Decimal("27271.20")).paid_amount == Decimal("1000.00")


def test_what_excel_in_brazil_saves_imports_in_the_admin_and_the_command(
    client, tenant_admin, tenant, creditor, tmp_path
):
    row = {**GOOD, "nome": "João da Conceição – “Joca”", "cidade": "São Paulo", "valor_original": "1,234.56"}
    data = csv_bytes([row]).decode().encode("cp1252")
    client.force_login(tenant_admin)
    admin_import_confirmed(client, data)
    maria = Client.objects.get(tenant=tenant, external_id="E1")
    assert maria.name == "João da Conceição – “Joca”" and maria.city == "São Paulo"
    assert maria.open_balance == Decimal("1234.56")  # 1,234.56 read right, not R$ 1,23
    Client.objects.all().delete()
    path = tmp_path / "excel.csv"
    path.write_bytes(csv_bytes([{**row, "nome": "Açaí Ltda"}]).decode().encode("latin-1"))
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    assert Client.objects.get(tenant=tenant, external_id="E1").name == "Açaí Ltda"


def test_a_nul_byte_and_a_huge_cell_are_errors_of_their_rows(tenant, creditor, tmp_path):
    rows = [
        {**GOOD, "external_id": "N1", "nome": "Com\x00Nulo"},
        {**GOOD, "external_id": "N2", "cpf": valid_cpf(2), "observacoes": "x" * 128 * 1024},
        {**GOOD, "external_id": "N3", "cpf": valid_cpf(3)},
    ]
    path = tmp_path / "hostil.csv"
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=out)
    assert "3 linhas lidas, 1 importadas, 2 com erro" in out.getvalue()
    report = {int(r["linha"]): r["erro"] for r in csv.DictReader(open(f"{path}.erros.csv"), delimiter=";")}
    assert "caractere nulo" in report[2] and "longa demais" in report[3]
    assert "Erro ao gravar" not in " ".join(report.values())
    assert list(Client.objects.values_list("external_id", flat=True)) == ["N3"]


def test_the_admin_reports_a_nul_byte_as_a_row_error(client, tenant_admin, tenant, creditor):
    client.force_login(tenant_admin)
    rows = [{**GOOD, "external_id": "N1", "nome": "Com\x00Nulo"}, {**GOOD, "external_id": "N3", "cpf": valid_cpf(3)}]
    admin_import_confirmed(client, csv_bytes(rows))
    assert list(Client.objects.values_list("external_id", flat=True)) == ["N3"]


def test_the_import_page_explains_the_columns_and_its_model_files_import(client, tenant_admin, tenant, creditor):
    client.force_login(tenant_admin)
    html = client.get("/admin/core/client/import/").content.decode()
    assert 'data-testid="import-help"' in html and "Uma linha por cliente e título" in html
    for extension in ("csv", "xlsx"):
        response = client.get(f"/admin/core/client/modelo.{extension}")
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="modelo-carteira.{extension}"'
    model_csv = client.get("/admin/core/client/modelo.csv").content
    assert model_csv.decode("utf-8-sig").splitlines()[0].split(";") == TEMPLATE_HEADERS
    response = admin_import_confirmed(client, model_csv)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any(m.startswith("Importação concluída") for m in messages), messages
    maria = Client.objects.get(tenant=tenant, external_id="12345")
    assert maria.debts.count() == 2 and maria.open_balance == Decimal("2469.12")


def test_the_preview_numbers_rows_as_the_files_lines(client, tenant_admin, tenant, creditor):
    client.force_login(tenant_admin)
    html = admin_import(client, csv_bytes([GOOD, *bad_rows()])).content.decode()
    assert "Campo não é específico" not in html and "Non field specific" not in html
    # The invalid CPF is on line 3 of the file (header, E1, then E2).
    row = html[html.index("CPF inválido") :]
    assert re.search(r"<td>\s*3\s*</td>", row), row[:1500]


def test_the_maintained_columns_written_are_the_ones_a_recount_gives(tenant, creditor, tmp_path):
    """A new client is written with its open balance, oldest due date, main phone and situation already
    computed from its rows; an existing one is recounted from the database. Either way a recount changes nothing."""
    no_debt = dict.fromkeys(("contrato", "parcela", "total_parcelas", "vencimento", "valor_original"), "")
    rows = [
        *several_titulos_rows(),  # three títulos, one paid
        {**GOOD, "external_id": "Q1", "cpf": valid_cpf(11), "contrato": "CQ", "valor_pago": "1.234,56"},  # paid off
        {**GOOD, **no_debt, "external_id": "S1", "cpf": valid_cpf(12), "telefones": ""},  # no título, no phone
        GOOD,
    ]
    path = tmp_path / "carteira.csv"
    for version in (rows, [*rows[:3], {**GOOD, "valor_pago": "1.000,00", "telefones": "(21) 99876-5432"}]):
        path.write_bytes(csv_bytes(version))
        call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
        written = wallet_state(tenant)
        Client.objects.filter(tenant=tenant).refresh_summaries()
        Client.objects.filter(tenant=tenant).refresh_situation()
        assert wallet_state(tenant) == written
    clients = {c.external_id: c for c in Client.objects.filter(tenant=tenant)}
    assert clients["Q1"].status == "quitado" and clients["Q1"].open_balance == 0
    assert (clients["S1"].open_balance, clients["S1"].main_phone, clients["S1"].active_phones) == (0, "", 0)
    assert clients["M1"].open_balance == Decimal("300.00") and clients["M1"].active_phones == 3
    assert clients["E1"].open_balance == Decimal("234.56") and clients["E1"].active_phones == 3


def import_command(tenant, tmp_path, rows) -> tuple[str, dict[int, str]]:
    path = tmp_path / "carteira.csv"
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=out)
    errors = tmp_path / "carteira.csv.erros.csv"
    report = {}
    if errors.exists():
        report = {int(r["linha"]): r["erro"] for r in csv.DictReader(open(errors, encoding="utf-8"), delimiter=";")}
    return out.getvalue(), report


@pytest.mark.parametrize("parcela", ["1,5", "abc", "²", "١", "1_0", "+1", " 2 ", "9" * 5000])
def test_a_parcela_that_is_not_a_small_whole_number_is_an_error_of_its_row(tenant, creditor, tmp_path, parcela):
    rows = [{**GOOD, "external_id": "P1", "parcela": parcela}, {**GOOD, "external_id": "P2", "cpf": valid_cpf(2)}]
    out, report = import_command(tenant, tmp_path, rows)
    if parcela.strip() == "2":  # blanks around the digits are only blanks
        assert "2 importadas, 0 com erro" in out
        return
    assert "2 linhas lidas, 1 importadas, 1 com erro" in out
    assert set(report) == {2} and "Parcela inválida" in report[2]
    assert list(Client.objects.values_list("external_id", flat=True)) == ["P2"]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("vencimento", "31/12/1989", "Vencimento fora do intervalo aceito (01/01/1990 a 31/12/2099)"),
        ("vencimento", "01/01/2100", "Vencimento fora do intervalo aceito (01/01/1990 a 31/12/2099)"),
        ("vencimento", "١٠/٠١/٢٠٢٥", "Vencimento inválida"),
        ("valor_original", "١٠٠", "Valor original inválido"),
        ("valor_pago", "٥", "Valor pago inválido"),
        ("total_parcelas", "١", "Total parcelas inválida"),
    ],
)
def test_numbers_are_ascii_digits_and_dates_fall_in_one_window(tenant, creditor, tmp_path, column, value, message):
    out, report = import_command(tenant, tmp_path, [{**GOOD, column: value}])
    assert "1 linhas lidas, 0 importadas, 1 com erro" in out
    assert message in report[2], report


def test_control_characters_are_stripped_from_what_a_file_writes(tenant, creditor, tmp_path):
    rows = [{**GOOD, "nome": "Maria\x0b da\x1b Silva\x7f", "observacoes": "linha 1\nlinha 2\x08"}]
    out, _report = import_command(tenant, tmp_path, rows)
    assert "1 importadas, 0 com erro" in out
    maria = Client.objects.get(external_id="E1")
    assert (maria.name, maria.notes) == ("Maria da Silva", "linha 1\nlinha 2")
