import contextlib
import datetime
import math
import os
import statistics
import time

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.template.response import SimpleTemplateResponse
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from unfold.admin import ModelAdmin

from common import bench_figures
from core.models import Client, Creditor
from core.search import fold
from tenants.models import Membership, Role, Tenant

CHANGELIST = "/admin/core/client/"


class PlainClientAdmin(ModelAdmin):
    """The baseline: a stock changelist of the same table (full COUNT(*), OFFSET pages, ORM search), tenant-scoped."""

    list_display = ("name", "cpf", "creditor", "open_balance", "oldest_due_date", "main_phone", "status")
    list_filter = ("creditor", "status", "state")
    search_fields = ("name", "cpf", "external_id")
    list_per_page = 50
    ordering = ("-id",)
    actions = None

    def __init__(self, tenant):
        super().__init__(Client, admin.AdminSite(name="bench_plain"))
        self.tenant = tenant

    def get_queryset(self, request):
        return super().get_queryset(request).filter(tenant=self.tenant)

    def has_view_permission(self, request, obj=None):
        return True

    has_module_permission = has_change_permission = has_add_permission = has_delete_permission = has_view_permission


@contextlib.contextmanager
def timed_rendering(into: list, cpu_into: list | None = None):
    """The time the response's template takes to render (the rows drawn), appended to `into`; its CPU time (this
    process's, less sensitive to the machine's load) to `cpu_into`."""
    original = SimpleTemplateResponse.rendered_content

    def rendered_content(self):
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            return original.fget(self)
        finally:
            into.append((time.perf_counter() - started) * 1000)
            if cpu_into is not None:
                cpu_into.append((time.process_time() - started_cpu) * 1000)

    SimpleTemplateResponse.rendered_content = property(rendered_content)
    try:
        yield
    finally:
        SimpleTemplateResponse.rendered_content = original


