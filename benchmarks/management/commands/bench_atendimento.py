"""The atendimento page's cost for clients with a short, a full-page and a long history: it must stay flat.

It lives in config because the history it seeds is the atendimento's and the dialer's (tabulações,
messages, agreements, payments, access log; call events, exports, removals).
"""

import datetime
import os
import statistics
import string
import time
import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone

from attendance.models import CallDisposition, ClientAccessLog, DispositionType
from common import bench_figures
from core import timeline
from core.models import Client
from core.seeding import seed_wallet
from tenants.models import Membership, Role, Tenant

# One row per item, a client and a time per row: `$rows` is (g, client_id, at), `$source` the generator.
ROWS = "(SELECT g, $client AS client_id, $at AS at FROM $source) r"

HISTORY = {
    "dispositions": (
        "tabulações",
        "SELECT count(*) FROM attendance_calldisposition WHERE $where",
        """INSERT INTO attendance_calldisposition (tenant_id, client_id, operator_id, type_id, notes, call_id,
               callback_done, qualification_status, qualification_error, qualification_attempts,
               submission_token, created_at)
           SELECT %(tenant)s, r.client_id, %(user)s, %(type)s, 'tentativa ' || r.g, '', false, '', '', 0,
               gen_random_uuid(), r.at
           FROM $rows""",
        "2 hours",
    ),
    "calls": (
        "ligações (2 eventos cada)",
        "SELECT count(*) FROM dialer_dialercallevent WHERE event = 'call-history-was-created' AND $where",
        """INSERT INTO dialer_dialercallevent (tenant_id, event, call_id, telephony_id, call_mode, identifier,
               mailing_data, agent_id, agent_name, phone, campaign_id, status, qualification, duration_seconds,
               recording_url, client_id, raw, received_at)
           SELECT %(tenant)s, e.event, c.call_id, '', 'predictive', c.client_id::text, '{}', '1', 'Agente',
               '5511987654321', '1', '7', '{}', 30 + c.g %% 300, '', c.client_id, '{}', c.at + e.delay
           FROM (SELECT r.*, gen_random_uuid()::text AS call_id FROM $rows) c
           CROSS JOIN (VALUES ('call-was-connected', interval '0'), ('call-history-was-created', interval '3 min'))
               AS e (event, delay)""",
        "2 hours",
    ),
    "messages": (
        "mensagens",
        "SELECT count(*) FROM attendance_message WHERE $where",
        """INSERT INTO attendance_message (tenant_id, client_id, direction, body, sent_at, status, phone)
           SELECT %(tenant)s, r.client_id, CASE WHEN r.g %% 2 = 0 THEN 'recebida' ELSE 'enviada' END,
               'mensagem ' || r.g, r.at, CASE WHEN r.g %% 2 = 0 THEN 'recebida' ELSE 'entregue' END, ''
           FROM $rows""",
        "5 hours",
    ),
    "accesses": (
        "acessos",
        "SELECT count(*) FROM attendance_clientaccesslog WHERE $where",
        """INSERT INTO attendance_clientaccesslog (tenant_id, client_id, user_id, accessed_at, call_id)
           SELECT %(tenant)s, r.client_id, %(user)s, r.at, '' FROM $rows""",
        "5 hours",
    ),
    "payments": (
        "pagamentos",
        "SELECT count(*) FROM attendance_payment WHERE $where",
        """INSERT INTO attendance_payment (tenant_id, client_id, paid_on, amount, credit_amount, method, source,
               external_id, notes, created_at)
           SELECT %(tenant)s, r.client_id, r.at::date, 100, 0, 'pix', 'manual', '', '', r.at FROM $rows""",
        "2 days",
    ),
    "agreements": (
        "acordos quebrados (4 parcelas cada)",
        "SELECT count(*) FROM attendance_agreement WHERE $where",
        """WITH a AS (
               INSERT INTO attendance_agreement (tenant_id, client_id, creditor_id, operator_id, status, principal,
                   interest, fine, fees, discount_percent, discount_amount, total, entry_amount, installments_count,
                   first_due_date, approval_reasons, decision_note, closed_at, close_reason, call_id,
                   submission_token, created_at)
               SELECT %(tenant)s, r.client_id, c.creditor_id, %(user)s, 'quebrado', 1000, 0, 0, 0, 0, 0, 1000, 100,
                   3, (r.at + interval '7 days')::date, '[]', '', r.at + interval '20 days', 'Parcela vencida', '',
                   gen_random_uuid(), r.at
               FROM $rows JOIN core_client c ON c.id = r.client_id
               RETURNING id, first_due_date)
           INSERT INTO attendance_agreementinstallment (agreement_id, number, due_date, amount, status, paid_amount,
               payment_method)
           SELECT a.id, n, a.first_due_date + n * 30, 300, 'em_aberto', 0, ''
           FROM a CROSS JOIN generate_series(0, 3) n""",
        "30 days",
    ),
    "exports": (
        "envios ao discador",
        "SELECT count(*) FROM dialer_dialerexportitem WHERE $where",
        # One export per item: a client is in an export once. ON CONFLICT: the background may draw a client twice.
        """WITH e AS (
               INSERT INTO dialer_dialerexport (tenant_id, campaign_id, campaign_name, list_name, batch_size,
                   selection, status, selected_count, to_send_count, skipped, phones_count, open_balance, sent_count,
                   failed_count, sent_phones, error_summary, created_at, requested_by_id)
               SELECT %(tenant)s, 1, 'Campanha', %(run)s || (r.g %% %(exports)s), 500, '{}', 'concluido', 1, 1,
                   '{}', 1, 0, 1, 0, 1, '', r.at, %(user)s
               FROM (SELECT DISTINCT ON (g %% %(exports)s) * FROM $rows) r
               RETURNING id, list_name, created_at)
           INSERT INTO dialer_dialerexportitem (tenant_id, export_id, client_id, campaign_id, status, phones, error,
               sent_at)
           SELECT %(tenant)s, e.id, r.client_id, 1, 'enviado', '["5511987654321"]', '', r.at + interval '1 min'
           FROM $rows JOIN e ON e.list_name = %(run)s || (r.g %% %(exports)s)
           ON CONFLICT DO NOTHING""",
        "2 days",
    ),
    "removals": (
        "remoções do discador",
        "SELECT count(*) FROM dialer_dialerremoval WHERE $where",
        """INSERT INTO dialer_dialerremoval (tenant_id, client_id, campaign_id, contacts, reason, status, attempts,
               error, created_at, done_at, requested_by_id)
           SELECT %(tenant)s, r.client_id, 1,
               jsonb_build_array(jsonb_build_object('phone', '5511987654321', 'identifier', r.client_id::text)),
               'acordo', 'removido', 1, '', r.at, r.at + interval '1 min', %(user)s
           FROM $rows""",
        "30 days",
    ),
}
TABLES = [
    "attendance_calldisposition",
    "dialer_dialercallevent",
    "attendance_message",
    "attendance_clientaccesslog",
    "attendance_payment",
    "attendance_agreement",
    "attendance_agreementinstallment",
    "dialer_dialerexport",
    "dialer_dialerexportitem",
    "dialer_dialerremoval",
]


