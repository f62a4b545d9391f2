import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext, setup_test_environment

from core.models import Client, Creditor
from tenants.models import Membership, Role, Tenant

SCENARIOS = [
    ("sem filtro", {}),
    (
        "credor + faixa 91–180 + saldo 100–1.000",
        {"atraso": "91_180", "open_balance_from": "100", "open_balance_to": "1000"},
    ),
    ("credor + faixa + saldo, ordenado por saldo", {"atraso": "181_360", "open_balance_from": "100", "o": "-4"}),
    ("UF + telefone discável", {"uf": "SP", "discavel": "sim"}),
    ("busca por CPF com pontuação", {"q": "__CPF__"}),
    ("busca por telefone (11) 9…", {"q": "__PHONE__"}),
    ("busca por nome", {"q": "Maria Silva"}),
    ("última página de 'sem filtro' (p=100)", {"p": "100"}),
]


class Command(BaseCommand):
    help = "Mede tempo e número de consultas da Carteira (changelist do admin) com filtros, numa empresa grande."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, **options):
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
        except Tenant.DoesNotExist:
            raise CommandError(f"Empresa não encontrada: {options['tenant']}") from None
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{tenant.slug}", defaults={"is_staff": True})
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.ADMIN})
        setup_test_environment()  # the test client then exposes the rendered context (result count)
        http = HttpClient()
        http.force_login(user)
        sample = Client.objects.filter(tenant=tenant).exclude(main_phone="").order_by("pk").first()
        creditor = Creditor.objects.filter(tenant=tenant).order_by("pk").first()
        total = Client.objects.filter(tenant=tenant).count()
        self.stdout.write(f"Empresa {tenant.slug}: {total:,} clientes ({connection.vendor}).")
        for label, params in SCENARIOS:
            params = dict(params)
            if "atraso" in params:
                params["creditor__id__exact"] = str(creditor.pk)
            if params.get("q") == "__CPF__":
                params["q"] = sample.formatted_cpf
            if params.get("q") == "__PHONE__":
                digits = sample.main_phone[3:]
                params["q"] = f"({digits[:2]}) {digits[2:7]}-{digits[7:]}"
            timings = []
            for _ in range(options["repeat"]):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = http.get("/admin/core/client/", params)
                    timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise CommandError(f"{label}: HTTP {response.status_code}")
            cl = response.context["cl"]
            self.stdout.write(
                f"{label:48s} mediana {statistics.median(timings):7.1f} ms  máx {max(timings):7.1f} ms  "
                f"{len(queries):2d} consultas  {cl.result_count:>9,} resultados"
                f"{' (estimado)' if getattr(cl, 'count_is_estimate', False) else ''}"
            )
