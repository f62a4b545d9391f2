"""The screens of the day in Chromium: figures people trust (the paid amount, the dialer preview's reason, money
written as R$), the Carteira's search as people type it, and an import that keeps the debtor of a bad phone."""

import csv
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attendance import payments
from attendance.models import Agreement, Payment
from attendance.negotiation import Proposal
from attendance.services import create_agreement
from core.importing import TEMPLATE_HEADERS
from core.models import Client, DoNotCallReason
from tenants.settings_schema import clean_settings
from tests.browser.conftest import login
from tests.core.test_import import GOOD
from tests.dialer.conftest import TOKEN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal
CARTEIRA = "/admin/core/client/"


# Item 4: figures people trust.


def test_pago_counts_what_was_paid_through_an_agreement(
    page, live_server, tenant, supervisor, operator, make_client, lenient
):
    debtor = make_client(name="Paula Pagou", debts=((D("4941.77"), -10),))  # not due yet: no interest
    agreement = create_agreement(tenant, operator, debtor, Proposal(installments=1))
    assert (agreement.status, agreement.total) == (Agreement.Status.ACTIVE, D("4941.77"))
    payments.post_payment(
        tenant,
        supervisor,
        payments.PaymentInput(amount=D("4941.77"), paid_on=timezone.localdate(), method="pix"),
        installment=agreement.installments.get(),
    )
    login(page, live_server, operator, next_url=f"/atendimento/{debtor.pk}/")
    expect(page.locator("#figure-paid")).to_have_text("R$ 4.941,77")
    expect(page.locator("#figure-open")).to_have_text("R$ 0,00")


def test_the_send_preview_names_the_active_agreement_not_a_zero_balance(
    page, live_server, tenant, supervisor, operator, make_client, sandbox_server, lenient
):
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN})
    tenant.save()
    debtor = make_client(name="Eva Em Acordo", debts=((D("800.00"), 30),))
    create_agreement(tenant, operator, debtor, Proposal(installments=1))
    debtor.refresh_from_db()
    assert debtor.open_balance == 0  # the títulos left "em aberto": what the zero-balance check used to see
    make_client(name="Livre Para Ligar", debts=((D("300.00"), 30),))

    login(page, live_server, supervisor, next_url=CARTEIRA)
    expect(page.locator("#result_list")).to_contain_text("Eva Em Acordo")
    page.locator("#action-toggle").check()
    page.locator("select[name=action]").first.select_option("send_to_dialer")
    page.locator("button[name=index]").first.click()
    expect(page.locator("#preview-selected")).to_have_text("2")
    expect(page.locator("#preview-to-send")).to_have_text("1")
    skipped = page.locator("#preview-skipped")
    expect(skipped).to_have_text("acordo ativo ou aguardando aprovação: 1")
    expect(page.locator("#dialer-preview")).not_to_contain_text("saldo zero")


def test_a_payment_is_written_as_brl_on_every_page(page, live_server, tenant, supervisor, make_client):
    debtor = make_client(name="Rita Real", debts=((D("1500.00"), 40),))
    debt = debtor.debts.get()
    login(page, live_server, supervisor, next_url=f"/admin/attendance/payment/add/?debt={debt.pk}")
    page.fill("input[name=amount]", "500,00")
    page.get_by_role("button", name="Salvar", exact=True).click()
    expect(page.get_by_text("Pagamento de R$ 500,00", exact=False).first).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text("R$ 500,00")
    assert "500.00" not in page.locator("#content").inner_text()
    payment = Payment.objects.get()
    assert (payment.amount, payment.debt_id, payment.method) == (D("500.00"), debt.pk, Payment.Method.PIX)

    page.goto(f"{live_server.url}/atendimento/{debtor.pk}/")
    expect(page.locator("#timeline-list")).to_contain_text("Pagamento de R$ 500,00")
    expect(page.locator("#figure-paid")).to_have_text("R$ 500,00")
    assert "500.00" not in page.locator("body").inner_text()


# Item 5: search as people type.


def search(page, term):
    box = page.locator("#changelist-search input[name=q], input[name=q]").first
    box.fill(term)
    with page.expect_navigation():
        box.press("Enter")
    expect(box).to_have_value(term)
    return page.locator("#result_list tbody tr")


