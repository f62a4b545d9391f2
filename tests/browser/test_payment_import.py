"""A bank's payment file through the admin page people use: uploaded, posted by the worker, followed on its page."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from attendance.models import Payment
from core.models import Debt, WalletImport
from tests.attendance.test_payment_import import YESTERDAY, csv_file
from tests.browser.conftest import login
from tests.browser.test_wallet_import import worker  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_bank_payment_file_is_posted_in_the_background_with_a_live_bar(
    page,
    live_server,
    supervisor,
    tenant,
    make_client,
    settings,
    worker,  # noqa: F811
    screenshot,
    tmp_path,
):
    settings.WALLET_IMPORT_INLINE_MAX_ROWS = 100
    debtor = make_client(external_id="B1", debts=((Decimal("10.00"), 40),) * 150)
    rows = [
        {"id_pagamento": f"BANCO-{n}", "external_id": "B1", "contrato": "C1", "parcela": n, "data": YESTERDAY,
         "valor": "10,00", "forma": "boleto"}
        for n in range(1, 151)
    ]  # fmt: skip
    rows[9]["valor"] = "abc"  # line 11
    rows[99]["external_id"] = "NINGUEM"  # line 101
    path = tmp_path / "retorno-banco.csv"
    path.write_bytes(csv_file(rows))

    login(page, live_server, supervisor, next_url="/admin/attendance/payment/import/")
    expect(page.get_by_test_id("import-background")).to_contain_text("100 linhas")
    page.set_input_files("input[name=import_file]", str(path))
    page.locator("select[name=format]").select_option(label="csv")
    page.locator("#content form button[type=submit], #content form input[type=submit]").first.click()

    progress = page.locator("#import-progress")
    expect(progress).to_be_visible()
    job = WalletImport.objects.get()
    expect(page).to_have_url(f"{live_server.url}/admin/attendance/payment/importacao/{job.pk}/")
    screenshot(page, "importacao-pagamentos-progresso")
    expect(progress).to_have_attribute("data-status", "concluida", timeout=60_000)
    expect(page.locator("#import-count")).to_contain_text("150 / 150")
    expect(page.locator("#import-errors")).to_have_text("2")
    expect(page.locator("#import-summary")).to_have_text(
        "Importação concluída: 148 pagamento(s) registrado(s), 0 já importado(s) antes, 2 com erro, "
        "de 150 linha(s) lida(s)."
    )
    screenshot(page, "importacao-pagamentos-concluida")
    with page.expect_download() as download:
        page.locator("#import-error-report").click()
    report = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert report[0] == "linha;id_pagamento;erro"
    assert report[1].startswith("11;BANCO-10;") and "valor" in report[1].lower()
    assert report[2].startswith("101;BANCO-100;Cliente não encontrado: external_id NINGUEM")
    assert Payment.objects.filter(tenant=tenant, source=Payment.Source.IMPORT).count() == 148
    assert not Payment.objects.filter(external_id__in=["BANCO-10", "BANCO-100"]).exists()
    paid = Debt.objects.filter(client=debtor, status=Debt.Status.PAID).values_list("installment_number", flat=True)
    assert set(paid) == set(range(1, 151)) - {10, 100}