PAGES = ["GET página", "GET histórico “mais”", "POST tabular (htmx)", "POST simular (htmx)"]


class QueryTimer:
    """Every query of a request with its time, as the database driver saw it."""

    def __init__(self):
        self.queries = []
        self.wall = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((sql, params, (time.perf_counter() - started) * 1000))


class Command(BaseCommand):
    help = (
        "Mede /atendimento/<id>/ (página, “mais” do histórico, tabular e simular por htmx) para clientes com "
        "histórico curto, médio e longo: consultas, páginas lidas, tempo no banco e tempo total, e a carga da "
        "máquina. Só PostgreSQL (o histórico é criado em SQL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="bench-atendimento")
        parser.add_argument("--clients", type=int, default=3, help="clientes da empresa (cria os que faltarem)")
        parser.add_argument("--small", type=int, default=3, help="itens de cada tipo no histórico curto")
        parser.add_argument("--medium", type=int, default=300, help="itens de cada tipo no histórico médio")
        parser.add_argument("--dispositions", type=int, default=5000)
        parser.add_argument("--calls", type=int, default=5000)
        parser.add_argument("--messages", type=int, default=2000)
        parser.add_argument("--accesses", type=int, default=2000)
        parser.add_argument("--payments", type=int, default=300)
        parser.add_argument("--agreements", type=int, default=20)
        parser.add_argument("--exports", type=int, default=300)
        parser.add_argument("--removals", type=int, default=30)
        parser.add_argument(
            "--background",
            type=int,
            default=0,
            help="linhas de cada tipo de histórico espalhadas pelos demais clientes (completa até esse número)",
        )
        parser.add_argument("--repeat", type=int, default=10)
        parser.add_argument("--explain", action="store_true", help="o plano de cada consulta do histórico longo")
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Use PostgreSQL (DATABASE_URL): o histórico é criado em SQL do PostgreSQL.")
        setup_test_environment()
        started_load = os.getloadavg()
        tenant, _ = Tenant.objects.get_or_create(slug=options["tenant"], defaults={"name": options["tenant"]})
        have = Client.objects.filter(tenant=tenant).count()
        if have < max(options["clients"], 3):
            seed_wallet(tenant, max(options["clients"], 3) - have, seed=1, workers=os.cpu_count() or 1)
            have = Client.objects.filter(tenant=tenant).count()
        small, large, medium = Client.objects.filter(tenant=tenant).order_by("id")[:3]
        user, _ = get_user_model().objects.get_or_create(username="bench-operador")
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.OPERATOR})
        params = {
            "tenant": tenant.pk,
            "user": user.pk,
            "type": DispositionType.objects.get(tenant=None, behavior="caixa_postal").pk,
            "mine": [small.pk, large.pk, medium.pk],
        }
        histories = [
            ("curto", small, dict.fromkeys(HISTORY, options["small"])),
            ("médio", medium, dict.fromkeys(HISTORY, options["medium"])),
            ("longo", large, {key: options[key] for key in HISTORY}),
        ]
        for _name, client, targets in histories:
            self.fill(client, targets, params)
        if options["background"]:
            self.fill(None, dict.fromkeys(HISTORY, options["background"]), params)
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"ANALYZE {table}")

        self.stdout.write(
            f"Empresa {tenant.slug}: {have:,} clientes ({connection.vendor}); carga no início {self.load(started_load)}"
        )
        for name, client, _targets in histories:
            counts = ", ".join(f"{self.count(key, client, params):,} {HISTORY[key][0]}" for key in HISTORY)
            self.stdout.write(f"  histórico {name} (cliente #{client.pk}): {counts}")
        if options["background"]:
            counts = ", ".join(f"{self.count(key, None, params):,} {HISTORY[key][0]}" for key in HISTORY)
            self.stdout.write(f"  demais clientes: {counts}")

        http = HttpClient()
        http.force_login(user)
        names = [name for name, _client, _targets in histories]
        results = self.measure(http, histories, params, options["repeat"], options["explain"])
        width = 8 * len(names)
        self.stdout.write(
            f"\n{'histórico:':24}{'consultas':^{width}}{'páginas lidas':^{width}}"
            f"{'banco ms (mediana)':^{width}}{'total ms (mediana)':^{width}}"
        )
        self.stdout.write(f"{'':24}{''.join(f'{n:>8}' for n in names) * 4}")
        for page in PAGES:
            row = [results[n][page] for n in names]
            self.stdout.write(
                f"{page:24}{''.join(f'{r[0]:>8}' for r in row)}{''.join(f'{r[1]:>8}' for r in row)}"
                f"{''.join(f'{r[2]:>8.1f}' for r in row)}{''.join(f'{r[3]:>8.1f}' for r in row)}"
            )
        self.stdout.write(
            "páginas lidas: blocos de 8 kB que as consultas de leitura tocaram (EXPLAIN BUFFERS), "
            "o trabalho do banco sem o ruído da carga"
        )
        self.stdout.write(f"\ncarga no fim {self.load(os.getloadavg())} ({os.cpu_count()} núcleos)")
        sizes = {name: sum(targets.values()) for name, _client, targets in histories}
        bench_figures.save(options, {"histories": sizes, "results": results})

    @staticmethod
    def load(averages) -> str:
        return "load average " + " ".join(f"{a:.2f}" for a in averages)

    @staticmethod
    def sql(template: str, client) -> str:
        if client is None:
            client_expr = "ids.a[1 + floor(random() * array_length(ids.a, 1))::int]"
            at = "now() - random() * interval '730 days'"
            source = (
                "generate_series(1, %(n)s) g CROSS JOIN (SELECT array_agg(id) AS a FROM core_client "
                "WHERE tenant_id = %(tenant)s AND id <> ALL(%(mine)s)) ids"
            )
            where = "tenant_id = %(tenant)s AND client_id <> ALL(%(mine)s)"
        else:
            client_expr, at = str(client.pk), "now() - (g + %(offset)s) * %(step)s::interval"
            source, where = "generate_series(1, %(n)s) g", f"client_id = {client.pk}"
        rows = string.Template(ROWS).substitute(client=client_expr, at=at, source=source)
        return string.Template(template).substitute(rows=rows, where=where, client=client_expr, at=at, source=source)

    def count(self, key, client, params) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self.sql(HISTORY[key][1], client), params)
            return cursor.fetchone()[0]

    def fill(self, client, targets: dict, params):
        """Tops each kind of history up to its target; the rows are spread back in time."""
        for key, target in targets.items():
            have = self.count(key, client, params)
            if have >= target:
                continue
            _label, _count, insert, step = HISTORY[key]
            n = target - have
            exports = n if client is not None else max(1, n // 10_000)
            started = time.perf_counter()
            run = f"Lista {uuid.uuid4().hex[:8]} "  # the exports of this insert, to attach their items
            values = {**params, "n": n, "offset": have, "step": step, "exports": exports, "run": run}
            with connection.cursor() as cursor:
                cursor.execute(self.sql(insert, client), values)
            who = f"cliente #{client.pk}" if client else "demais clientes"
            self.stdout.write(f"  + {n:,} {HISTORY[key][0]} ({who}) em {time.perf_counter() - started:.1f}s")

    def measure(self, http, histories, params, repeat: int, explain: bool) -> dict:
        """{history: {page: (queries, pages read, median database ms, median wall ms)}}.

        The histories take turns on every repetition, so a change of the machine's load weighs on all of them;
        what the measurement writes (tabulações, accesses) is deleted after.
        """
        requests = {name: self.requests(http, client, params) for name, client, _targets in histories}
        last_disposition = CallDisposition.objects.order_by("-id").values_list("id", flat=True).first() or 0
        last_access = ClientAccessLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
        timings = {name: {page: ([], []) for page in PAGES} for name in requests}
        try:
            for name in requests:  # warm up
                for request in requests[name].values():
                    request()
            for _ in range(repeat):
                for page in PAGES:
                    for name in requests:
                        timer = self.run(requests[name][page], page)
                        timings[name][page][0].append(sum(ms for _sql, _params, ms in timer.queries))
                        timings[name][page][1].append(timer.wall)
            results = {}
            for name in requests:
                results[name] = {}
                for page in PAGES:
                    timer = self.run(requests[name][page], page)
                    plans = [self.plan(sql, params) for sql, params, _ms in timer.queries]
                    pages_read = sum(read for read, _summary in plans)
                    database, wall = timings[name][page]
                    results[name][page] = (
                        len(timer.queries),
                        pages_read,
                        statistics.median(database),
                        statistics.median(wall),
                    )
                    if explain and name == histories[-1][0]:
                        self.stdout.write(f"\n{page}, histórico {name}: cada consulta")
                        for number, ((sql, _params, ms), (read, summary)) in enumerate(
                            zip(timer.queries, plans, strict=True), 1
                        ):
                            head = " ".join(sql.split())[:100]
                            self.stdout.write(f"  {number:2} {ms:6.2f} ms {read:5} páginas  {summary}\n       {head}")
        finally:
            for _name, client, _targets in histories:
                CallDisposition.objects.filter(client=client, id__gt=last_disposition).delete()
                ClientAccessLog.objects.filter(client=client, id__gt=last_access).delete()
        return results

    @staticmethod
    def requests(http, client, params) -> dict:
        base = reverse("attendance:client", args=[client.pk])
        before = timeline.page(client)[0][-1].at.isoformat()
        htmx = {"HTTP_HX_REQUEST": "true"}
        due = (timezone.localdate() + datetime.timedelta(days=7)).isoformat()
        negotiation = {"discount_percent": "10", "installments": "3", "entry": "0", "first_due_date": due}
        return {
            PAGES[0]: lambda: http.get(base),
            PAGES[1]: lambda: http.get(f"{base}historico/", {"before": before}),
            PAGES[2]: lambda: http.post(
                f"{base}tabular/", {"type": params["type"], "token": str(uuid.uuid4()), "notes": "medição"}, **htmx
            ),
            PAGES[3]: lambda: http.post(f"{base}simular/", {**negotiation, "token": str(uuid.uuid4())}, **htmx),
        }

    @staticmethod
    def run(request, page) -> QueryTimer:
        timer = QueryTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            response = request()
            timer.wall = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{page}: HTTP {response.status_code}")
        return timer

    @staticmethod
    def plan(sql, params) -> tuple[int, str]:
        """(pages the query touched, its plan's nodes); writes are not run again."""
        if not sql.lstrip().upper().startswith("SELECT"):
            return 0, "(escrita)"
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        top = (plan[0] if isinstance(plan, list) else plan)["Plan"]
        read = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
        return read, f"{top['Actual Rows']} linhas: {' > '.join(nodes(top))}"


def nodes(plan) -> list[str]:
    """The plan's nodes, depth first: the index each scan used, and the rows a sort or a filter went through."""
    label = plan["Node Type"]
    if plan.get("Index Name"):
        label += f" {plan['Index Name']}"
    elif plan.get("Relation Name"):
        label += f" {plan['Relation Name']}"
    if plan.get("Rows Removed by Filter"):
        label += f" (-{plan['Rows Removed by Filter']} filtradas)"
    if plan["Node Type"] in ("Sort", "Incremental Sort") and plan.get("Plans"):
        label += f" (de {plan['Plans'][0]['Actual Rows']})"
    return [label, *(node for child in plan.get("Plans", []) for node in nodes(child))]
