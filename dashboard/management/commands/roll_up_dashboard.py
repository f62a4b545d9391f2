import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from dashboard import tasks
from dashboard.rollups import ensure_rolled_up
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Consolida os totais diários do painel (dias encerrados que ainda não foram consolidados)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="quantos dias para trás (padrão 7)")
        parser.add_argument("--tenant", help="identificador (slug) de uma empresa; todas se omitido")
        parser.add_argument("--enqueue", action="store_true", help="só enfileira a tarefa para o worker")

    def handle(self, *args, **options):
        if options["enqueue"]:
            tasks.roll_up_yesterday.enqueue()
            self.stdout.write("Tarefa enfileirada.")
            return
        tenant = Tenant.objects.get(slug=options["tenant"]) if options["tenant"] else None
        today = timezone.localdate()
        count = ensure_rolled_up(tenant, today - datetime.timedelta(days=options["days"]), today)
        self.stdout.write(f"{count} dia(s) consolidado(s).")
