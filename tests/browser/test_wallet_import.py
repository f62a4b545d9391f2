import os
import subprocess
import sys

import pytest
from django.db import connection
from playwright.sync_api import expect

from common.processes import stop
from core.models import Client, WalletImport
from tests.browser.conftest import login
from tests.conftest import valid_cpf
from tests.core.test_import import GOOD, csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings, tmp_path):
    """A real `manage.py db_worker` on the test database (PostgreSQL); SQLite runs the task in the request."""
    if connection.vendor != "postgresql":
        settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
        yield None
        return
    from tests.core.test_operations import database_url

    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2", "--worker-id", "importacao"],
        env={**os.environ, "DATABASE_URL": database_url(settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    # SIGTERM lets the task in hand finish (the daily roll-up a new worker queues may take longer than the wait):
    # past the wait it is killed, never left holding locks on the test database for the next test's flush.
    stop(process)


def test_a_large_wallet_file_is_imported_in_the_background_with_a_live_bar(
    page, live_server, tenant_admin, tenant, creditor, settings, worker, screenshot, tmp_path
):
    settings.WALLET_IMPORT_INLINE_MAX_ROWS = 100
    rows = [{**GOOD, "external_id": f"W{n}", "cpf": valid_cpf(n), "contrato": f"K{n}"} for n in range(1, 1201)]
    rows[9]["cpf"] = "111.222.333-44"  # line 11
    rows[99]["vencimento"] = "31/02/2025"  # line 101
    path = tmp_path / "carteira-grande.csv"
    path.write_bytes(csv_bytes(rows))

    login(page, live_server, tenant_admin, next_url="/admin/core/client/import/")
    expect(page.get_by_test_id("import-background")).to_contain_text("100 linhas")
    page.set_input_files("input[name=import_file]", str(path))
    page.locator("select[name=format]").select_option(label="csv")
    page.locator("#content form button[type=submit], #content form input[type=submit]").first.click()

    progress = page.locator("#import-progress")
    expect(progress).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/admin/core/walletimport/{WalletImport.objects.get().pk}/change/")
    screenshot(page, "importacao-carteira-progresso")
    expect(progress).to_have_attribute("data-status", "concluida", timeout=60_000)
    expect(page.locator("#import-count")).to_contain_text("1200 / 1200")
    expect(page.locator("#import-errors")).to_have_text("2")
    expect(page.locator("#import-summary")).to_have_text(
        "Importação concluída: 1.198 linha(s) importada(s), 2 com erro, de 1.200 lida(s)."
    )
    screenshot(page, "importacao-carteira-concluida")
    with page.expect_download() as download:
        page.locator("#import-error-report").click()
    report = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert report[0] == "linha;external_id;erro"
    assert report[1].startswith("11;W10;CPF inválido") and report[2].startswith("101;W100;Vencimento inválida")
    assert Client.objects.filter(tenant=tenant).count() == 1198
    assert Client.objects.get(tenant=tenant, external_id="W1200").phones.count() == 2
