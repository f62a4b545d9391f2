from django.core.management.base import BaseCommand, CommandError

from messaging import cadence
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Roda a régua de cobrança de hoje (ou mostra a prévia de amanhã com --preview)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--preview", action="store_true")

    def handle(self, *args, tenant, preview, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"Empresa {tenant} não encontrada.")
        if preview:
            for row in cadence.preview(found):
                skipped = "; ".join(f"{label}: {n}" for label, n in row["skipped"]) or "—"
                self.stdout.write(f"{row['step']} [{row['channel']}]: enviar {row['to_send']}; fora: {skipped}")
            return
        self.stdout.write(str(cadence.run(found)))
