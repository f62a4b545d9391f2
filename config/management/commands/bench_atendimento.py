import datetime
import statistics
import time
import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.utils import timezone

from attendance.models import CallDisposition, DispositionType, Message
from core.models import Client
from core.seeding import seed_wallet
from tenants.models import Membership, Role, Tenant


class Command(BaseCommand):
    help = "Mede a página /atendimento/<id>/ de um cliente com N itens no histórico: consultas e tempo."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=1000)
        parser.add_argument("--repeat", type=int, default=10)

    def handle(self, *args, **options):
        setup_test_environment()
        tenant, _ = Tenant.objects.get_or_create(slug="bench-atendimento", defaults={"name": "bench-atendimento"})
        if not Client.objects.filter(tenant=tenant).exists():
            seed_wallet(tenant, 1, seed=1)
        client = Client.objects.filter(tenant=tenant).first()
        user, _ = get_user_model().objects.get_or_create(username="bench-operador")
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.OPERATOR})
        have = CallDisposition.objects.filter(client=client).count() + Message.objects.filter(client=client).count()
        missing = options["items"] - have
        if missing > 0:
            now = timezone.now()
            kind = DispositionType.objects.get(tenant=None, behavior="caixa_postal")
            half = missing // 2
            CallDisposition.objects.bulk_create(
                CallDisposition(
                    tenant=tenant,
                    client=client,
                    operator=user,
                    type=kind,
                    notes=f"tentativa {i}",
                    submission_token=uuid.uuid4(),
                )
                for i in range(half)
            )
            Message.objects.bulk_create(
                Message(
                    tenant=tenant,
                    client=client,
                    direction="recebida",
                    body=f"mensagem {i}",
                    sent_at=now - datetime.timedelta(minutes=i),
                )
                for i in range(missing - half)
            )
        http = HttpClient()
        http.force_login(user)
        url = f"/atendimento/{client.pk}/"
        http.get(url)  # warm up
        timings = []
        for _ in range(options["repeat"]):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = http.get(url)
                timings.append((time.perf_counter() - started) * 1000)
        total = CallDisposition.objects.filter(client=client).count() + Message.objects.filter(client=client).count()
        self.stdout.write(
            f"{url} com {total} itens no histórico ({connection.vendor}): HTTP {response.status_code}, "
            f"{len(queries)} consultas, mediana {statistics.median(timings):.1f} ms, máx {max(timings):.1f} ms"
        )
