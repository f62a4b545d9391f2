"""The screen pop and the webhook under load, on uvicorn and PostgreSQL, from one load-generator process.

Starts uvicorn on loopback (DEBUG off, as in production) against DATABASE_URL and measures:
- streams: N operators wait on the call stream (server-sent events); the server's CPU with all of them waiting;
  webhook events for random agents and the time until each reaches its operator's stream (p50/p95), the calls
  missed (never arrived) and misdelivered (arrived on another agent's stream): both must be 0;
- polling: the fallback, P consoles asking every second; the server's CPU and the same webhook → console times;
- ingest: webhook deliveries offered at R per second for S seconds, open loop (each delivery's latency counts
  from when it was due, so a server falling behind shows it); achieved rate, p50/p99.
Everything it sends goes to 127.0.0.1 and stops by itself. Use a disposable database: it adds a tenant
"bench-pop" with users, clients, call events and webhook deliveries.
"""

import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from common import bench_figures
from common.processes import stop, wait_until_answering
from core.models import Client
from core.seeding import seed_wallet
from tenants.models import Membership, Role, Tenant

SLUG = "bench-pop"
AGENT_BASE = 700000
TICKS = os.sysconf("SC_CLK_TCK")


def pct(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(value):
    return f"{value * 1000:.0f} ms" if value == value else "—"


class Command(BaseCommand):
    help = "Mede o console aguardando ligação (SSE e polling) e a ingestão do webhook sob carga, no uvicorn."

    def add_arguments(self, parser):
        parser.add_argument(
            "--consoles", "--operators", dest="operators", type=int, default=2000, help="consoles no stream (SSE)"
        )
        parser.add_argument("--pollers", type=int, default=200, help="consoles no polling de 1 s (a base)")
        parser.add_argument("--events", type=int, default=300, help="ligações conectadas disparadas por fase")
        parser.add_argument("--event-rate", type=float, default=50, help="ligações por segundo nessas fases")
        parser.add_argument("--ingest-rate", type=float, default=1000, help="entregas do webhook oferecidas por s")
        parser.add_argument("--ingest-seconds", type=float, default=10)
        parser.add_argument("--connections", type=int, default=64, help="conexões keep-alive da ingestão")
        parser.add_argument("--idle-seconds", type=float, default=10, help="janela da medida de CPU ociosa")
        parser.add_argument(
            "--open-seconds", type=float, default=180, help="espera máxima até todos os streams abrirem"
        )
        parser.add_argument("--workers", type=int, default=2, help="processos do uvicorn")
        parser.add_argument(
            "--nodes",
            type=int,
            choices=[1, 2],
            default=1,
            help="2: dois servidores em portas diferentes; os consoles no nó A, os webhooks no nó B",
        )
        parser.add_argument("--port", type=int, default=0, help="porta do servidor (padrão: uma livre)")
        parser.add_argument(
            "--ingest-baseline",
            action="store_true",
            help="mede também a ingestão como na rodada anterior (commit assíncrono, sem grupo), ao lado da durável",
        )
        parser.add_argument(
            "--only", action="append", choices=["streams", "polling", "ingest"], help="só estas fases (repetível)"
        )
        parser.add_argument("--server-dir", default="", help="roda o servidor de outro checkout (comparar com a base)")
        parser.add_argument(
            "--gunicorn", action="store_true", help="serve com gunicorn (WSGI, --threads 4), como antes: a base"
        )
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Este benchmark precisa de PostgreSQL (DATABASE_URL).")
        if not options["port"]:
            options["port"] = free_port()
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets here and in the server
        phases = options["only"] or ["streams", "polling", "ingest"]
        operators = max(options["operators"] if "streams" in phases else 0, options["pollers"])
        started = time.perf_counter()
        tenant, agents, clients = self.prepare(operators)
        self.stdout.write(
            f"preparo: {operators} operadores, {len(clients)} clientes em {time.perf_counter() - started:.1f}s"
        )
        server = "gunicorn --threads 4" if options["gunicorn"] else "uvicorn (uvloop, httptools)"
        self.stdout.write(f"servidor: {server}, --workers {options['workers']}, DEBUG desligado")
        with contextlib.ExitStack() as nodes:
            server = nodes.enter_context(self.server(options))
            bench = Bench(self, server, options, tenant, agents, clients)
            if options["nodes"] == 2:
                node_b = {**options, "port": free_port()}
                bench.others.append(nodes.enter_context(self.server(node_b)))
                bench.webhook_base = f"http://127.0.0.1:{node_b['port']}"
                self.stdout.write(f"dois nós: consoles no :{options['port']}, webhooks no :{node_b['port']}")
            asyncio.run(bench.run(phases))
        bench.figures["nodes"] = options["nodes"]
        if "ingest" in phases and options["ingest_baseline"]:
            self.stdout.write("\nbase da rodada anterior: commit assíncrono (DIALER_WEBHOOK_ASYNC_COMMIT=1), sem grupo")
            async_commit = {"DIALER_WEBHOOK_ASYNC_COMMIT": "1", "DIALER_WEBHOOK_GROUP_COMMIT": "0"}
            with self.server(options, async_commit) as server:
                baseline = Bench(self, server, options, tenant, agents, clients)
                asyncio.run(baseline.ingest())
            bench.figures["ingest_async"] = baseline.figures["ingest"]
        bench_figures.save(options, bench.figures)
        self.stdout.write(
            f"load average ao fim: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} núcleos)"
        )

    # Data ----------------------------------------------------------------------------------------------
    def prepare(self, operators: int):
        tenant, _ = Tenant.objects.get_or_create(slug=SLUG, defaults={"name": "Benchmark do screen pop"})
        if Client.objects.filter(tenant=tenant).count() < 500:
            seed_wallet(tenant, 500, seed=7)
        User = get_user_model()
        have = set(User.objects.filter(username__startswith="bench-pop-").values_list("username", flat=True))
        password = make_password(None)
        User.objects.bulk_create(
            [
                User(username=f"bench-pop-{i:05}", password=password)
                for i in range(operators)
                if f"bench-pop-{i:05}" not in have
            ]
        )
        users = list(User.objects.filter(username__startswith="bench-pop-").order_by("username")[:operators])
        members = set(Membership.objects.filter(user__in=users).values_list("user_id", flat=True))
        Membership.objects.bulk_create(
            [
                Membership(user=u, tenant=tenant, role=Role.OPERATOR, threecplus_agent_id=str(AGENT_BASE + i))
                for i, u in enumerate(users)
                if u.pk not in members
            ]
        )
        # A fresh session per operator, as a login makes.
        Session.objects.filter(session_key__startswith="benchpop").delete()
        expires = timezone.now() + timezone.timedelta(hours=2)
        sessions, agents = [], []
        store = SessionStore()
        for i, user in enumerate(users):
            key = f"benchpop{i:05}{random.randbytes(8).hex()}"
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[-1],
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
            agents.append((str(AGENT_BASE + i), key))
        Session.objects.bulk_create(sessions)
        clients = list(Client.objects.filter(tenant=tenant).values_list("pk", flat=True)[:500])
        return tenant, agents, clients

    # The server ----------------------------------------------------------------------------------------
    @contextmanager
    def server(self, options, extra_env=None):
        env = {
            **os.environ,
            **(extra_env or {}),
            "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEY.split(",")),
            "ALLOWED_HOSTS": "127.0.0.1",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{options['port']}",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
        }
        directory = options["server_dir"] or str(settings.BASE_DIR)
        port, workers = str(options["port"]), str(options["workers"])
        if options["gunicorn"]:
            command = ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", workers]
            command += ["--threads", "4", "--log-level", "warning", "--backlog", "4096"]
        else:
            command = ["uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", port]
            command += ["--workers", workers, "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
            command += ["--log-level", "warning", "--backlog", "4096", "--timeout-graceful-shutdown", "5"]
        command = [sys.executable, "-m", *command]
        process = subprocess.Popen(command, cwd=directory, env=env)
        try:
            # Minutes, not the default minute: on a shared machine under load uvicorn alone can take that long.
            if not wait_until_answering(f"http://127.0.0.1:{options['port']}/healthz", process, timeout=300):
                raise CommandError("O uvicorn não subiu.")
            time.sleep(1)  # every worker up
            yield process
        finally:
            stop(process, timeout=15)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def processes(pid: int) -> list[int]:
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found.extend(processes(int(child)))
    return found


def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def memory_and_threads(pids) -> tuple[float, int]:
    rss, threads = 0, 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, threads


class Bench:
    def __init__(self, command, server, options, tenant, agents, clients):
        self.out = command.stdout
        self.server = server
        self.options = options
        self.base = f"http://127.0.0.1:{options['port']}"
        self.webhook_base = self.base  # another node's with --nodes 2: the call pops across nodes
        self.others = []  # the other nodes' server processes
        self.webhook = f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/"
        self.agents = agents
        self.clients = clients
        self.run_id = random.randbytes(4).hex()
        self.sequence = 0
        self.figures = {}

    def say(self, text):
        self.out.write(text)

    async def run(self, phases):
        if "streams" in phases:
            await self.streams()
        if "polling" in phases:
            await self.polling()
        if "ingest" in phases:
            await self.ingest()

    def body(self, agent: str, kind: str = "call-was-connected") -> tuple[str, bytes]:
        self.sequence += 1
        call_id = f"bench:{self.run_id}:{self.sequence}"
        client_id = random.choice(self.clients)
        if kind == "call-was-connected":
            body = {
                "call-was-connected": {
                    "call": {
                        "id": call_id,
                        "telephony_id": call_id,
                        "phone": "5511987654321",
                        "identifier": str(client_id),
                        "campaign_id": 7,
                        "call_mode": "dialer",
                        "status": 3,
                        "agent": agent,
                    },
                    "mailing": {
                        "_id": "m",
                        "identifier": str(client_id),
                        "phone": "5511987654321",
                        "list_id": 9,
                        "data": {"nome": "Cliente", "url_atendimento": "https://x/atendimento/1/"},
                    },
                    "agent": {"id": int(agent), "name": "Operador"},
                    "campaign": {"id": 7, "name": "Campanha"},
                }
            }
        else:
            body = {
                "call-history-was-created": {
                    "callHistory": {
                        "_id": call_id,
                        "telephony_id": call_id,
                        "number": "5511987654321",
                        "status": 7,
                        "qualification": {"id": 5, "name": "Negociar"},
                        "speaking_time": "83",
                        "mailing_data": {"identifier": str(client_id), "data": {}},
                        "agent": {"id": int(agent), "name": "Operador"},
                        "campaign": {"id": 7},
                    }
                }
            }
        return call_id, json.dumps(body).encode()

    def pids(self):
        return [pid for server in (self.server, *self.others) for pid in processes(server.pid)]

    async def idle_cpu(self, label, on_start=None):
        await asyncio.sleep(2)
        pids = self.pids()
        before, started = cpu_seconds(pids), time.monotonic()
        if on_start:
            on_start()
        await asyncio.sleep(self.options["idle_seconds"])
        used = cpu_seconds(pids) - before
        elapsed = time.monotonic() - started
        rss, threads = memory_and_threads(pids)
        self.sampled = {"rss_mb": rss, "threads": threads}
        self.say(
            f"  CPU do servidor com todos aguardando: {100 * used / elapsed:.1f}% de um núcleo "
            f"({used:.2f} s em {elapsed:.0f} s; {label}); memória {rss:.0f} MiB, {threads} threads"
        )
        return used, elapsed, 100 * used / elapsed

    async def fire(self, targets, fired, rate):
        """One call-was-connected per target agent, at `rate` per second; fired[call_id] = (agent, when)."""
        async with httpx.AsyncClient(base_url=self.webhook_base, timeout=30) as http:
            interval = 1 / rate
            started = time.perf_counter()
            pending = []
            for index, agent in enumerate(targets):
                delay = started + index * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                call_id, body = self.body(agent)
                fired[call_id] = (agent, time.perf_counter())
                pending.append(
                    asyncio.create_task(
                        http.post(self.webhook, content=body, headers={"Content-Type": "application/json"})
                    )
                )
            answers = await asyncio.gather(*pending, return_exceptions=True)
        failed = [a for a in answers if isinstance(a, Exception) or a.status_code != 201]
        if failed:
            self.say(f"  {len(failed)} entrega(s) do webhook falharam: {failed[:3]}")

    # Streams ---------------------------------------------------------------------------------------------
    async def streams(self):
        count = self.options["operators"]
        self.say(f"\nstreams (SSE): {count} operadores aguardando")
        ready = asyncio.Event()
        waiting = {"ready": 0, "failed": 0}
        received: dict[str, tuple[str, float]] = {}

        async def operator(http, agent, key, gate):
            async with gate:
                try:
                    response = await http.send(
                        http.build_request(
                            "GET",
                            reverse("attendance:call_stream"),
                            headers={"Cookie": f"sessionid={key}", "Accept": "text/event-stream"},
                        ),
                        stream=True,
                    )
                except httpx.HTTPError:
                    waiting["failed"] += 1
                    return
            try:
                if response.status_code != 200:
                    waiting["failed"] += 1
                    return
                event, data = "", ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif line == "" and event:
                        if event == "pronto":
                            waiting["ready"] += 1
                            if waiting["ready"] + waiting["failed"] == count:
                                ready.set()
                        elif event == "chamada":
                            call = json.loads(data)["chamada"]
                            received[call["id"]] = (agent, time.perf_counter())
                        event, data = "", ""
            finally:
                await response.aclose()

        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        timeout = httpx.Timeout(None, connect=60)
        await asyncio.sleep(1)
        rss_before, threads_before = memory_and_threads(self.pids())
        self.say(f"  servidor antes dos streams: memória {rss_before:.0f} MiB, {threads_before} threads")
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=timeout) as http:
            gate = asyncio.Semaphore(100)  # at most this many connecting at once
            opened, cpu_before = time.perf_counter(), cpu_seconds(self.pids())
            tasks = [asyncio.create_task(operator(http, agent, key, gate)) for agent, key in self.agents[:count]]
            try:
                await asyncio.wait_for(ready.wait(), self.options["open_seconds"])
            except TimeoutError:
                pass
            connecting = cpu_seconds(self.pids()) - cpu_before
            self.say(
                f"  {waiting['ready']} streams abertos ({waiting['failed']} recusados) em "
                f"{time.perf_counter() - opened:.1f}s; CPU do servidor "
                f"{1000 * connecting / max(1, count):.1f} ms por conexão"
            )
            _used, _elapsed, idle = await self.idle_cpu(f"{waiting['ready']} streams")
            opened = max(1, waiting["ready"])
            self.figures["streams"] = {
                "operators": count,
                "open": waiting["ready"],
                "refused": waiting["failed"],
                "idle_cpu_pct": idle,
                "threads_before": threads_before,
                "threads": self.sampled["threads"],
                "rss_before_mb": rss_before,
                "rss_mb": self.sampled["rss_mb"],
                "mb_per_1000": 1000 * (self.sampled["rss_mb"] - rss_before) / opened,
                # What a process may start whatever its consoles: its database threads, the streams' shared
                # threads, the pool's and the listener's; past that, threads would be growing with the consoles.
                "thread_budget": self.options["workers"]
                * (settings.ASYNC_DB_THREADS + settings.ATTENDANCE_STREAM_THREADS + 6),
            }
            self.say(
                f"  {self.sampled['threads'] - threads_before:+d} threads para {waiting['ready']} consoles; memória "
                f"{self.figures['streams']['mb_per_1000']:.0f} MiB por 1.000 consoles"
            )
            fired: dict[str, tuple[str, float]] = {}
            targets = random.sample([agent for agent, _ in self.agents[:count]], min(self.options["events"], count))
            before = cpu_seconds(self.pids())
            started = time.monotonic()
            await self.fire(targets, fired, self.options["event_rate"])
            deadline = time.monotonic() + 10
            while len(received) < len(fired) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            busy = cpu_seconds(self.pids()) - before
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.figures["streams"].update(self.report(fired, received, busy, time.monotonic() - started))

    def report(self, fired, received, busy, elapsed) -> dict:
        delays = []
        wrong = 0
        for call_id, (agent, sent) in fired.items():
            if call_id in received:
                got_agent, at = received[call_id]
                if got_agent != agent:
                    wrong += 1
                else:
                    delays.append(at - sent)
        missed = len(fired) - len(delays) - wrong
        self.say(
            f"  webhook → console: {len(fired)} ligações a {self.options['event_rate']:.0f}/s, "
            f"p50 {ms(pct(delays, 50))}, p95 {ms(pct(delays, 95))}, máx {ms(max(delays, default=float('nan')))}; "
            f"perdidas {missed}, no agente errado {wrong}; CPU do servidor {100 * busy / elapsed:.0f}% de um núcleo"
        )
        return {"calls": len(fired), "p50": pct(delays, 50), "p95": pct(delays, 95), "missed": missed, "wrong": wrong}

    # Polling (the fallback, the old way) --------------------------------------------------------------
    async def polling(self):
        count = self.options["pollers"]
        self.say(f"\npolling de 1 s (a base): {count} consoles")
        received: dict[str, tuple[str, float]] = {}
        answers = []
        stop = asyncio.Event()

        async def poller(http, agent, key):
            last = None
            headers = {"Cookie": f"sessionid={key}", "Accept": "application/json"}
            await asyncio.sleep(random.random())  # consoles are not in step
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    response = await http.get(
                        reverse("attendance:next_call") + ("" if last is None else f"?depois={last}"), headers=headers
                    )
                    data = response.json()
                except (httpx.HTTPError, ValueError):
                    await asyncio.sleep(1)
                    continue
                answers.append(time.perf_counter() - started)
                last = data["ultimo"]
                if data["chamada"]:
                    received[data["chamada"]["id"]] = (agent, time.perf_counter())
                await asyncio.sleep(1)

        limits = httpx.Limits(max_connections=None, max_keepalive_connections=count)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=30) as http:
            tasks = [asyncio.create_task(poller(http, agent, key)) for agent, key in self.agents[:count]]
            await asyncio.sleep(3)
            used, elapsed, idle = await self.idle_cpu(f"{count} consoles perguntando a cada segundo", answers.clear)
            self.figures["polling"] = {"consoles": count, "idle_cpu_pct": idle, "answer_p95": pct(answers, 95)}
            self.say(
                f"  {len(answers) / elapsed:.0f} perguntas/s ({1000 * used / max(1, len(answers)):.1f} ms de CPU do "
                f"servidor cada); resposta p50 {ms(pct(answers, 50))}, p95 {ms(pct(answers, 95))}"
            )
            fired: dict[str, tuple[str, float]] = {}
            events = min(self.options["events"], count)
            targets = random.sample([agent for agent, _ in self.agents[:count]], events)
            before, started = cpu_seconds(self.pids()), time.monotonic()
            await self.fire(targets, fired, self.options["event_rate"])
            deadline = time.monotonic() + 10
            while len(received) < len(fired) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            busy = cpu_seconds(self.pids()) - before
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.figures["polling"].update(self.report(fired, received, busy, time.monotonic() - started))

    # Ingestion ------------------------------------------------------------------------------------------
    async def ingest(self):
        rate, seconds = self.options["ingest_rate"], self.options["ingest_seconds"]
        total = int(rate * seconds)
        self.say(f"\ningestão do webhook: {total} entregas oferecidas a {rate:.0f}/s por {seconds:.0f} s")
        agents = [agent for agent, _ in self.agents]
        bodies = []
        while len(bodies) < total:  # a connected event and, for half the calls, its history a little later
            agent = random.choice(agents)
            bodies.append(self.body(agent)[1])
            if random.random() < 0.5:
                bodies.append(self.body(agent, "call-history-was-created")[1])
        bodies = bodies[:total]
        head = (
            f"POST {self.webhook} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: {}\r\n\r\n"
        )
        queue: asyncio.Queue = asyncio.Queue()
        results = []
        port = self.options["port"]

        async def connection_worker():
            reader = writer = None
            while True:
                item = await queue.get()
                if item is None:
                    break
                due, body = item
                for _attempt in range(2):
                    try:
                        if writer is None:
                            reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        writer.write(head.format(len(body)).encode() + body)
                        status = await read_response(reader)
                        results.append((due, time.perf_counter(), status))
                        break
                    except (OSError, asyncio.IncompleteReadError, ValueError):
                        if writer is not None:
                            writer.close()
                        reader = writer = None
                else:
                    results.append((due, time.perf_counter(), 0))
            if writer is not None:
                writer.close()

        workers = [asyncio.create_task(connection_worker()) for _ in range(self.options["connections"])]
        pids = self.pids()
        cpu_before, mine_before, database_before = cpu_seconds(pids), own_cpu(), await database_cpu()
        started = time.perf_counter()
        for index, body in enumerate(bodies):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0.002:
                await asyncio.sleep(delay)
            queue.put_nowait((due, body))
        for _ in workers:
            queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.gather(*workers), seconds + 60)
        except TimeoutError:
            self.say("  (tempo esgotado esperando as respostas)")
        finished = time.perf_counter()
        cpu = cpu_seconds(pids) - cpu_before
        mine, database = own_cpu() - mine_before, database_delta(database_before, await database_cpu())
        ok = [done - due for due, done, status in results if status in (200, 201)]
        errors = len(bodies) - len(ok)
        elapsed = max(done for _due, done, _status in results) - started if results else float("nan")
        self.figures["ingest"] = {
            "offered_rate": rate,
            "offered": len(bodies),
            "rate": len(ok) / elapsed,
            "p50": pct(ok, 50),
            "p99": pct(ok, 99),
            "errors": errors,
        }
        self.say(
            f"  atendidas {len(ok)} em {elapsed:.1f}s = {len(ok) / elapsed:.0f}/s; latência (desde a hora devida) "
            f"p50 {ms(pct(ok, 50))}, p99 {ms(pct(ok, 99))}, máx {ms(max(ok, default=float('nan')))}; erros {errors}; "
            f"CPU do servidor {cpu / (finished - started):.2f} núcleo(s), "
            f"{1000 * cpu / max(1, len(ok)):.2f} ms por entrega; PostgreSQL {database / (finished - started):.2f} "
            f"núcleo(s); gerador de carga {mine / (finished - started):.2f} núcleo(s)"
        )


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def database_cpu() -> dict[int, float]:
    """CPU time of each PostgreSQL backend connected to this database (the server's pool and its listeners)."""

    def read():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            return [pid for (pid,) in cursor.fetchall()]

    from asgiref.sync import sync_to_async

    return {pid: cpu_seconds([pid]) for pid in await sync_to_async(read)()}


def database_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples by the backends alive at the second (new ones count from zero)."""
    return sum(used - before.get(pid, 0) for pid, used in after.items())


async def read_response(reader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = head.decode("latin1").lower()
    if "transfer-encoding: chunked" in headers:
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        length = 0
        for line in headers.split("\r\n"):
            if line.startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        await reader.readexactly(length)
    return status
