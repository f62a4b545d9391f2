"""The admin's Carteira import of a large file: stored, queued, imported by the worker, followed on its page."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core import import_jobs
from core.models import Client, WalletImport, WalletImportChunk, WalletImportError
from tests.conftest import make_user, valid_cpf
from tests.core.test_import import EXPECTED_ERRORS, GOOD, bad_rows, csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(django_capture_on_commit_callbacks):
    """Run the upload's on-commit hooks (the enqueue): the test's transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def queue_above(settings):
    """Files of more than two rows go to the worker (the real threshold is in the hundreds)."""
    settings.WALLET_IMPORT_INLINE_MAX_ROWS = 2


def upload(client, data: bytes, name="carteira.csv", file_format="csv"):
    from core.admin import ClientAdmin

    formats = ClientAdmin(Client, None).get_import_formats()
    index = next(i for i, f in enumerate(formats) if f().get_extension() == file_format)
    return client.post(
        "/admin/core/client/import/",
        {"format": index, "import_file": SimpleUploadedFile(name, data, content_type="text/csv")},
    )


def test_a_large_file_is_imported_by_the_worker_with_progress_and_an_error_report(
    client, tenant_admin, tenant, creditor, queue_above, queued, run_worker
):
    client.force_login(tenant_admin)
    with queued():
        response = upload(client, csv_bytes([GOOD, *bad_rows()]))
    job = WalletImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/core/walletimport/{job.pk}/change/"
    assert (job.tenant, job.requested_by, job.status, job.total_rows) == (tenant, tenant_admin, "na_fila", 8)
    assert WalletImportChunk.objects.filter(wallet_import=job).exists()
    assert not Client.objects.exists(), "nothing is written before the worker runs"
    page = client.get(response["Location"]).content.decode()
    assert 'id="import-progress"' in page and "Na fila" in page and "hx-get" in page

    run_worker()

    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.imported_rows, job.error_rows, job.warning_rows) == (
        "concluida",
        8,
        3,
        5,
        1,
    )
    assert job.finished_at is not None and not WalletImportChunk.objects.filter(wallet_import=job).exists()
    assert set(Client.objects.filter(tenant=tenant).values_list("external_id", flat=True)) == {"E1", "E3", "E9"}
    assert Client.objects.get(external_id="E1").phones.count() == 2
    progress = client.get(f"/admin/core/walletimport/{job.pk}/progresso/").content.decode()
    assert 'data-status="concluida"' in progress and "hx-get" not in progress
    assert "Importação concluída: 3 linha(s) importada(s), 5 com erro, de 8 lida(s); 1 importada(s) com" in progress
    report = client.get(f"/admin/core/walletimport/{job.pk}/erros.csv")
    assert report["Content-Disposition"] == f'attachment; filename="importacao-{job.pk}-erros.csv"'
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["linha", "external_id", "erro"]
    by_line = {int(line): message for line, _external_id, message in rows[1:]}
    assert set(by_line) == set(EXPECTED_ERRORS)
    for line, fragment in EXPECTED_ERRORS.items():
        assert fragment in by_line[line]


def test_a_small_file_keeps_the_preview(client, tenant_admin, creditor):
    client.force_login(tenant_admin)
    response = upload(client, csv_bytes([GOOD]))
    assert response.status_code == 200 and response.context["confirm_form"] is not None
    assert not WalletImport.objects.exists()