def interleaved(run, other, repeat):
    """(median, worst, last result) of `run` and (median, worst, median CPU) of `other` (None without it), run in
    turns."""
    mine, theirs, theirs_cpu, result = [], [], [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        mine.append((time.perf_counter() - started) * 1000)
        if other is not None:
            started, started_cpu = time.perf_counter(), time.process_time()
            other()
            theirs.append((time.perf_counter() - started) * 1000)
            theirs_cpu.append((time.process_time() - started_cpu) * 1000)
    ours = (statistics.median(mine), max(mine), result)
    return ours, ((statistics.median(theirs), max(theirs), statistics.median(theirs_cpu)) if theirs else None)


class Command(BaseCommand):
    help = (
        "Mede a Carteira (changelist do admin) numa empresa grande: cada filtro, cada coluna ordenável nos dois "
        "sentidos, cada tipo de busca, páginas do início ao fim e um filtro sem resultado; mediana de N execuções, "
        "ao lado de um changelist padrão do Django (--baseline). SQL: mediana do tempo no banco por requisição; "
        "CPU: do processo Django (sem a espera por outros processos)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument("--baseline", action="store_true", help="mede também um ModelAdmin padrão (mais lento)")
        parser.add_argument("--only", help="só os casos cujo nome contém este texto")
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
        except Tenant.DoesNotExist:
            raise CommandError(f"Empresa não encontrada: {options['tenant']}") from None
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{tenant.slug}", defaults={"is_staff": True})
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.ADMIN})
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        http = HttpClient()
        http.force_login(user)
        plain = PlainClientAdmin(tenant) if options["baseline"] else None
        self.watch_changelist()
        factory = RequestFactory()

        total = Client.objects.filter(tenant=tenant).count()
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        self.stdout.write(
            f"Empresa {tenant.slug}: {total:,} clientes ({connection.vendor}); load average {load}; "
            f"mediana de {options['repeat']}."
        )
        header = f"{'caso':46s} {'mediana':>9s} {'máx':>9s} {'SQL':>9s} {'CPU':>9s} {'cons.':>5s}  {'resultados':>22s}"
        header += f"  {'render':>8s} {'CPU':>7s}"
        if plain:
            header += f"  {'padrão':>9s}  {'razão':>6s}  {'CPU':>7s}  {'razão':>6s}"
        self.stdout.write(header)
        figures = {"clients": total, "cases": []}
        for label, params, plain_params in self.cases(tenant, http, total):
            if options["only"] and options["only"].lower() not in label.lower():
                continue

            sql_ms, cpu_ms, render_ms, render_cpu_ms = [], [], [], []

            def get(params=params, sql_ms=sql_ms, cpu_ms=cpu_ms, render_ms=render_ms, render_cpu_ms=render_cpu_ms):
                started = time.process_time()
                with CaptureQueriesContext(connection) as queries, timed_rendering(render_ms, render_cpu_ms):
                    response = http.get(CHANGELIST, params)
                cpu_ms.append((time.process_time() - started) * 1000)
                sql_ms.append(sum(float(q["time"]) for q in queries) * 1000)
                return response, len(queries)

            plain_get = None
            if plain and plain_params is not None:

                def plain_get(plain_params=plain_params):
                    request = factory.get(CHANGELIST, plain_params)
                    request.user = user
                    return plain.changelist_view(request).render()

            # Interleaved: each repetition runs the Carteira and then the stock changelist, so a burst of load on
            # the machine weighs on both alike.
            ours, theirs = interleaved(get, plain_get, options["repeat"])
            median, worst, (response, queries) = ours
            case = {"label": label, "median_ms": median, "status": response.status_code, "plain_ms": None}
            case.update(queries=queries, render_ms=statistics.median(render_ms) if render_ms else None)
            case.update(
                cpu_ms=statistics.median(cpu_ms),
                render_worst_ms=max(render_ms) if render_ms else None,
                render_cpu_ms=statistics.median(render_cpu_ms) if render_cpu_ms else None,
            )
            figures["cases"].append(case)
            if response.status_code != 200:
                self.stdout.write(f"{label:46s} HTTP {response.status_code} {response.get('Location', '')}")
                continue
            cl = self.changelist
            case.update(self.count_check(cl))
            line = (
                f"{label:46s} {median:7.1f}ms {worst:7.1f}ms {statistics.median(sql_ms):7.1f}ms "
                f"{statistics.median(cpu_ms):7.1f}ms {queries:5d}  "
                f"{getattr(cl.paginator, 'count_label', f'{cl.result_count:,}'):>22s}"
            )
            line += f"  {case['render_ms'] or 0:6.1f}ms {case['render_cpu_ms'] or 0:5.1f}ms"
            if theirs is not None:
                plain_median, _plain_worst, plain_cpu = theirs
                line += f"  {plain_median:7.1f}ms  {plain_median / median:5.2f}×"
                line += f"  {plain_cpu:5.1f}ms  {plain_cpu / case['cpu_ms']:5.2f}×"
                case.update(plain_ms=plain_median, plain_cpu_ms=plain_cpu)
            if not case["count_ok"]:
                line += f"  CONTAGEM ERRADA: {case['true_count']:,} de fato"
            self.stdout.write(line)
        self.summary(figures["cases"])
        bench_figures.save(options, figures)

    def summary(self, cases):
        """One line over the cases served: the render (wall and CPU), the queries and the ratios against stock."""
        served = [c for c in cases if c["status"] == 200 and c["render_ms"] is not None]
        if not served:
            return
        renders = [c["render_ms"] for c in served]
        cpus = [c["render_cpu_ms"] for c in served]
        line = (
            f"Resumo de {len(served)} casos: renderização mediana {statistics.median(renders):.1f} ms, pior "
            f"{max(renders):.1f} ms (CPU: mediana {statistics.median(cpus):.1f} ms, pior {max(cpus):.1f} ms); "
            f"até {max(c['queries'] for c in served)} consultas"
        )
        against = [c for c in served if c.get("plain_ms")]
        if against:
            wall = min(c["plain_ms"] / c["median_ms"] for c in against)
            cpu = min(c["plain_cpu_ms"] / c["cpu_ms"] for c in against)
            line += f"; razão pior {wall:.2f}× (CPU: {cpu:.2f}×), {len(against)} casos"
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        self.stdout.write(f"{line}; load average {load}")

    @staticmethod
    def count_check(cl) -> dict:
        """What the page said of the count against COUNT(*) run apart (not timed): exact and equal, or labelled
        "mais de N" and truly above N."""
        paginator = cl.paginator
        true_count = cl.queryset.count()
        exact = getattr(paginator, "count_is_exact", True)
        ok = paginator.count == true_count if exact else true_count > paginator.exact_limit
        return {"true_count": true_count, "shown": paginator.count, "exact": exact, "count_ok": ok}

    def watch_changelist(self):
        """Keep the Carteira's last ChangeList (its count) without the test client's template instrumentation,
        which would add its own time to every rendering measured."""
        model_admin = admin.site._registry[Client]
        original = model_admin.get_changelist_instance

        def get_changelist_instance(request):
            self.changelist = original(request)
            return self.changelist

        model_admin.get_changelist_instance = get_changelist_instance

    def cases(self, tenant, http, total):
        """(label, Carteira query string, the stock changelist's equivalent or None)."""
        sample = Client.objects.filter(tenant=tenant).exclude(main_phone="").order_by("pk").first()
        creditor = Creditor.objects.filter(tenant=tenant).order_by("pk").first()
        if sample is None or creditor is None:
            raise CommandError("A empresa não tem clientes: rode seed_wallet antes.")
        digits = sample.main_phone[3:]
        http.get(CHANGELIST)
        cl = self.changelist
        per_page = cl.list_per_page
        last = max(math.ceil(total / per_page), 1)

        yield "sem filtro", {}, {}
        yield "credor", {"creditor__id__exact": creditor.pk}, {"creditor__id__exact": creditor.pk}
        yield "situação: em aberto (todos)", {"status__exact": "em_aberto"}, {"status__exact": "em_aberto"}
        yield "situação: pago (nenhum)", {"status__exact": "pago"}, {"status__exact": "pago"}
        yield "faixa de atraso 91–180", {"atraso": "91_180"}, None
        today = timezone.localdate()
        dates = {
            "oldest_due_date_from": (today - datetime.timedelta(days=400)).isoformat(),
            "oldest_due_date_to": (today - datetime.timedelta(days=200)).isoformat(),
        }
        yield "vencimento entre datas", dates, None
        yield "saldo 100–1.000", {"open_balance_from": "100", "open_balance_to": "1000"}, None
        yield "UF SP", {"uf": "SP"}, {"state__exact": "SP"}
        yield "cidade Campinas", {"city": "Campinas"}, None
        yield "cidade inexistente (nenhum)", {"city": "Atlântida"}, None
        yield "enviado ao discador: nunca", {"discador": "nunca"}, None
        yield "enviado ao discador: últimas 24 h", {"discador": "24h"}, None
        yield "telefone discável: sim", {"discavel": "sim"}, None
        yield "telefone discável: não", {"discavel": "nao"}, None
        yield (
            "credor + faixa 91–180 + saldo 100–1.000",
            {
                "creditor__id__exact": creditor.pk,
                "atraso": "91_180",
                "open_balance_from": "100",
                "open_balance_to": "1000",
            },
            None,
        )
        yield (
            "UF SP + discável, por saldo ↓",
            {"uf": "SP", "discavel": "sim", "o": self.sort_param(cl, "-open_balance")},
            None,
        )
        yield "credor + situação pago (nenhum)", {"creditor__id__exact": creditor.pk, "status__exact": "pago"}, None

        for index, field_name in enumerate(cl.list_display):
            if cl.get_ordering_field(field_name) is None or field_name == "action_checkbox":
                continue
            title = str(label_for_field(field_name, Client, model_admin=cl.model_admin))
            plain_index = self.plain_index(field_name)
            for sign, arrow in (("", "↑"), ("-", "↓")):
                plain = None if plain_index is None else {"o": f"{sign}{plain_index}"}
                yield f"ordenar por {title} {arrow}", {"o": f"{sign}{index}"}, plain

        yield "busca por nome", {"q": "Maria Silva"}, {"q": "Maria Silva"}
        yield "busca por CPF com pontuação", {"q": sample.formatted_cpf}, {"q": sample.cpf}
        yield "busca por telefone (11) 9…", {"q": f"({digits[:2]}) {digits[2:7]}-{digits[7:]}"}, None
        yield "busca por código externo", {"q": sample.external_id}, {"q": sample.external_id}
        yield "busca sem resultado", {"q": "Xylophone Qwerty"}, {"q": "Xylophone Qwerty"}
        yield from self.search_as_typed_cases(tenant, sample)

        for label, page in (("primeira", 1), ("do meio", last // 2), ("a ¾", last * 3 // 4), ("última", last)):
            yield f"página {label} (p={page})", {"p": page}, {"p": page}
        yield f"página além do fim (p={last + 1})", {"p": last + 1}, None
        # The last real page and the one after it, for a filter counted exactly and one shown as "mais de N".
        for label, filters in (
            ("credor", {"creditor__id__exact": creditor.pk}),
            ("em aberto", {"status__exact": Client.Status.OPEN}),
        ):
            matching = Client.objects.filter(tenant=tenant, **{k.replace("__exact", ""): v for k, v in filters.items()})
            end = max(math.ceil(matching.count() / per_page), 1)
            yield f"{label}: última página (p={end})", {**filters, "p": end}, None
            yield f"{label}: além do fim (p={end + 1})", {**filters, "p": end + 1}, None

    @staticmethod
    def search_as_typed_cases(tenant, sample):
        """Searches typed without accents or capitals, and phones without DDD (their rows are checked by the
        count column: an accented name found by its plain spelling)."""
        recent = Client.objects.filter(tenant=tenant).order_by("-pk").values_list("name", "city")[:500]
        accented = next(((n, c) for n, c in recent if fold(n) != n.lower()), None)
        city = next((c for _n, c in recent if c and fold(c) != c.lower()), None)
        if accented:
            name = accented[0]
            first_word = next((w for w in name.split() if fold(w) != w.lower()), name.split()[0])
            yield f"busca sem acento: {fold(first_word)}", {"q": fold(first_word)}, None
            yield f"busca sem acento: {fold(name)}", {"q": fold(name)}, None
            yield f"busca em maiúsculas: {fold(name).upper()}", {"q": fold(name).upper()}, None
        if city:
            yield f"busca cidade sem acento: {fold(city)}", {"q": fold(city)}, None
        yield "busca sem acento, sem resultado: xylophone", {"q": "xylophone"}, None
        local = sample.main_phone[-9:]
        yield f"busca telefone sem DDD (9 dígitos) {local[:5]}-{local[5:]}", {"q": f"{local[:5]}-{local[5:]}"}, None
        yield f"busca telefone sem DDD (8 dígitos) {local[1:5]}-{local[5:]}", {"q": f"{local[1:5]}-{local[5:]}"}, None
        yield "busca telefone sem DDD, sem resultado", {"q": "0000-0000"}, None

    @staticmethod
    def sort_param(cl, wanted):
        name = wanted.lstrip("-")
        for index, field_name in enumerate(cl.list_display):
            if cl.get_ordering_field(field_name) == name:
                return f"{'-' if wanted.startswith('-') else ''}{index}"
        raise CommandError(f"coluna não ordenável: {name}")

    @staticmethod
    def plain_index(field_name):
        plain = {
            "name": "name",
            "display_cpf": "cpf",
            "creditor": "creditor",
            "display_open_balance": "open_balance",
            "display_days_overdue": "oldest_due_date",
            "display_status": "status",
        }.get(field_name)
        return None if plain is None else PlainClientAdmin.list_display.index(plain)
