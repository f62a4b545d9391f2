"""Seed a large operation fast (INSERT … SELECT generate_series on PostgreSQL) and time the dashboard."""

import datetime
import os
import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance.models import DispositionType
from common import bench_figures
from core.models import Client, Creditor
from core.seeding import seed_wallet
from dashboard.rollups import ensure_rolled_up, roll_up_today
from dialer.models import DialerExport
from tenants.models import Membership, Role, Tenant

EXPORTS = 60
CAMPAIGNS = 5


class Command(BaseCommand):
    help = "Popula uma empresa com volume de produção e mede o painel (mediana e p95)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="bench-painel")
        parser.add_argument("--clients", type=int, default=1_000_000)
        parser.add_argument("--events", type=int, default=5_000_000)
        parser.add_argument("--dispositions", type=int, default=2_000_000)
        parser.add_argument("--agreements", type=int, default=200_000)
        parser.add_argument("--days", type=int, default=90, help="dias de histórico em que os dados se espalham")
        parser.add_argument("--operators", type=int, default=50)
        parser.add_argument("--runs", type=int, default=15)
        parser.add_argument("--skip-seed", action="store_true", help="mede os dados já existentes")
        parser.add_argument("--slowest", type=int, default=0, help="lista as N consultas mais lentas de cada caso")
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("O benchmark do painel precisa de PostgreSQL (DATABASE_URL).")
        tenant, _ = Tenant.objects.get_or_create(slug=options["tenant"], defaults={"name": options["tenant"]})
        if not options["skip_seed"]:
            self.seed(tenant, options)
        started = time.perf_counter()
        today = timezone.localdate()
        days = ensure_rolled_up(tenant, today - datetime.timedelta(days=options["days"] + 1), today)
        self.say(f"totais diários: {days} dia(s) consolidados", started)
        started = time.perf_counter()
        roll_up_today(tenant.pk)
        self.say("hoje consolidado até 2 minutos atrás", started)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            # What autovacuum does to tables this size within minutes of a bulk load: the visibility map
            # lets index-only scans skip the heap, as they do in production.
            cursor.execute("VACUUM (ANALYZE)")
        self.say("VACUUM ANALYZE", started)
        cases = self.measure(tenant, options["runs"], options["slowest"])
        bench_figures.save(options, {"clients": Client.objects.filter(tenant=tenant).count(), "cases": cases})

    def say(self, what, started):
        self.stdout.write(f"{what} em {time.perf_counter() - started:.1f}s")

    def seed(self, tenant, options):
        existing = Client.objects.filter(tenant=tenant).count()
        if existing < options["clients"]:
            started = time.perf_counter()
            seed_wallet(tenant, options["clients"] - existing, batch_size=20_000, seed=1)
            self.say(f"{options['clients'] - existing} clientes", started)
        users = self.operators(tenant, options["operators"])
        types = list(DispositionType.objects.filter(tenant=None).order_by("order").values_list("pk", flat=True))
        params = {
            "tenant": tenant.pk,
            "days": options["days"],
            "users": users,
            "types": types,
            "ops": len(users),
        }
        steps = [
            ("envios", self.EXPORTS_SQL, {**params, "exports": EXPORTS, "campaigns": CAMPAIGNS}),
            ("itens enviados", self.ITEMS_SQL, {**params, "exports": EXPORTS}),
            ("eventos de ligação", self.EVENTS_SQL, {**params, "n": options["events"], "campaigns": CAMPAIGNS}),
            ("tabulações", self.DISPOSITIONS_SQL, {**params, "n": options["dispositions"]}),
            ("acordos", self.AGREEMENTS_SQL, {**params, "n": options["agreements"]}),
        ]
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            cursor.execute(
                "CREATE TEMP TABLE bench_clients AS SELECT row_number() OVER (ORDER BY id) AS n, id, creditor_id "
                "FROM core_client WHERE tenant_id = %(tenant)s",
                params,
            )
            cursor.execute("CREATE UNIQUE INDEX ON bench_clients (n)")
            cursor.execute("SELECT count(*) FROM bench_clients")
            params["clients"] = cursor.fetchone()[0]
            for name, sql, step_params in steps:
                started = time.perf_counter()
                cursor.execute(sql, {**step_params, "clients": params["clients"]})
                self.say(f"{cursor.rowcount} {name}", started)
            cursor.execute("DROP TABLE bench_clients")

    def operators(self, tenant, count) -> list[int]:
        User = get_user_model()
        ids = []
        for n in range(count):
            user, _ = User.objects.get_or_create(
                username=f"bench-op-{tenant.pk}-{n}", defaults={"first_name": f"Operador {n:02d}"}
            )
            Membership.objects.get_or_create(
                user=user, defaults={"tenant": tenant, "role": Role.OPERATOR, "threecplus_agent_id": str(9000 + n)}
            )
            ids.append(user.pk)
        supervisor, _ = User.objects.get_or_create(username=f"bench-sup-{tenant.pk}", defaults={"is_staff": True})
        Membership.objects.get_or_create(user=supervisor, defaults={"tenant": tenant, "role": Role.SUPERVISOR})
        return ids

    # Times spread over the last `days` days; g drives every choice so a rerun is deterministic. Rows go in
    # in time order, as the webhooks and the operators write them: a day's rows share pages, as in production.
    EXPORTS_SQL = """
        INSERT INTO dialer_dialerexport (tenant_id, campaign_id, campaign_name, list_name, batch_size, selection,
            status, selected_count, to_send_count, skipped, phones_count, open_balance, sent_count, failed_count,
            sent_phones, error_summary, created_at, started_at, finished_at)
        SELECT %(tenant)s, 1 + g %% %(campaigns)s, 'Campanha ' || (1 + g %% %(campaigns)s), 'Lista ' || g, 500, '{}',
            'concluido', 0, 0, '{}', 0, 100000, 0, 0, 0, '',
            now() - make_interval(days => %(days)s) * (g::float / %(exports)s),
            now() - make_interval(days => %(days)s) * (g::float / %(exports)s),
            now() - make_interval(days => %(days)s) * (g::float / %(exports)s) + interval '1 hour'
        FROM generate_series(1, %(exports)s) g
    """
    ITEMS_SQL = """
        WITH e AS (
            SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, campaign_id, created_at FROM (
                SELECT id, campaign_id, created_at FROM dialer_dialerexport
                WHERE tenant_id = %(tenant)s ORDER BY id DESC LIMIT %(exports)s
            ) latest
        )
        INSERT INTO dialer_dialerexportitem
            (tenant_id, export_id, client_id, campaign_id, status, phones, error, sent_at)
        SELECT %(tenant)s, e.id, c.id, e.campaign_id, 'enviado', '[]', '', e.created_at + interval '10 minutes'
        FROM bench_clients c JOIN e ON e.k = c.n %% %(exports)s
    """
    EVENTS_SQL = """
        INSERT INTO dialer_dialercallevent (tenant_id, event, call_id, telephony_id, call_mode, identifier,
            mailing_data, agent_id, agent_name, phone, campaign_id, status, qualification, duration_seconds,
            recording_url, client_id, raw, received_at)
        SELECT %(tenant)s,
            CASE WHEN g %% 5 < 3 THEN 'call-history-was-created' ELSE 'call-was-connected' END,
            'bench-' || g, '', 'dialer', '', '{}', (9000 + (g / 5) %% %(ops)s)::text, '', '',
            (1 + g %% %(campaigns)s)::text,
            CASE WHEN g %% 5 >= 3 THEN '' WHEN g %% 7 < 3 THEN '7' WHEN g %% 7 < 6 THEN '5' ELSE '9' END,
            '{}', CASE WHEN g %% 5 < 3 AND g %% 7 < 3 THEN g %% 600 END, '', c.id, '{}',
            now() - make_interval(secs => (g::bigint * 7919) %% (%(days)s * 86400)) AS received_at
        FROM generate_series(1, %(n)s) g JOIN bench_clients c ON c.n = 1 + (g::bigint * 104729) %% %(clients)s
        ORDER BY received_at
    """
    DISPOSITIONS_SQL = """
        INSERT INTO attendance_calldisposition (tenant_id, client_id, operator_id, type_id, notes, phone_id, call_id,
            callback_at, callback_done, qualification_status, qualification_error, qualification_attempts,
            submission_token, created_at)
        SELECT %(tenant)s, c.id, (%(users)s::int[])[1 + g %% %(ops)s], (%(types)s::bigint[])[1 + g %% 5], '', NULL, '',
            CASE WHEN g %% 5 = 3 THEN now() + interval '1 day' END, g %% 10 = 3, '', '', 0, gen_random_uuid(),
            now() - make_interval(secs => (g::bigint * 6151) %% (%(days)s * 86400)) AS created_at
        FROM generate_series(1, %(n)s) g JOIN bench_clients c ON c.n = 1 + (g::bigint * 15485863) %% %(clients)s
        ORDER BY created_at
    """
    AGREEMENTS_SQL = """
        INSERT INTO attendance_agreement (tenant_id, client_id, creditor_id, operator_id, status, principal, interest,
            fine, discount_percent, discount_amount, total, entry_amount, installments_count, first_due_date,
            approval_reasons, decision_note, call_id, submission_token, created_at, close_reason)
        SELECT %(tenant)s, c.id, c.creditor_id, (%(users)s::int[])[1 + g %% %(ops)s],
            (ARRAY['ativo', 'quitado', 'cancelado', 'rejeitado', 'quebrado'])[1 + g %% 5],
            500, 0, 0, 0, 0, 400 + g %% 300, 0, 4, current_date,
            CASE WHEN g %% 4 = 0 THEN '["desconto acima do máximo"]'::jsonb ELSE '[]'::jsonb END,
            '', '', gen_random_uuid(),
            now() - make_interval(secs => (g::bigint * 3571) %% (%(days)s * 86400)) AS created_at, ''
        FROM generate_series(1, %(n)s) g JOIN bench_clients c ON c.n = g
        ORDER BY created_at
    """

    def measure(self, tenant, runs, slowest):
        supervisor = get_user_model().objects.get(username=f"bench-sup-{tenant.pk}")
        http = HttpClient(HTTP_HOST="localhost")
        http.force_login(supervisor)
        thirty = {"periodo": "30d"}
        creditor = Creditor.objects.filter(tenant=tenant).order_by("pk").first()
        operator = Membership.objects.filter(tenant=tenant, role=Role.OPERATOR).order_by("pk").first()
        export = DialerExport.objects.filter(tenant=tenant).order_by("-created_at").first()
        cases = [
            ("hoje", "/admin/", {"periodo": "hoje"}),
            ("7 dias", "/admin/", {"periodo": "7d"}),
            ("30 dias", "/admin/", thirty),
            ("30 dias, credor", "/admin/", {**thirty, "credor": creditor.pk if creditor else ""}),
            ("30 dias, campanha 1", "/admin/", {**thirty, "campanha": "1"}),
            ("30 dias, operador", "/admin/", {**thirty, "operador": operator.user_id if operator else ""}),
            ("30 dias, envio", "/admin/", {**thirty, "envio": export.pk if export else ""}),
            ("CSV operadores, 30 dias", "/admin/painel/operadores.csv", thirty),
            ("painel ao vivo", "/admin/painel/ao-vivo/", {}),
        ]
        self.stdout.write(f"\nPainel (GET renderizado), {runs} execuções cada; carga {self.load()}:")
        measured = []
        for name, url, query in cases:
            roll_up_today(tenant.pk)  # as the worker does while a dashboard is open: the raw part is minutes
            timings = []
            for _ in range(runs + 1):
                started = time.perf_counter()
                response = http.get(url, query)
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise CommandError(f"{url} respondeu {response.status_code}")
            timings = sorted(timings[1:])  # the first warms the caches
            p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
            self.stdout.write(f"  {name:<24} mediana {statistics.median(timings):7.0f} ms   p95 {p95:7.0f} ms")
            measured.append({"label": name, "median_ms": statistics.median(timings), "p95_ms": p95})
            if slowest:
                self.slowest_queries(http, url, query, slowest)
        self.stdout.write(f"carga ao final {self.load()}")
        return measured

    def load(self) -> str:
        return " ".join(f"{n:.2f}" for n in os.getloadavg())

    def slowest_queries(self, http, url, query, count):
        with CaptureQueriesContext(connection) as captured:
            http.get(url, query)
        queries = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
        total = sum(float(q["time"]) for q in queries)
        self.stdout.write(f"    {len(queries)} consultas, {total * 1000:.0f} ms no banco; as mais lentas:")
        for q in queries[:count]:
            self.stdout.write(f"    {float(q['time']) * 1000:7.0f} ms  {q['sql'][:300]}")
