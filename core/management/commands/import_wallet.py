import time
from pathlib import Path

from django.core.management.base import BaseCommand
from tqdm import tqdm

from common import bench_figures
from common.formats import read_rows
from core.import_commands import count_rows, file_and_tenant, write_error_report
from core.importing import import_wallet_rows
from core.maintenance import refresh_wallet_statistics


class Command(BaseCommand):
    help = "Importa uma carteira grande (CSV ou XLSX) para uma empresa, com barra de progresso e relatório de erros."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="identificador (slug) da empresa")
        parser.add_argument("--errors", type=Path, help="onde gravar o relatório de erros (padrão: ARQUIVO.erros.csv)")
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true")
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        path, tenant = file_and_tenant(options)

        bar = tqdm(
            total=count_rows(path),
            unit=" linhas",
            desc="Importando",
            disable=options["no_progress"],
        )
        started = time.perf_counter()
        with bar:
            report = import_wallet_rows(tenant, read_rows(path), chunk_size=options["chunk_size"], progress=bar.update)
        refresh_wallet_statistics()
        elapsed = time.perf_counter() - started

        rate = report.rows / elapsed if elapsed else 0
        self.stdout.write(
            f"{report.rows} linhas lidas, {report.imported} importadas, {report.failed} com erro, "
            f"{report.warned} com aviso em {elapsed:.1f}s ({rate:,.0f} linhas/s)."
        )
        bench_figures.save(
            options,
            {
                "rows": report.rows,
                "imported": report.imported,
                "failed": report.failed,
                "seconds": elapsed,
                "rate": rate,
            },
        )
        if report.errors or report.warnings:
            # The warnings (a bad phone skipped, the row imported) beside the errors: someone must fix those too.
            rows = sorted([*report.errors, *report.warnings])
            write_error_report(self, options["errors"] or path.with_name(path.name + ".erros.csv"), rows)