@pytest.mark.parametrize("role", ["supervisor", "tenant_admin"])
def test_the_carteira_finds_what_people_type(request, role, page, live_server, tenant, other_tenant, make_client):
    user = request.getfixturevalue(role)
    make_client(name="Jéssica Andrade", city="Campinas", phones=("+5519987650001",))
    make_client(name="Carlos Lima", city="São Paulo", phones=("+5511912340002",))
    make_client(name="Marta Souza", city="Curitiba", phones=("+5541933334444",))
    make_client(tenant=other_tenant, name="Jéssica Beta", city="São Paulo", phones=("+5541933334444",))

    login(page, live_server, user, next_url=CARTEIRA)
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    rows = search(page, "jessica")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Jéssica Andrade")
    rows = search(page, "sao paulo")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Carlos Lima")
    rows = search(page, "93333-4444")  # the number without its DDD (41)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Marta Souza")
    expect(page.locator("#result_list")).not_to_contain_text("Jéssica Beta")
    rows = search(page, "JÉSSICA")
    expect(rows).to_have_count(1)
    expect(page.locator("#content")).not_to_contain_text("Beta")


# Item 6: import keeps the debtor.


def mixed_case_csv(rows) -> bytes:
    """Headers as a spreadsheet types them: upper case, capitalised, with stray spaces."""
    headers = [column.upper() if n % 2 else f" {column.capitalize()} " for n, column in enumerate(TEMPLATE_HEADERS)]
    headers[TEMPLATE_HEADERS.index("nome")] = "NOME"
    headers[TEMPLATE_HEADERS.index("cpf")] = " Cpf "
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(column, "") for column in TEMPLATE_HEADERS])
    return buffer.getvalue().encode("utf-8")


def test_an_import_keeps_the_debtor_of_a_bad_phone_and_lists_the_nao_ligar(
    page, live_server, tenant_admin, tenant, creditor, make_client, tmp_path
):
    make_client(name="Cliente Antigo")  # not marked: the "não ligar" filter leaves it out
    rows = [
        {**GOOD, "external_id": "N1", "nome": "Nina Não Ligar", "nao_ligar": "sim"},
        {
            **GOOD,
            "external_id": "B2",
            "nome": "Bruno DDD Errado",
            "cpf": "111.444.777-35",
            "telefones": "(00) 98765-4321; (11) 3333-5555",
        },
    ]
    path = tmp_path / "carteira.csv"
    path.write_bytes(mixed_case_csv(rows))

    login(page, live_server, tenant_admin, next_url=CARTEIRA)
    page.get_by_role("link", name="Importar").first.click()
    expect(page).to_have_url(f"{live_server.url}{CARTEIRA}import/")
    page.set_input_files("input[name=import_file]", str(path))
    page.locator("select[name=format]").select_option(label="csv")
    page.locator("#content form button[type=submit], #content form input[type=submit]").first.click()
    expect(page.get_by_text("Telefone ignorado ((00) 98765-4321)", exact=False).first).to_be_visible()
    assert not Client.objects.filter(external_id__in=["N1", "B2"]).exists(), "the preview is a dry run"
    page.locator("form[action$='/process_import/'] button[type=submit]").click()

    warning = page.locator("div.bg-orange-100", has_text="que foi ignorado (o cliente e o título entram)")
    expect(warning).to_contain_text("3: Telefone ignorado ((00) 98765-4321)")
    bruno = Client.objects.get(tenant=tenant, external_id="B2")
    assert (bruno.name, bruno.cpf) == ("Bruno DDD Errado", "11144477735")
    assert list(bruno.phones.values_list("number", flat=True)) == ["+551133335555"]
    assert bruno.debts.count() == 1 and bruno.open_balance == D("1234.56")
    nina = Client.objects.get(tenant=tenant, external_id="N1")
    assert nina.do_not_call_reason == DoNotCallReason.DEBTOR_REQUEST

    page.goto(f"{live_server.url}{CARTEIRA}")
    page.locator(".filter-open-button").click()
    page.locator("#filter-form select[name=nao_ligar]").select_option("sim")
    page.locator("#filter-form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}{CARTEIRA}?nao_ligar=sim")
    listed = page.locator("#result_list tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Nina Não Ligar")
    expect(listed).to_contain_text("Não ligar: Pedido do devedor")
    page.goto(f"{live_server.url}{CARTEIRA}?nao_ligar=nao")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#result_list")).not_to_contain_text("Não ligar:")
