"""The send preview and the dial lists' sweep (dialer/projection.py) over a whole wallet, against the sandbox 3C Plus
in its own process. The issue's targets: the preview under 2 s and the sweep well inside its tick at 1,000,000."""

import datetime
import statistics
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from benchmarks.management.commands.bench_dialer_export import SANDBOX_TOKEN, sandbox_process, settle
from common import bench_figures
from core.models import Client
from core.seeding import seed_wallet
from dialer import eligibility, projection, tenant_api
from dialer.client import ThreeCPlusAPI
from dialer.models import DialerExport, DialerExportItem
from tenants.models import Tenant
from tenants.settings_schema import clean_settings

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
# A Wednesday with no national holiday: every region open at 11:00, every one closed at 23:30, open again Thursday.
STEADY = datetime.datetime(2026, 12, 2, 11, 0, tzinfo=SAO_PAULO)
EVENING = datetime.datetime(2026, 12, 2, 20, 30, tzinfo=SAO_PAULO)  # SP closed, the north and the west still open
NIGHT = datetime.datetime(2026, 12, 2, 23, 30, tzinfo=SAO_PAULO)
MORNING = datetime.datetime(2026, 12, 3, 11, 0, tzinfo=SAO_PAULO)


class Command(BaseCommand):
    help = (
        "Mede a prévia do 'Enviar para discador' (com a janela fechada para parte da carteira) e a varredura das "
        "listas do discador (parada, no fechamento da janela: todos saem; na abertura: todos voltam) sobre a "
        "carteira inteira de uma empresa, contra o sandbox 3C Plus em outro processo."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=100_000)
        parser.add_argument("--tenant", default="bench-janela")
        parser.add_argument("--runs", type=int, default=3, help="execuções da prévia e da varredura parada")
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        tenant, _ = Tenant.objects.get_or_create(slug=options["tenant"], defaults={"name": options["tenant"]})
        missing = options["clients"] - Client.objects.filter(tenant=tenant).count()
        if missing > 0:
            self.stdout.write(f"Criando {missing:,} clientes…")
            seed_wallet(tenant, missing, workers=2 if connection.vendor == "postgresql" else 1)
        if missing < 0:
            raise CommandError(f"A empresa {tenant.slug} tem mais de {options['clients']:,} clientes: use outra.")
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        wallet = Client.objects.filter(tenant=tenant)
        figures = {"clients": options["clients"], "engine": engine}
        self.stdout.write(f"{options['clients']:,} clientes ({engine})")
        with sandbox_process(0) as (base_url, _sandbox_pid):
            tenant.settings = clean_settings(
                {
                    "threecplus_base_url": base_url,
                    "threecplus_api_key": SANDBOX_TOKEN,
                    eligibility.PER_DAY_KEY: 3,
                    eligibility.PER_WEEK_KEY: 10,
                    "dialer_rework_no_answer_hours": 2,
                }
            )
            tenant.save()
            campaign_id = next(c["id"] for c in tenant_api.campaigns(tenant) if not c["paused"])
            settle()
            timings = []
            for _ in range(options["runs"]):
                started = time.perf_counter()
                preview = eligibility.preview(wallet, tenant, campaign_id, EVENING)
                timings.append(time.perf_counter() - started)
            figures["preview_seconds"] = statistics.median(timings)
            self.stdout.write(
                f"Prévia de {preview['selected']:,} clientes às 20:30 de Brasília: mediana "
                f"{statistics.median(timings):.2f}s, melhor {min(timings):.2f}s ({options['runs']} execuções); "
                f"{preview['window_text']}"
            )
            export = self._loaded(tenant, campaign_id, base_url)
            tick = settings.DIALER_PROJECTION_TICK_SECONDS
            for title, at, runs in (
                ("parada (todos na lista, nada muda)", STEADY, options["runs"]),
                ("fechamento (todos saem da lista)", NIGHT, 1),
                ("noite (todos fora, nada muda)", NIGHT, options["runs"]),
                ("abertura (todos voltam à lista)", MORNING, 1),
            ):
                timings = []
                for _ in range(runs):
                    started = time.perf_counter()
                    result = projection.project_tenant(tenant, at)
                    timings.append(time.perf_counter() - started)
                figures[title] = statistics.median(timings)
                self.stdout.write(
                    f"Varredura {title}: {statistics.median(timings):.2f}s (tick de {tick}s); "
                    f"incluídos {result.added:,}, retirados {result.removed:,}, falhas {result.failed:,}"
                )
            DialerExport.objects.filter(pk=export.pk).delete()
        bench_figures.save(options, figures)

    def _loaded(self, tenant, campaign_id, base_url):
        """An export whose every client with a phone is on its list (SENT), as after an afternoon's send."""
        DialerExport.objects.filter(tenant=tenant, list_name="bench janela").delete()
        with ThreeCPlusAPI(base_url, SANDBOX_TOKEN) as api:
            list_id = api.create_list(campaign_id, "bench janela")["id"]
        export = DialerExport.objects.create(
            tenant=tenant, campaign_id=campaign_id, list_name="bench janela", list_id=list_id
        )
        table = DialerExportItem._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, export_id, client_id, campaign_id, status, phones, error, sent_at) "
                f"SELECT %s, %s, id, %s, %s, '[\"11999999999\"]', '', %s FROM {Client._meta.db_table} "
                "WHERE tenant_id = %s AND main_phone <> ''",
                [tenant.pk, export.pk, campaign_id, DialerExportItem.Status.SENT, STEADY, tenant.pk],
            )
        settle()
        return export
