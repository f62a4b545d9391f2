"""The admin's payment import of a bank's file: stored, imported by the worker with the command's COPY path, followed
on its own page under Pagamentos, with each refused row in the report, in Portuguese."""

import csv
import io

import pytest

from attendance.models import Payment
from core.models import Debt, WalletImport, WalletImportChunk
from tenants.models import AuditEvent
from tests.attendance import test_payment_import
from tests.attendance.test_payment_import import EXPECTED_ERRORS, csv_file, rows_for
from tests.conftest import make_user, post_csv_import
from tests.core import test_wallet_import_jobs

# The fixtures of the payment import's and the Carteira job's tests, shared.
setup = test_payment_import.setup
queue_above = test_wallet_import_jobs.queue_above
queued = test_wallet_import_jobs.queued

pytestmark = pytest.mark.django_db


def upload(client, data: bytes):
    from attendance.admin import PaymentAdmin

    return post_csv_import(client, PaymentAdmin, Payment, data, "retorno-banco.csv")


def test_a_large_payment_file_is_posted_by_the_worker_and_each_bad_row_is_reported(
    client,
    supervisor,
    tenant,
    setup,
    queue_above,
    queued,
    run_worker,
):
    by_titulo, _in_agreement, agreement = setup
    client.force_login(supervisor)
    with queued():
        response = upload(client, csv_file(rows_for(*setup)))
    job = WalletImport.objects.get()
    page_url = f"/admin/attendance/payment/importacao/{job.pk}/"
    assert response.status_code == 302 and response["Location"] == page_url
    assert (job.kind, job.tenant, job.requested_by, job.status, job.total_rows) == (
        "pagamentos",
        tenant,
        supervisor,
        "na_fila",
        6,
    )
    assert not Payment.objects.exists(), "nothing is written before the worker runs"
    page = client.get(page_url).content.decode()
    assert 'id="import-progress"' in page and "Na fila" in page
    assert f'hx-get="/admin/attendance/payment/importacao/{job.pk}/progresso/"' in page

    run_worker()

    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.imported_rows, job.error_rows) == ("concluida", 6, 2, 4)
    assert not WalletImportChunk.objects.filter(wallet_import=job).exists()
    assert set(Payment.objects.values_list("external_id", flat=True)) == {"P1", "P2"}
    # P4 overpays its título: refused whole, nothing of it written (título, payment, audit).
    overpaid = Debt.objects.get(client=by_titulo, installment_number=2)
    assert overpaid.paid_amount == 0
    assert not AuditEvent.objects.filter(changes__icontains="P4").exists()
    assert agreement.installments.get(number=1).status == "paga"
    progress = client.get(f"/admin/attendance/payment/importacao/{job.pk}/progresso/").content.decode()
    assert 'data-status="concluida"' in progress and "hx-get" not in progress
    assert (
        "Importação concluída: 2 pagamento(s) registrado(s), 0 já importado(s) antes, 4 com erro, "
        "de 6 linha(s) lida(s)." in progress
    )
    report = client.get(f"/admin/attendance/payment/importacao/{job.pk}/erros.csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["linha", "id_pagamento", "erro"]
    assert [(line, payment_id) for line, payment_id, _message in rows[1:]] == [
        ("4", "P3"),
        ("5", "P4"),
        ("6", "P1"),
        ("7", ""),
    ]
    messages = " ".join(message for _line, _id, message in rows[1:])
    for fragment in EXPECTED_ERRORS:
        assert fragment in messages

    # The same file again: every good row was posted before, nothing changes.
    with queued():
        upload(client, csv_file(rows_for(*setup)))
    run_worker()
    again = WalletImport.objects.exclude(pk=job.pk).get()
    assert (again.status, again.imported_rows, again.error_rows) == ("concluida", 0, 4)
    assert Payment.objects.count() == 2


def test_a_file_without_the_payment_columns_is_refused_at_the_upload(
    client,
    supervisor,
    setup,
    queue_above,
):
    client.force_login(supervisor)
    response = upload(client, b"external_id;nome;cpf;credor\nE1;Ana;;Banco\nE2;Bia;;Banco\nE3;Caio;;Banco\n")
    assert response.status_code == 200
    assert "a primeira linha não tem as colunas id_pagamento, data, valor" in response.content.decode()
    assert not WalletImport.objects.exists()


def test_a_payment_import_is_seen_only_by_its_tenant_and_only_under_pagamentos(
    client,
    supervisor,
    tenant,
    other_tenant,
    operator,
    setup,
    queue_above,
    queued,
):
    client.force_login(supervisor)
    with queued():
        upload(client, csv_file(rows_for(*setup)))
    job = WalletImport.objects.get()
    urls = [
        f"/admin/attendance/payment/importacao/{job.pk}/",
        f"/admin/attendance/payment/importacao/{job.pk}/progresso/",
        f"/admin/attendance/payment/importacao/{job.pk}/erros.csv",
    ]
    assert [client.get(url).status_code for url in urls] == [200, 200, 200]
    # The Carteira's imports list only the Carteira's files.
    assert client.get(f"/admin/core/walletimport/{job.pk}/change/").status_code == 404
    assert job not in client.get("/admin/core/walletimport/").context["cl"].result_list

    client.force_login(make_user(other_tenant, "supervisor"))
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    client.force_login(operator)
    assert all(client.get(url).status_code in (302, 403, 404) for url in urls)
    assert all(b"Na fila" not in client.get(url).content for url in urls)


def test_a_small_payment_file_keeps_the_preview(client, supervisor, setup):
    client.force_login(supervisor)
    response = upload(client, csv_file(rows_for(*setup)))
    assert response.status_code == 200 and "confirm_form" in response.context
    assert not WalletImport.objects.exists()
