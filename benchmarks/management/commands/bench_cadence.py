"""Time of the régua's preview of tomorrow (the daily run's selection) over N clients: seeds a tenant with --clients
debtors whose títulos fell due yesterday, one D+1 WhatsApp step, and times cadence.preview."""

import datetime
import time
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from core.models import Client, ClientPhone, Creditor, Debt
from messaging import cadence
from messaging.models import Step
from tenants.models import Tenant

UFS = ["SP", "RJ", "MG", "BA", "AC", "AM", "PE", "RS"]


class Command(BaseCommand):
    help = "Mede a prévia da régua de amanhã com --clients N (--prepare semeia)."

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=100_000)
        parser.add_argument("--tenant", default="bench-regua")
        parser.add_argument("--prepare", action="store_true")

    def handle(self, *args, clients, tenant, prepare, **options):
        found, _ = Tenant.objects.get_or_create(slug=tenant, defaults={"name": "Bench régua"})
        creditor, _ = Creditor.objects.get_or_create(tenant=found, name="Credor bench")
        if prepare or not Client.objects.filter(tenant=found).exists():
            self.seed(found, creditor, clients)
        Step.objects.get_or_create(
            tenant=found,
            creditor=creditor,
            name="D+1",
            defaults={"offset_days": 1, "template_name": "cobranca_lembrete", "active": True},
        )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
        start = time.perf_counter()
        rows = cadence.preview(found, timezone.localdate() + datetime.timedelta(days=1))
        elapsed = time.perf_counter() - start
        total = Client.objects.filter(tenant=found).count()
        for row in rows:
            self.stdout.write(f"{row['step']}: enviar {row['to_send']}, fora {row['skipped']}")
        self.stdout.write(f"prévia da régua: {total} clientes em {elapsed:.2f} s ({connection.vendor})")

    def seed(self, tenant, creditor, n):
        due = timezone.localdate()  # due today: the D+1 step of tomorrow reaches them
        batch = 5000
        for offset in range(0, n, batch):
            size = min(batch, n - offset)
            made = Client.objects.bulk_create(
                Client(
                    tenant=tenant,
                    creditor=creditor,
                    name=f"Devedor {offset + i}",
                    cpf=f"{offset + i:011d}",
                    external_id=f"B{offset + i}",
                    state=UFS[(offset + i) % len(UFS)],
                )
                for i in range(size)
            )
            ClientPhone.objects.bulk_create(
                ClientPhone(tenant=tenant, client=c, number=f"+55119{offset + i:08d}", kind="celular", priority=1)
                for i, c in enumerate(made)
            )
            Debt.objects.bulk_create(
                Debt(
                    tenant=tenant,
                    client=c,
                    contract_code=f"B{offset + i}",
                    installment_number=1,
                    installment_total=1,
                    due_date=due,
                    original_amount=Decimal("200.00"),
                )
                for i, c in enumerate(made)
            )
            Client.objects.filter(pk__in=[c.pk for c in made]).refresh_summaries()
