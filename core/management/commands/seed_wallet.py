import os
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common import bench_figures
from core.maintenance import refresh_wallet_statistics
from core.seeding import seed_wallet
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Cria clientes fictícios (com telefones e títulos) em massa, para demonstrações e benchmarks. Numa carteira "
        "vazia (banco novo), a partir de 200 mil clientes, carrega como o pg_restore: numa só transação, com as "
        "tabelas da carteira travadas e os índices secundários refeitos no fim. Nunca num banco em produção."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="identificador (slug) da empresa; criada se não existir")
        parser.add_argument("--clients", type=int, required=True)
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--workers", type=int, default=os.cpu_count() or 1, help="processos em paralelo (PostgreSQL)"
        )
        parser.add_argument("--no-progress", action="store_true")
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        if options["clients"] <= 0:
            raise CommandError("--clients deve ser maior que zero.")
        tenant, created = Tenant.objects.get_or_create(slug=options["tenant"], defaults={"name": options["tenant"]})
        if created:
            self.stdout.write(f"Empresa '{tenant.slug}' criada.")
        started = time.perf_counter()
        with tqdm(total=options["clients"], unit=" clientes", disable=options["no_progress"]) as bar:
            made = seed_wallet(
                tenant,
                options["clients"],
                batch_size=options["batch_size"],
                seed=options["seed"],
                progress=bar.update,
                workers=options["workers"],
            )
        refresh_wallet_statistics()
        elapsed = time.perf_counter() - started
        self.stdout.write(f"{made} clientes criados em {elapsed:.1f}s ({made / elapsed:,.0f} clientes/s).")
        bench_figures.save(options, {"clients": made, "seconds": elapsed, "rate": made / elapsed})
