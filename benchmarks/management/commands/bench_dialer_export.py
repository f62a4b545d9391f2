import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from common import bench_figures
from common.reversing import url_with_id
from core.models import Client, ClientPhone
from core.seeding import seed_wallet
from dialer import exports, tenant_api
from dialer.client import ThreeCPlusAPI, dial_number
from dialer.eligibility import HOURS_KEY, UF_TIME_ZONES
from dialer.models import CallingWindowOverride, DialerExport, DialerExportItem
from tenants.models import Tenant
from tenants.settings_schema import clean_settings

SANDBOX_TOKEN = "sandbox-bench"
NAIVE_BATCH = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return "carga " + " ".join(f"{n:.2f}" for n in os.getloadavg())


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (or thread group) on this machine has used so far: what the sending costs
    whatever else the machine runs (unlike wall time). Linux's /proc; 0 where it is absent."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of the three parties of a send: this process (the export or the naive script, every thread), the
    sandbox process and this connection's PostgreSQL backend."""

    def __init__(self, sandbox_pid: int):
        self.pids = {"python": os.getpid(), "sandbox": sandbox_pid}
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pids["postgresql"] = cursor.fetchone()[0]
        self.started = self._now()

    def _now(self) -> dict:
        return {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}

    def spent(self) -> dict:
        now = self._now()
        return {name: now[name] - self.started[name] for name in now}

    @staticmethod
    def text(spent: dict, clients: int) -> str:
        total = sum(spent.values())
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in spent.items())
        return f"CPU {total:.1f}s ({parts}) = {clients / max(total, 1e-9):,.0f} clientes por CPU-segundo"


@contextmanager
def sandbox_process(latency_ms: int):
    """The sandbox 3C Plus as its own process on loopback, counting contacts without keeping them."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.server",
            "--port",
            str(port),
            "--count-only",
            "--latency-ms",
            str(latency_ms),
        ],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        process.stdout.readline()  # "Sandbox 3C Plus em …": it is listening
        yield f"http://127.0.0.1:{port}/api/v1", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def settle():
    """What autovacuum does between exports in production (and may not do on a test server): statistics for the
    wallet just seeded, and the dead rows of the previous run's items cleared, so each run starts alike."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "VACUUM (ANALYZE) core_client, core_clientphone, dialer_dialerexportitem, dialer_dialerexport"
            )


def point_at(tenant, base_url):
    """The tenant sends to this sandbox, at any hour: the bench measures the sending, not the calling window. Its
    own hours and every UF's legal window are widened (as tests.conftest.open_at_any_hour does): without the second,
    a run after 18:00 in Brasília held the clients of the states whose law had closed, and after 20:00 sent none."""
    always = "00:00-24:00"
    hours = {"weekdays": always, "saturday": always, "sunday": always, "holidays": always}
    tenant.settings = clean_settings(
        {"threecplus_base_url": base_url, "threecplus_api_key": SANDBOX_TOKEN, HOURS_KEY: hours}
    )
    tenant.save()
    for uf in [*UF_TIME_ZONES, "NORONHA"]:
        CallingWindowOverride.objects.update_or_create(
            tenant=tenant, state=uf, defaults={**hours, "reason": "Benchmark: discar a qualquer hora."}
        )


def naive_send(tenant, base_url, sandbox_pid, campaign_id, up_to=None) -> tuple[int, float, dict]:
    """What a short script would do: read every client (up to id `up_to`) with its active phones in one pass and
    POST 50 contacts per request, each on a new TCP connection (nothing kept alive); no eligibility, no bookkeeping.
    Returns (clients, seconds, CPU seconds spent by each party)."""
    with ThreeCPlusAPI(base_url, SANDBOX_TOKEN) as api:
        list_id = api.create_list(campaign_id, "bench ingênuo")["id"]
    url = f"{base_url}/campaigns/{campaign_id}/lists/{list_id}/mailing.json"
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    client_url = url_with_id("attendance:client", base=settings.PUBLIC_BASE_URL)
    phones = ClientPhone.objects.filter(client__tenant=tenant, active=True)
    if up_to is not None:
        phones = phones.filter(client_id__lte=up_to)
    rows = phones.order_by("client_id", "priority", "id").values_list(
        "client_id",
        "number",
        "client__name",
        "client__cpf",
        "client__open_balance",
        "client__creditor__name",
        "client__external_id",
    )
    meter = CpuMeter(sandbox_pid)
    started = time.perf_counter()
    clients = set()
    batch = []

    fresh = httpx.Client(headers=headers, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))

    def post():
        response = fresh.post(url, json=batch)
        if response.status_code != 204:
            raise CommandError(f"o sandbox respondeu {response.status_code} ao script ingênuo")

    for client_id, number, name, cpf, balance, creditor, external_id in rows.iterator(chunk_size=5000):
        clients.add(client_id)
        batch.append(
            {
                "phone": dial_number(number),
                "identifier": str(client_id),
                "data": {
                    "nome": name,
                    "cpf": cpf,
                    "valor_em_aberto": f"{balance:.2f}",
                    "credor": creditor,
                    "external_id": external_id,
                    "url_atendimento": client_url(client_id),
                },
            }
        )
        if len(batch) == NAIVE_BATCH:
            post()
            batch = []
    if batch:
        post()
    elapsed = time.perf_counter() - started
    fresh.close()
    return len(clients), elapsed, meter.spent()


