"""Figures for the money paths: a payment file import and the daily breakage job. Run on a scratch database."""

import csv
import datetime
import os
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from attendance import payments
from attendance.models import Agreement, AgreementInstallment
from attendance.payment_import import TEMPLATE_HEADERS, import_payment_rows
from common.formats import read_rows
from core import import_jobs
from core.models import Client, Debt, WalletImport
from core.seeding import seed_wallet
from tenants.models import Tenant


def cpu_seconds() -> tuple[float, float | None]:
    """(this process's CPU seconds, its PostgreSQL backend's, or None when the server is not on this machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    mine = usage.ru_utime + usage.ru_stime
    if connection.vendor != "postgresql":
        return mine, None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return mine, None
    # utime and stime, fields 14 and 15 of /proc/PID/stat (the 12th and 13th after the command's closing paren).
    return mine, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Command(BaseCommand):
    help = "Mede a importação de N pagamentos e a quebra diária sobre M acordos ativos (use um banco descartável)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", "--payments", dest="payments", type=int, default=100_000)
        parser.add_argument("--agreements", type=int, default=200_000)
        parser.add_argument("--overdue-percent", type=int, default=10)
        parser.add_argument("--skip-import", action="store_true")
        parser.add_argument("--skip-breakage", action="store_true")
        parser.add_argument(
            "--installment-rows",
            type=int,
            default=0,
            help="também mede um arquivo de N pagamentos de parcelas de acordo (3 por acordo: cada um é quitado)",
        )
        parser.add_argument(
            "--via-admin-job",
            action="store_true",
            help="importa como a página do admin: o arquivo guardado no banco e o job do worker (core.import_jobs)",
        )

    def handle(self, *args, **options):
        self.via_job = options["via_admin_job"]
        self.stdout.write(f"Banco: {connection.vendor} {connection.settings_dict.get('NAME')}")
        if not options["skip_import"]:
            self.bench_import(options["payments"])
        if options["installment_rows"]:
            self.bench_installments(options["installment_rows"])
        if not options["skip_breakage"]:
            self.bench_breakage(options["agreements"], options["overdue_percent"])

    def tenant(self, slug, clients):
        tenant, _created = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug})
        have = Client.objects.filter(tenant=tenant).count()
        if have < clients:
            started = time.perf_counter()
            seed_wallet(tenant, clients - have, seed=7)
            self.stdout.write(f"  carteira: {clients - have} clientes criados em {time.perf_counter() - started:.1f}s")
        return tenant

    def bench_import(self, count):
        self.stdout.write(f"Importação de {count} pagamentos")
        tenant = self.tenant("bench-pagamentos", count)
        debts = (
            Debt.objects.filter(tenant=tenant, status=Debt.Status.OPEN).select_related("client").order_by("id")[:count]
        )
        paid_on = (timezone.localdate() - datetime.timedelta(days=1)).strftime("%d/%m/%Y")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "pagamentos.csv"
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=TEMPLATE_HEADERS, delimiter=";")
                writer.writeheader()
                rows = 0
                run = int(time.time())  # a new payment id per run: each run imports, on the títulos still open
                for debt in debts.iterator(chunk_size=5000):
                    # Half pay the título in full, half in part: both update paths are measured.
                    amount = debt.open_amount if rows % 2 else (debt.open_amount / 2).quantize(Decimal("0.01"))
                    writer.writerow(
                        {
                            "id_pagamento": f"B{run}-{debt.pk}",
                            "external_id": debt.client.external_id,
                            "contrato": debt.contract_code,
                            "parcela": debt.installment_number,
                            "data": paid_on,
                            "valor": str(max(amount, Decimal("0.01"))),
                            "forma": "pix",
                        }
                    )
                    rows += 1
            self.import_twice(tenant, path)
        paid_off = Client.objects.filter(tenant=tenant, status=Client.Status.PAID).count()
        self.stdout.write(f"  clientes quitados: {paid_off}")

    def bench_installments(self, count):
        """A file that pays agreement installments: every installment of count/3 active agreements, which all end
        quitados (the heaviest case: each agreement, its títulos and its client settle)."""
        agreements_needed = -(-count // 3)
        self.stdout.write(f"Importação de {count} pagamentos de parcelas ({agreements_needed} acordos quitados)")
        tenant = self.tenant("bench-parcelas", agreements_needed)
        operator, _ = get_user_model().objects.get_or_create(username="bench-parcelas")
        open_agreements = Agreement.objects.filter(tenant=tenant, status=Agreement.Status.ACTIVE).exclude(
            installments__status=AgreementInstallment.Status.PAID
        )
        existing = open_agreements.count()
        if existing < agreements_needed:
            # A run before quitou its agreements and their clients: the new agreements need clients still open.
            eligible = (
                Client.objects.filter(tenant=tenant, status=Client.Status.OPEN, open_balance__gt=0)
                .exclude(agreements__status__in=Agreement.OPEN_STATUSES)
                .count()
            )
            if eligible < agreements_needed - existing:
                seed_wallet(tenant, agreements_needed - existing - eligible, seed=7)
            started = time.perf_counter()
            self.make_agreements(tenant, operator, agreements_needed - existing, 0, timezone.localdate())
            self.stdout.write(f"  acordos criados em {time.perf_counter() - started:.1f}s")
        picked = list(open_agreements.order_by("id").values_list("id", flat=True)[:agreements_needed])
        paid_on = (timezone.localdate() - datetime.timedelta(days=1)).strftime("%d/%m/%Y")
        run = int(time.time())
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "parcelas.csv"
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=TEMPLATE_HEADERS, delimiter=";")
                writer.writeheader()
                installments = (
                    AgreementInstallment.objects.filter(agreement_id__in=picked)
                    .order_by("agreement_id", "number")
                    .values_list("agreement_id", "number", "amount", "agreement__client__external_id")
                )
                for agreement_id, number, amount, external_id in installments.iterator(chunk_size=5000):
                    writer.writerow(
                        {
                            "id_pagamento": f"P{run}-{agreement_id}-{number}",
                            "external_id": external_id,
                            "acordo": agreement_id,
                            "parcela": number,
                            "data": paid_on,
                            "valor": str(amount),
                            "forma": "boleto",
                        }
                    )
            self.import_twice(tenant, path)
        settled = Agreement.objects.filter(pk__in=picked, status=Agreement.Status.COMPLETED).count()
        self.stdout.write(f"  acordos quitados: {settled}")

    def import_twice(self, tenant, path):
        for label in ("primeira importação", "reimportação (nada muda)"):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            cpu = cpu_seconds()
            started = time.perf_counter()
            report = self.run_file(tenant, path)
            elapsed = time.perf_counter() - started
            python_cpu, database_cpu = (after - start for after, start in zip(cpu_seconds(), cpu, strict=True))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.stdout.write(
                f"  {label}: {report.rows} linhas, {report.imported} registrados, {report.already} já importados, "
                f"{len(report.errors)} erros em {elapsed:.1f}s ({report.rows / elapsed:,.0f} linhas/s); "
                f"pico de memória do processo {peak / 1024:,.0f} MB (antes {before / 1024:,.0f} MB)"
            )
            if database_cpu is not None:
                # On a loaded machine the wall clock waits for the CPU; the CPU spent is what the import costs.
                spent = python_cpu + database_cpu
                self.stdout.write(
                    f"    CPU: Python {python_cpu:.1f}s + PostgreSQL {database_cpu:.1f}s = {spent:.1f}s "
                    f"({report.rows / spent:,.0f} linhas por segundo de CPU)"
                )
            if report.errors:
                self.stdout.write(f"    primeiro erro: {report.errors[0]}")

    def run_file(self, tenant, path):
        if not self.via_job:
            return import_payment_rows(tenant, None, read_rows(path))
        # What the admin's upload and the worker do: the file stored in the database, then the job run to the end.
        with open(path, "rb") as handle:
            job = import_jobs.queue_import(
                tenant, None, File(handle, name=path.name), "csv", kind=WalletImport.Kind.PAYMENTS
            )
        job = import_jobs.run_import(job.pk)
        already = job.processed_rows - job.imported_rows - job.error_rows
        errors = list(job.errors.order_by("line").values_list("line", "external_id", "message"))
        return SimpleNamespace(rows=job.processed_rows, imported=job.imported_rows, already=already, errors=errors)

    def bench_breakage(self, count, overdue_percent):
        self.stdout.write(f"Quebra diária sobre {count} acordos ativos ({overdue_percent}% atrasados)")
        tenant = self.tenant("bench-quebra", count)
        operator, _ = get_user_model().objects.get_or_create(username="bench-quebra")
        today = timezone.localdate()
        existing = Agreement.objects.filter(tenant=tenant, status=Agreement.Status.ACTIVE).count()
        if existing < count:
            started = time.perf_counter()
            self.make_agreements(tenant, operator, count - existing, overdue_percent, today)
            self.stdout.write(f"  acordos criados em {time.perf_counter() - started:.1f}s")
        if connection.vendor == "postgresql":
            # What autovacuum does after a bulk load; without statistics the planner loops over 200,000 rows.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE attendance_agreement, attendance_agreementinstallment, core_debt, core_client")
        started = time.perf_counter()
        broken = payments.break_overdue_agreements(today)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"  quebra: {broken} acordos quebrados em {elapsed:.1f}s")
        started = time.perf_counter()
        again = payments.break_overdue_agreements(today)
        self.stdout.write(f"  segunda execução no mesmo dia: {again} quebrados em {time.perf_counter() - started:.1f}s")

    def make_agreements(self, tenant, operator, count, overdue_percent, today):
        clients = list(
            Client.objects.filter(tenant=tenant, status=Client.Status.OPEN, open_balance__gt=0)
            .exclude(agreements__status__in=Agreement.OPEN_STATUSES)
            .values_list("pk", "creditor_id", "open_balance")[:count]
        )
        every = max(100 // max(overdue_percent, 1), 1)
        batch = 5000
        for start in range(0, len(clients), batch):
            part = clients[start : start + batch]
            with transaction.atomic():
                agreements = Agreement.objects.bulk_create(
                    Agreement(
                        tenant=tenant,
                        client_id=pk,
                        creditor_id=creditor_id,
                        operator=operator,
                        status=Agreement.Status.ACTIVE,
                        principal=balance,
                        total=balance,
                        installments_count=3,
                        first_due_date=today - datetime.timedelta(days=40 if (start + i) % every == 0 else -10),
                    )
                    for i, (pk, creditor_id, balance) in enumerate(part)
                )
                installments = []
                for agreement in agreements:
                    each = (agreement.total / 3).quantize(Decimal("0.01"))
                    for n in range(1, 4):
                        amount = each if n < 3 else agreement.total - each * 2
                        due = agreement.first_due_date + datetime.timedelta(days=30 * (n - 1))
                        installments.append(
                            AgreementInstallment(agreement=agreement, number=n, due_date=due, amount=amount)
                        )
                AgreementInstallment.objects.bulk_create(installments, batch_size=5000)
                through = Agreement.debts.through
                by_client = {a.client_id: a.pk for a in agreements}
                links = [
                    through(agreement_id=by_client[client_id], debt_id=debt_id)
                    for debt_id, client_id in Debt.objects.filter(
                        client_id__in=by_client, status=Debt.Status.OPEN
                    ).values_list("pk", "client_id")
                ]
                through.objects.bulk_create(links, batch_size=5000)
                Debt.objects.filter(client_id__in=by_client, status=Debt.Status.OPEN).update(
                    status=Debt.Status.IN_AGREEMENT
                )
                Client.objects.filter(pk__in=by_client).update(status=Client.Status.AGREEMENT)
        oldest = AgreementInstallment.objects.filter(agreement__tenant=tenant).aggregate(d=Min("due_date"))["d"]
        self.stdout.write(f"  parcelas criadas; vencimento mais antigo {oldest}")
