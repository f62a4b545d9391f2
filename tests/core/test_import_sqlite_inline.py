"""On SQLite (the README's demo) an admin's import of a few hundred rows no longer runs in the request: the
preview imported the whole file in one write transaction, and for 20-37 s every save, login and the worker met
"database is locked". It goes to the worker, which writes in short chunks."""

import pytest
from django.db import connection

from core.models import Client, WalletImport
from tests.conftest import valid_cpf
from tests.core.test_import import GOOD, csv_bytes
from tests.core.test_wallet_import_jobs import upload

pytestmark = pytest.mark.django_db


def test_a_few_hundred_rows_go_to_the_worker_on_sqlite(client, tenant_admin, creditor, settings):
    settings.WALLET_IMPORT_INLINE_MAX_ROWS = 1000
    rows = [{**GOOD, "external_id": f"D{n}", "cpf": valid_cpf(n), "contrato": f"K{n}"} for n in range(1, 376)]
    client.force_login(tenant_admin)
    response = upload(client, csv_bytes(rows))
    if connection.vendor == "sqlite":
        job = WalletImport.objects.get()
        assert response.status_code == 302 and response["Location"].endswith(f"/walletimport/{job.pk}/change/")
        assert job.total_rows == 375 and not Client.objects.exists()
    else:  # PostgreSQL writes rows side by side: the preview stays in the request
        assert response.status_code == 200 and not WalletImport.objects.exists()
