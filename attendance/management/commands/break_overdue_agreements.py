from django.core.management.base import BaseCommand

from attendance import payments, tasks


class Command(BaseCommand):
    help = (
        "Quebra os acordos ativos com parcela vencida além da tolerância do credor. "
        "Agende uma vez por dia (cron); com --enqueue o trabalho vai para a fila do worker."
    )

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="enfileira a tarefa em vez de rodar aqui")

    def handle(self, *args, enqueue, **options):
        if enqueue:
            result = tasks.break_overdue_agreements.enqueue()
            self.stdout.write(f"Tarefa enfileirada: {result.id}")
            return
        broken = payments.break_overdue_agreements()
        self.stdout.write(f"{broken} acordo(s) quebrado(s).")
