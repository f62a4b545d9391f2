"""The confirmation page of "Enviar para discador" with "select all" over a tenant's whole wallet: the page the
supervisor waits for, with the send preview (dialer.eligibility.preview: one grouped aggregate over the selection)
and the calling rules of the selection, against the sandbox 3C Plus in its own process. Timed from request to page."""

import contextlib
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from benchmarks.management.commands.bench_dialer_export import load, point_at, sandbox_process, settle
from common import bench_figures
from core.models import Client
from dialer import eligibility, tenant_api
from tenants.models import Membership, Role, Tenant


@contextlib.contextmanager
def watched_preview():
    """The preview the page computed and the seconds it took: (result, seconds) appended to the list yielded."""
    original, seen = eligibility.preview, []

    def preview(*args, **kwargs):
        started = time.perf_counter()
        result = original(*args, **kwargs)
        seen.append((result, time.perf_counter() - started))
        return result

    eligibility.preview = preview
    try:
        yield seen
    finally:
        eligibility.preview = original


class Command(BaseCommand):
    help = (
        "Mede a página de confirmação do “Enviar para discador” (a prévia) com todos os clientes de uma empresa "
        "selecionados, contra o sandbox 3C Plus em outro processo: mediana de N execuções."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--runs", type=int, default=3)
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"Empresa não encontrada: {options['tenant']}")
        wallet = Client.objects.filter(tenant=tenant)
        first = wallet.order_by("pk").values_list("pk", flat=True).first()
        if first is None:
            raise CommandError("A empresa não tem clientes: rode seed_wallet antes.")
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{tenant.slug}", defaults={"is_staff": True})
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.ADMIN})
        browser = HttpClient(SERVER_NAME="127.0.0.1")
        browser.force_login(user)
        settings_before = tenant.settings
        settle()
        try:
            with sandbox_process(0) as (base_url, _sandbox_pid):
                point_at(tenant, base_url)
                campaign = next(c["id"] for c in tenant_api.campaigns(tenant) if not c["paused"])
                form = {
                    "action": "send_to_dialer",
                    "select_across": "1",
                    "index": "0",
                    "_selected_action": [first],
                    "campaign": campaign,
                }
                timings, aggregate, queries = [], [], 0
                for run in range(options["runs"] + 1):  # the first warms the caches
                    with CaptureQueriesContext(connection) as captured, watched_preview() as seen:
                        started = time.perf_counter()
                        response = browser.post("/admin/core/client/", form)
                        elapsed = time.perf_counter() - started
                    if response.status_code != 200 or not seen:
                        raise CommandError(f"a confirmação respondeu {response.status_code} sem a prévia")
                    if run:
                        timings.append(elapsed)
                        aggregate.append(seen[0][1])
                        queries = len(captured)
                preview = seen[0][0]
        finally:
            tenant.settings = settings_before
            tenant.save(update_fields=["settings"])
        figures = {
            "clients": wallet.count(),
            "selected": preview["selected"],
            "to_send": preview["to_send"],
            "median_seconds": statistics.median(timings),
            "worst_seconds": max(timings),
            "aggregate_seconds": statistics.median(aggregate),
            "queries": queries,
        }
        self.stdout.write(
            f"Prévia de {preview['selected']:,} clientes ({preview['to_send']:,} a enviar agora): mediana "
            f"{figures['median_seconds']:.2f}s, pior {figures['worst_seconds']:.2f}s em {options['runs']} execuções "
            f"(a agregação da prévia: {figures['aggregate_seconds']:.2f}s), {queries} consultas; {load()}"
        )
        bench_figures.save(options, figures)