class Command(BaseCommand):
    help = (
        "Mede o envio ao discador de ponta a ponta: N clientes do banco para o sandbox 3C Plus rodando como "
        "processo próprio em 127.0.0.1 (modo que só conta os contatos), sem e com latência por requisição, ao "
        f"lado de um script ingênuo ({NAIVE_BATCH} contatos por requisição, cada uma numa conexão nova); e o tempo "
        "da confirmação de “Enviar para discador” para a carteira inteira de outra empresa (--confirm-tenant)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=100_000)
        parser.add_argument("--tenant", default="bench-discador")
        parser.add_argument("--batch-size", type=int, help="contatos por requisição (padrão: DIALER_BATCH_SIZE)")
        parser.add_argument("--latency-ms", type=int, default=20, help="latência por requisição da 2ª medida")
        parser.add_argument(
            "--sizes",
            type=int,
            nargs="+",
            default=[10_000, 100_000],
            help="seleções medidas no loopback (os N primeiros clientes da empresa; padrão: 10.000 e 100.000)",
        )
        parser.add_argument("--no-naive", action="store_true", help="não mede o script ingênuo")
        parser.add_argument("--only-confirm", action="store_true", help="só mede a confirmação (--confirm-tenant)")
        parser.add_argument(
            "--confirm-tenant",
            default="bench-confirm",
            help="empresa (já populada com seed_wallet) cuja carteira inteira é confirmada; vazio: não mede",
        )
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        tenant, _ = Tenant.objects.get_or_create(slug=options["tenant"], defaults={"name": options["tenant"]})
        missing = options["clients"] - Client.objects.filter(tenant=tenant).count()
        if missing > 0:
            self.stdout.write(f"Criando {missing} clientes…")
            seed_wallet(tenant, missing)
        if missing < 0:
            raise CommandError(f"A empresa {tenant.slug} tem mais de {options['clients']} clientes: use outra.")
        phones = ClientPhone.objects.filter(client__tenant=tenant, active=True).count()
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self.stdout.write(
            f"{options['clients']:,} clientes, {phones:,} telefones ativos ({engine}); pico de memória no início "
            f"{peak_rss_mb():.0f} MB; {load()}"
        )
        self.figures = {"clients": options["clients"], "runs": {}}
        self.user = self._back_office_user(tenant)
        ids = Client.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)
        for latency in () if options["only_confirm"] else (0, options["latency_ms"]):
            title = "loopback" if not latency else f"{latency} ms por requisição"
            # On loopback every size of --sizes (a selection of the N first clients of the tenant: the freeze reads
            # the selection, not the tenant); with latency the whole tenant.
            sizes = sorted({min(n, options["clients"]) for n in options["sizes"]}) if not latency else []
            sizes = sizes or [options["clients"]]
            with sandbox_process(latency) as (base_url, sandbox_pid):
                point_at(tenant, base_url)
                campaigns = [c["id"] for c in tenant_api.campaigns(tenant) if not c["paused"]]
                for size in sizes:
                    up_to = ids[size - 1] if size < options["clients"] else None
                    label = f"{title}, {size:,} de {options['clients']:,} clientes"
                    ours = self._ours(tenant, up_to, campaigns[0], options["batch_size"], label, sandbox_pid)
                    run = self.figures["runs"][f"{latency}:{size}"] = {**self.last_run, "naive": None}
                    if options["no_naive"]:
                        continue
                    settle()
                    clients, elapsed, spent = naive_send(tenant, base_url, sandbox_pid, campaigns[1], up_to)
                    naive = clients / elapsed
                    naive_cpu = sum(spent.values())
                    self.stdout.write(
                        f"[{label}] script ingênuo: {clients:,} clientes em {elapsed:.1f}s = {naive:,.0f} "
                        f"clientes/s; {CpuMeter.text(spent, clients)}; {load()}"
                    )
                    per_cpu = (run["sent"] / max(run["cpu_seconds"], 1e-9)) / (clients / max(naive_cpu, 1e-9))
                    self.stdout.write(
                        f"[{label}] de ponta a ponta / script ingênuo = {ours / naive:.2f}× "
                        f"(por CPU-segundo: {per_cpu:.2f}×)"
                    )
                    run["naive"] = naive
                    run["naive_cpu_seconds"] = naive_cpu
        if options["confirm_tenant"]:
            self._confirm(options["confirm_tenant"])
        bench_figures.save(options, self.figures)

    def _back_office_user(self, tenant):
        """The supervisor who presses "Enviar": the worker replays the selection as this user sees it."""
        from django.contrib.auth import get_user_model

        from tenants.models import Membership, Role

        user, _ = get_user_model().objects.get_or_create(username=f"bench-{tenant.slug}", defaults={"is_staff": True})
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.SUPERVISOR})
        return user

    def _ours(self, tenant, up_to, campaign_id, batch_size, title, sandbox_pid) -> float:
        """End to end, as "Enviar" does it: the export queued with the Carteira's filter (the clients up to `up_to`),
        then the worker's run: the freeze of the selection, the list, the batches, the last contact stored."""
        settle()
        baseline = peak_rss_mb()
        meter = CpuMeter(sandbox_pid)
        started = time.perf_counter()
        export = exports.queue_export(
            tenant,
            self.user,
            selection={"filtros": f"id__lte={up_to}" if up_to else ""},
            campaign_id=campaign_id,
            list_name=f"bench {title}",
        )
        if batch_size:
            DialerExport.objects.filter(pk=export.pk).update(batch_size=batch_size)
        export = exports.prepare_export(export.pk)
        frozen = time.perf_counter() - started
        export = exports.run_export(export.pk)
        elapsed = time.perf_counter() - started
        spent = meter.spent()
        assert export.status == DialerExport.Status.DONE, export.error_summary
        if not export.sent_count or export.sent_count != export.to_send_count:
            raise CommandError(
                f"o envio mandou {export.sent_count} de {export.to_send_count} clientes aceitos: algo os segurou"
            )
        rate = export.sent_count / elapsed
        self.stdout.write(
            f"[{title}] de ponta a ponta (lote {export.batch_size}): {export.sent_count:,} clientes / "
            f"{export.sent_phones:,} telefones em {elapsed:.1f}s = {rate:,.0f} clientes/s, congelamento da seleção "
            f"incluído ({frozen:.1f}s, {export.selected_count / max(frozen, 1e-9):,.0f} clientes/s); pico de memória "
            f"{peak_rss_mb():.0f} MB (+{peak_rss_mb() - baseline:.0f} MB); {CpuMeter.text(spent, export.sent_count)}; "
            f"{load()}"
        )
        DialerExportItem.objects.filter(export=export)._raw_delete(DialerExportItem.objects.db)
        DialerExport.objects.filter(pk=export.pk).delete()  # the next run must not skip "recently sent"
        self.last_run = {
            "rate": rate,
            "sent": export.sent_count,
            "selected": export.selected_count,
            "freeze_seconds": frozen,
            "seconds": elapsed,
            "memory_mb": peak_rss_mb() - baseline,
            "cpu_seconds": sum(spent.values()),
        }
        return rate

    def _confirm(self, slug):
        """The confirmation POST of "Enviar para discador" with "select all" over the whole wallet, as the browser
        sends it, timed from request to answer; then the worker's part, when it is separate."""
        from django.contrib.auth import get_user_model
        from django.test import Client as HttpClient

        from tenants.models import Membership, Role

        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            self.stdout.write(
                f"Confirmação não medida: crie a empresa com `manage.py seed_wallet --tenant {slug} --clients 1100000`."
            )
            return
        settle()
        wallet = Client.objects.filter(tenant=tenant)
        count = wallet.count()
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{slug}", defaults={"is_staff": True})
        Membership.objects.get_or_create(user=user, defaults={"tenant": tenant, "role": Role.ADMIN})
        browser = HttpClient(SERVER_NAME="127.0.0.1")
        browser.force_login(user)
        with sandbox_process(0) as (base_url, _sandbox_pid):
            point_at(tenant, base_url)
            campaign = next(c["id"] for c in tenant_api.campaigns(tenant) if not c["paused"])
            form = {
                "action": "send_to_dialer",
                "select_across": "1",
                "index": "0",
                "_selected_action": [wallet.values_list("pk", flat=True).first()],
                "confirm": "1",
                "campaign": campaign,
                "list_name": "bench confirmação",
                "token": str(uuid.uuid4()),
            }
            before = set(DialerExport.objects.filter(tenant=tenant).values_list("pk", flat=True))
            started = time.perf_counter()
            response = browser.post("/admin/core/client/", form)
            elapsed = time.perf_counter() - started
            if response.status_code != 302:
                raise CommandError(f"a confirmação respondeu {response.status_code}")
            export = DialerExport.objects.filter(tenant=tenant).exclude(pk__in=before).get()
            self.figures["confirm"] = {"clients": count, "request_seconds": elapsed, "freeze_rate": None}
            self.stdout.write(
                f"[confirmação] “Enviar para discador” de {count:,} clientes: a requisição respondeu em "
                f"{elapsed:.2f}s (situação: {export.get_status_display()}); {load()}"
            )
            if not export.selection_frozen:
                started = time.perf_counter()
                export = exports.prepare_export(export.pk)
                elapsed = time.perf_counter() - started
                self.stdout.write(
                    f"[confirmação] o worker congelou a seleção ({export.selected_count:,} clientes, "
                    f"{export.to_send_count:,} a enviar) em {elapsed:.1f}s = {export.selected_count / elapsed:,.0f} "
                    f"clientes/s; pico de memória {peak_rss_mb():.0f} MB; {load()}"
                )
                self.figures["confirm"]["freeze_rate"] = export.selected_count / elapsed
            DialerExportItem.objects.filter(export=export)._raw_delete(DialerExportItem.objects.db)
            export.delete()