@pytest.mark.parametrize(
    ("data", "file_format", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "csv", "Não foi possível ler o arquivo como CSV"),
        (b"nome;cpf\nMaria;52998224725\n", "csv", "não tem as colunas external_id, credor"),
        (b"", "csv", None),  # Django refuses an empty upload itself
        (b"external_id;nome;cpf;credor\n", "xlsx", "Não foi possível ler o arquivo como planilha XLSX"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_in_portuguese(
    client, tenant_admin, creditor, queue_above, data, file_format, message
):
    client.force_login(tenant_admin)
    response = upload(client, data, name=f"carteira.{file_format}", file_format=file_format)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get("import_file", []))
    assert errors and (message is None or message in errors), errors
    assert not WalletImport.objects.exists() and not Client.objects.exists()


def test_a_file_unreadable_past_its_start_fails_before_writing_anything(
    client, tenant_admin, tenant, creditor, queue_above, queued, run_worker
):
    rows = [{**GOOD, "external_id": f"B{n}", "cpf": valid_cpf(n), "contrato": f"K{n}"} for n in range(1, 600)]
    data = csv_bytes(rows)
    assert len(data) > 64 * 1024  # past the sample the encoding is guessed from
    data += b"B999;Jo\xe3o Latin-1;529.982.247-25;;banco horizonte;;;;;;;;;;K999;1;1;10/01/2025;10,00;0\n"
    client.force_login(tenant_admin)
    with queued():
        upload(client, data)
    run_worker()
    job = WalletImport.objects.get()
    assert job.status == "falhou" and "codificações" in job.failure and "Nada foi importado" in job.failure
    assert not Client.objects.exists()
    progress = client.get(f"/admin/core/walletimport/{job.pk}/progresso/").content.decode()
    assert "A importação falhou" in progress


def test_only_admins_and_supervisors_of_the_tenant_import_and_see_the_job(
    client, tenant, other_tenant, creditor, queue_above
):
    client.force_login(make_user(tenant, "operador"))
    response = upload(client, csv_bytes([GOOD] * 3))
    assert response.status_code == 302 and "/login/" in response["Location"]  # operators have no admin
    assert not WalletImport.objects.exists()
    client.force_login(make_user(tenant, "supervisor"))
    rows = [{**GOOD, "external_id": f"S{n}", "cpf": valid_cpf(n)} for n in range(3)]
    assert upload(client, csv_bytes(rows), name="carteira-sigilosa.csv").status_code == 302
    job = WalletImport.objects.get()
    client.force_login(make_user(other_tenant, "admin"))
    for url in ("change/", "progresso/", "erros.csv"):
        assert client.get(f"/admin/core/walletimport/{job.pk}/{url}").status_code == 404
    listing = client.get("/admin/core/walletimport/")
    assert listing.context["cl"].result_count == 0 and "carteira-sigilosa" not in listing.content.decode()


def test_an_import_whose_worker_died_is_queued_again_and_completes(
    client, tenant_admin, tenant, creditor, queue_above, django_capture_on_commit_callbacks, run_worker
):
    client.force_login(tenant_admin)
    rows = [{**GOOD, "external_id": f"D{n}", "cpf": valid_cpf(n)} for n in range(5)]
    upload(client, csv_bytes(rows))
    job = WalletImport.objects.get()
    stale = timezone.now() - timezone.timedelta(minutes=10)
    WalletImport.objects.filter(pk=job.pk).update(status="importando", heartbeat_at=stale, processed_rows=3)
    WalletImportError.objects.create(tenant=tenant, wallet_import=job, line=2, message="de uma execução anterior")
    with django_capture_on_commit_callbacks(execute=True):
        assert import_jobs.sweep_imports() == [job.pk]
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.imported_rows, job.error_rows) == ("concluida", 5, 0)
    assert not WalletImportError.objects.filter(wallet_import=job).exists()
    assert Client.objects.filter(tenant=tenant).count() == 5


def test_a_large_xlsx_file_is_imported_by_the_worker_too(
    client, tenant_admin, tenant, creditor, queue_above, queued, run_worker
):
    from openpyxl import Workbook

    from core.importing import TEMPLATE_HEADERS

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(TEMPLATE_HEADERS)
    for n in range(1, 6):
        sheet.append([{**GOOD, "external_id": f"X{n}", "cpf": valid_cpf(n)}.get(h, "") for h in TEMPLATE_HEADERS])
    data = io.BytesIO()
    workbook.save(data)
    client.force_login(tenant_admin)
    with queued():
        assert upload(client, data.getvalue(), name="carteira.xlsx", file_format="xlsx").status_code == 302
    run_worker()
    job = WalletImport.objects.get()
    assert (job.file_format, job.status, job.total_rows, job.imported_rows) == ("xlsx", "concluida", 5, 5)
    assert Client.objects.filter(tenant=tenant).count() == 5


def test_error_reports_older_than_the_retention_are_pruned_daily(client, tenant_admin, tenant, settings):
    """The daily task deletes the refused rows of imports that ended before WALLET_IMPORT_REPORT_DAYS, in
    batches; the import's record and counts stay, and its page says the report is gone instead of linking it."""
    from core.tasks import prune_import_reports

    settings.WALLET_IMPORT_REPORT_DAYS = 90
    now = timezone.now()

    def job(days_ago, errors):
        made = WalletImport.objects.create(
            tenant=tenant,
            file_name="c.csv",
            status=WalletImport.Status.DONE,
            processed_rows=errors,
            error_rows=errors,
            finished_at=now - timezone.timedelta(days=days_ago),
        )
        WalletImportError.objects.bulk_create(
            WalletImportError(tenant=tenant, wallet_import=made, line=n + 2, external_id=f"E{n}", message="x")
            for n in range(errors)
        )
        return made

    old, recent = job(91, 7), job(89, 3)
    assert import_jobs.prune_error_reports(batch_size=3) == 7
    assert not WalletImportError.objects.filter(wallet_import=old).exists()
    assert WalletImportError.objects.filter(wallet_import=recent).count() == 3
    assert WalletImport.objects.get(pk=old.pk).error_rows == 7
    assert prune_import_reports.call() == 0  # the task runs the same pruning: nothing left to do
    client.force_login(tenant_admin)
    gone = client.get(f"/admin/core/walletimport/{old.pk}/progresso/").content.decode()
    assert "guardado por 90 dias e já foi apagado" in gone and 'import-error-report"' not in gone
    kept = client.get(f"/admin/core/walletimport/{recent.pk}/progresso/").content.decode()
    assert 'id="import-error-report"' in kept and "já foi apagado" not in kept
