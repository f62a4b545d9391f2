import time
from pathlib import Path

from django.core.management.base import BaseCommand
from tqdm import tqdm

from attendance.payment_import import import_payment_rows
from common.formats import read_rows
from core.import_commands import count_rows, file_and_tenant, write_error_report


class Command(BaseCommand):
    help = (
        "Importa um arquivo de pagamentos (CSV ou XLSX) para uma empresa. Reimportar o mesmo arquivo não muda "
        "nada (chave: id_pagamento); --dry-run mostra o resultado sem gravar."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="identificador (slug) da empresa")
        parser.add_argument("--dry-run", action="store_true", help="valida e simula, sem gravar")
        parser.add_argument("--errors", type=Path, help="onde gravar o relatório de erros (padrão: ARQUIVO.erros.csv)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        path, tenant = file_and_tenant(options)
        bar = tqdm(total=count_rows(path), unit=" linhas", desc="Importando", disable=options["no_progress"])
        started = time.perf_counter()
        with bar:
            report = import_payment_rows(tenant, None, read_rows(path), dry_run=options["dry_run"], progress=bar.update)
        elapsed = time.perf_counter() - started
        rate = report.rows / elapsed if elapsed else 0
        prefix = "Simulação: " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}{report.rows} linhas lidas, {report.imported} pagamentos registrados, "
            f"{report.already} já importados antes, {len(report.errors)} com erro "
            f"em {elapsed:.1f}s ({rate:,.0f} linhas/s)."
        )
        if report.errors:
            errors_path = options["errors"] or path.with_name(path.name + ".erros.csv")
            write_error_report(self, errors_path, report.errors, key="id_pagamento")
