import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from core.models import Client
from dialer import eligibility
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem
from tenants.models import Tenant

CAMPAIGN = 999_001


class Command(BaseCommand):
    help = (
        "Mede a prévia do 'Enviar para discador' sobre a carteira inteira de uma empresa com todas as regras "
        "ligadas (não ligar, limites de tentativas, enviados recentemente, horário por UF). Use num banco de "
        "benchmark: com --prepare grava histórico de ligações, envios e marcações de 'não ligar' de exemplo."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--prepare", action="store_true", help="grava o histórico de exemplo (uma vez)")
        parser.add_argument("--history", type=int, default=50_000, help="ligações e envios de exemplo")

    def handle(self, *args, **options):
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
        except Tenant.DoesNotExist:
            raise CommandError(f"Empresa não encontrada: {options['tenant']}") from None
        if options["prepare"]:
            self._prepare(tenant, options["history"])
        # All rules on: caps per day and week (in memory; the stored settings are not changed).
        tenant.settings = {**tenant.stored_settings, eligibility.PER_DAY_KEY: 2, eligibility.PER_WEEK_KEY: 5}
        queryset = Client.objects.filter(tenant=tenant)
        timings = []
        result = None
        for _ in range(options["runs"]):
            started = time.perf_counter()
            result = eligibility.preview(queryset, tenant, CAMPAIGN)
            timings.append(time.perf_counter() - started)
        self.stdout.write(
            f"Prévia de {result['selected']:,} clientes com todas as regras: "
            f"mediana {statistics.median(timings):.2f}s, melhor {min(timings):.2f}s, pior {max(timings):.2f}s "
            f"({options['runs']} execuções)"
        )
        self.stdout.write(f"  a enviar: {result['to_send']:,}")
        for label, count in result["skipped_labels"]:
            self.stdout.write(f"  ignorados — {label}: {count:,}")

    def _prepare(self, tenant, n):
        """Sample history: n call events today, n clients sent to CAMPAIGN an hour ago, 1% "não ligar"."""
        now = timezone.now()
        table = Client._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET do_not_call_reason = 'pedido_devedor', do_not_call_at = %s "
                f"WHERE tenant_id = %s AND id %% 100 = 0 AND do_not_call_reason = ''",
                [now, tenant.pk],
            )
            cursor.execute(
                f"INSERT INTO {DialerCallEvent._meta.db_table} (tenant_id, event, call_id, telephony_id, call_mode, "
                "identifier, mailing_data, agent_id, agent_name, phone, campaign_id, status, qualification, "
                "recording_url, client_id, raw, received_at) "
                f"SELECT %s, %s, 'bench-' || c.id || '-' || g, '', 'dialer', c.id::text, '{{}}', '', '', '', '', '7', "
                f"'{{}}', '', c.id, '{{}}', %s FROM (SELECT id FROM {table} WHERE tenant_id = %s ORDER BY id "
                "LIMIT %s) c CROSS JOIN generate_series(1, 3) g ON CONFLICT DO NOTHING",
                [tenant.pk, DialerCallEvent.Event.HISTORY, now, tenant.pk, n // 3],
            )
        export = DialerExport.objects.create(tenant=tenant, campaign_id=CAMPAIGN, list_name="bench")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {DialerExportItem._meta.db_table} (tenant_id, export_id, client_id, campaign_id, "
                "status, phones, error, sent_at) "
                f"SELECT %s, %s, id, %s, %s, '[]', '', %s FROM {table} WHERE tenant_id = %s ORDER BY id DESC LIMIT %s",
                [tenant.pk, export.pk, CAMPAIGN, DialerExportItem.Status.SENT, now, tenant.pk, n],
            )
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"ANALYZE {DialerCallEvent._meta.db_table}")
            cursor.execute(f"ANALYZE {DialerExportItem._meta.db_table}")
        self.stdout.write("Histórico de exemplo gravado.")
