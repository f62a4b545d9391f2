"""Every call-center-scale figure in one run, each beside its baseline and its target (issue: call-center scale).

It makes a database of its own (the configured one's name + "_bench", dropped and made again unless --keep),
migrates it, seeds the wallet and runs each benchmark command there as a process of its own (so each one's memory
is its own), reading the figures each writes with --figures. What each prints is shown as it runs, indented; the
table comes at the end. Load generators are bounded in count and time and talk to 127.0.0.1 only.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from benchmarks import replica_pair
from common.processes import database_url

TENANT = "bench"
MARK = "manage.py bench"  # the comment on the databases this command made: the only ones it drops or reuses

FULL = {
    "clients": 1_000_000,
    "import_rows": 100_000,
    "export_clients": 100_000,
    "export_sizes": [10_000, 100_000],
    "operators": 10_000,  # the consoles waiting on one 2-core node
    "pollers": 200,
    "events": 300,
    "ingest_rate": 1050,
    "ingest_seconds": 10,
    "idle_seconds": 10,
    "repeat": 5,
    "latency_ms": 20,
    "history": {},
    # The dashboard's history for the benchmark's tenant (bench_dashboard's defaults) and the replica's own wallet
    # when no DATABASE_REPLICA_URL is given (a private primary and standby are seeded for it).
    "dashboard": {"--events": "5000000", "--dispositions": "2000000", "--agreements": "200000", "--runs": "5"},
    "replica_clients": 100_000,
}
# Small enough for the test suite: every step and every row of the table, no figure meaningful.
QUICK = {
    "clients": 3000,
    "import_rows": 500,
    "export_clients": 1000,
    "export_sizes": [300, 1000],
    "operators": 20,
    "pollers": 10,
    "events": 10,
    "ingest_rate": 50,
    "ingest_seconds": 1,
    "idle_seconds": 1,
    "repeat": 1,
    "latency_ms": 5,
    "history": {
        "--medium": "30",
        "--dispositions": "60",
        "--calls": "60",
        "--messages": "40",
        "--accesses": "40",
        "--payments": "30",
        "--agreements": "5",
        "--exports": "30",
        "--removals": "5",
        "--repeat": "1",
    },
    "dashboard": {
        "--events": "3000",
        "--dispositions": "1000",
        "--agreements": "100",
        "--runs": "1",
        "--operators": "5",
    },
    "replica_clients": 2000,
}


def fmt(value, digits=0) -> str:
    """A number as pt-BR writes it: 1.234.567,8."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}".replace(",", "_").replace(".", ",").replace("_", ".")


def ms(seconds) -> str:
    return "—" if seconds is None or seconds != seconds else f"{fmt(seconds * 1000)} ms"


class Command(BaseCommand):
    help = (
        "Roda todos os benchmarks de escala num banco próprio (nome do banco + _bench) e imprime a tabela: cada "
        "número ao lado da sua base e da meta. Leva cerca de 10 minutos com 1 milhão de clientes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, help="clientes no banco (padrão: 1.000.000)")
        parser.add_argument("--consoles", type=int, help="consoles aguardando no stream (padrão: 10.000)")
        parser.add_argument(
            "--tenants",
            type=int,
            help="empresas entre as quais os clientes se dividem: a do benchmark fica com a metade, as outras com "
            "partes iguais do resto (padrão: 6 a partir de 10.000.000 de clientes, uma só abaixo)",
        )
        parser.add_argument("--database", help="nome do banco do benchmark (padrão: o configurado + _bench)")
        parser.add_argument(
            "--keep", action="store_true", help="reusa o banco do benchmark se já existir (não mede a semeadura)"
        )
        parser.add_argument("--quick", action="store_true", help="tamanhos mínimos: confere o caminho, não a escala")
        parser.add_argument("--skip", action="append", default=[], choices=STEPS, help="pula esta etapa (repetível)")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("O benchmark precisa de PostgreSQL: defina DATABASE_URL.")
        sizes = dict(QUICK if options["quick"] else FULL)
        if options["clients"]:
            sizes["clients"] = options["clients"]
        if options["consoles"]:
            sizes["operators"] = options["consoles"]
        sizes["tenants"] = options["tenants"] or (6 if sizes["clients"] >= 10_000_000 else 1)
        name = options["database"] or f"{connection.settings_dict['NAME']}_bench"
        if name == connection.settings_dict["NAME"]:
            raise CommandError("O banco do benchmark não pode ser o configurado: ele é apagado e refeito.")
        with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
            self.workdir = Path(workdir)
            self.run_all(name, sizes, options)

    def run_all(self, name, sizes, options):
        self.name = name
        # Every step reads the primary; the replica step alone is given DATABASE_REPLICA_URL (step_replica).
        self.env = {**os.environ, "DATABASE_URL": self.database_url(name)}
        self.env.pop("DATABASE_REPLICA_URL", None)
        self.quick = options["quick"]
        started = time.perf_counter()
        self.say(
            f"Benchmark de escala no banco {name}; {os.cpu_count()} núcleos; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        self.figures = {"load_start": os.getloadavg()}
        fresh = self.prepare_database(name, options["keep"])
        for step in STEPS:
            if step in options["skip"]:
                continue
            if step == "seed" and not fresh:
                have = int(self.manage_capture(["shell", "-c", CLIENT_COUNT.format(tenant=TENANT)]) or 0)
                if have >= wallet_split(sizes["clients"], sizes["tenants"])[0][1]:
                    self.say(f"\n[seed] a carteira já existe ({fmt(have)} clientes): semeadura não medida (--keep)")
                    continue
                if sizes["tenants"] == 1:
                    self.step_seed({**sizes, "clients": sizes["clients"] - have})  # only what is missing
                    continue
            getattr(self, f"step_{step}")(sizes)
        self.figures["load_end"] = os.getloadavg()
        self.figures["minutes"] = (time.perf_counter() - started) / 60
        self.print_table(sizes)

    # The database ----------------------------------------------------------------------------------------
    def database_url(self, name: str) -> str:
        """DATABASE_URL as configured, naming the benchmark's database instead (host, socket, options kept)."""
        configured = os.environ.get("DATABASE_URL", "")
        if configured.startswith(("postgres://", "postgresql://")):
            parts = urlsplit(configured)
            return urlunsplit(parts._replace(path="/" + quote(name, safe="")))
        return database_url(connection.settings_dict, name)

    def prepare_database(self, name: str, keep: bool) -> bool:
        """True when the database was made now (empty, migrated). An existing database is dropped or reused only
        when this command made it (its comment says so): never one of the configured server's other databases."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name])
            row = cursor.fetchone()
        exists = row is not None
        if exists and row[0] != MARK:
            raise CommandError(
                f"O banco {name} já existe e não foi criado pelo bench: ele não será apagado. Use --database com "
                "outro nome ou apague-o você mesmo."
            )
        if exists and keep:
            self.say(f"Banco {name} reusado (--keep).")
            self.manage(["migrate", "-v0"])
            return False
        quoted = connection.ops.quote_name(name)
        with connection.cursor() as cursor:
            if exists:
                cursor.execute(f"DROP DATABASE {quoted} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {quoted}")
            cursor.execute(f"COMMENT ON DATABASE {quoted} IS %s", [MARK])
        started = time.perf_counter()
        self.manage(["migrate", "-v0"])
        self.say(f"Banco {name} criado e migrado em {time.perf_counter() - started:.1f}s.")
        return True

    # Running the benchmark commands ------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def manage(self, args: list[str], figures: str | None = None, env: dict | None = None) -> dict:
        """Run `manage.py args` on the benchmark database (or `env`'s), echoing its output; its --figures, if
        asked."""
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]
        path = None
        if figures:
            path = self.workdir / f"{figures}.json"
            path.unlink(missing_ok=True)
            command += ["--figures", str(path)]
        errors = self.workdir / "stderr.txt"
        with open(errors, "w") as stderr:
            process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env or self.env, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
            for line in process.stdout:
                self.say(f"    {line.rstrip()}")
            code = process.wait()
        if code != 0:
            self.stderr.write(errors.read_text()[-4000:])
            raise CommandError(f"`manage.py {' '.join(args)}` falhou (código {code}).")
        if path and not path.exists():
            raise CommandError(f"`manage.py {' '.join(args)}` terminou sem gravar os números (--figures).")
        return json.loads(path.read_text()) if path else {}

    def manage_capture(self, args: list[str]) -> str:
        """The last line `manage.py args` prints."""
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]
        done = subprocess.run(command, cwd=settings.BASE_DIR, env=self.env, capture_output=True, text=True)
        if done.returncode != 0 or not done.stdout.strip():
            self.stderr.write(done.stderr[-4000:])
            raise CommandError(f"`manage.py {' '.join(args)}` falhou (código {done.returncode}).")
        return done.stdout.splitlines()[-1].strip()

    # The steps -----------------------------------------------------------------------------------------------
    def step_seed(self, sizes):
        """The wallet: all in the benchmark's tenant, or (the 10-million profile) half there and the rest split
        among other tenants, so the big tenant's pages are measured beside its neighbours' rows."""
        for slug, clients in wallet_split(sizes["clients"], sizes["tenants"]):
            self.say(f"\n[seed] seed_wallet: {fmt(clients)} clientes na empresa {slug}")
            args = ["seed_wallet", "--tenant", slug, "--clients", str(clients), "--seed", "1", "--no-progress"]
            figures = self.manage(args, "seed")
            if slug == TENANT:
                self.figures["seed"] = figures

    def step_sizes(self, sizes):
        """Disk: the database, and each of the largest tables with its indexes (what docs/database.md quotes)."""
        self.say("\n[sizes] tamanho em disco do banco, das maiores tabelas e dos seus índices")
        self.figures["sizes"] = json.loads(self.manage_capture(["shell", "-c", SIZES]))
        for table in self.figures["sizes"]["tables"]:
            self.say(
                f"    {table['name']}: {fmt(table['rows'])} linhas, tabela {fmt(table['table_mb'])} MB, "
                f"índices {fmt(table['indexes_mb'])} MB"
            )
            for index in table["indexes"]:
                self.say(f"        {index['name']}: {fmt(index['mb'], 1)} MB")

    def step_import(self, sizes):
        rows = sizes["import_rows"]
        path = self.workdir / "carteira.csv"
        self.say(f"\n[import] import_wallet: {fmt(rows)} linhas novas na carteira de {TENANT}")
        self.manage(["make_wallet_csv", str(path), "--rows", str(rows), "--seed", str(int(time.time()))])
        self.figures["import"] = self.manage(
            ["import_wallet", str(path), "--tenant", TENANT, "--no-progress"], "import"
        )

    def step_carteira(self, sizes):
        self.say("\n[carteira] bench_carteira: cada filtro, ordem, busca e página, ao lado de um ModelAdmin padrão")
        args = ["bench_carteira", "--tenant", TENANT, "--repeat", str(sizes["repeat"]), "--baseline"]
        self.figures["carteira"] = self.manage(args, "carteira")

    def step_preview(self, sizes):
        self.say("\n[prévia] bench_preview: a confirmação do “Enviar para discador” com a carteira inteira")
        args = ["bench_preview", "--tenant", TENANT, "--runs", str(sizes["repeat"])]
        self.figures["preview"] = self.manage(args, "preview")

    def step_dashboard(self, sizes):
        """The dashboard of the benchmark's tenant, with a history of calls, dispositions and agreements added
        once (a rerun with --keep measures the history already there)."""
        self.say("\n[painel] bench_dashboard: o painel da empresa do benchmark, hoje, 7 e 30 dias, com filtros")
        args = [
            "bench_dashboard",
            "--tenant",
            TENANT,
            "--clients",
            str(wallet_split(sizes["clients"], sizes["tenants"])[0][1]),
        ]
        for key, value in sizes["dashboard"].items():
            args += [key, value]
        if self.manage_capture(["shell", "-c", HAS_HISTORY.format(tenant=TENANT)]) == "True":
            self.say("    histórico do painel já existe (--keep): só a medida")
            args.append("--skip-seed")
        self.figures["dashboard"] = self.manage(args, "dashboard")

    def step_replica(self, sizes):
        """The Carteira's and the dashboard's reads through a streaming replica. With DATABASE_REPLICA_URL (a standby
        of the configured server) on the benchmark's own database and wallet; without it, on a private primary and
        its standby started here (initdb + pg_basebackup -R in a temporary folder, as tests/test_replica.py does)
        with a wallet of their own: a standby of the shared server would copy every database on it."""
        configured = os.environ.get("DATABASE_REPLICA_URL")
        args = ["bench_replica", "--tenant", TENANT, "--repeat", str(sizes["repeat"])]
        if configured:
            self.say("\n[réplica] bench_replica: a réplica de DATABASE_REPLICA_URL, no banco do benchmark")
            standby = urlunsplit(urlsplit(configured)._replace(path="/" + quote(self.name, safe="")))
            figures = self.manage(args, "replica", env={**self.env, "DATABASE_REPLICA_URL": standby})
            self.figures["replica"] = {**figures, "where": "DATABASE_REPLICA_URL"}
            return
        bin_dir = replica_pair.binaries()
        if bin_dir is None:
            self.say("\n[réplica] sem DATABASE_REPLICA_URL e sem os binários do PostgreSQL (initdb): não medida")
            return
        clients = sizes["replica_clients"]
        self.say(f"\n[réplica] bench_replica: primário e réplica próprios (pg_basebackup -R), {fmt(clients)} clientes")
        pair = replica_pair.Pair(bin_dir, extra=("shared_buffers=256MB", "max_wal_size=4GB"))
        try:
            pair.start()
            with psycopg.connect(pair.url(pair.primary_port), autocommit=True) as primary:
                primary.execute("CREATE DATABASE bench_replica")
            env = {**self.env, "DATABASE_URL": pair.url(pair.primary_port, "bench_replica")}
            self.manage(["migrate", "-v0"], env=env)
            seed = ["seed_wallet", "--tenant", TENANT, "--clients", str(clients), "--seed", "1", "--no-progress"]
            self.manage(seed, env=env)
            env["DATABASE_REPLICA_URL"] = pair.url(pair.standby_port, "bench_replica")
            figures = self.manage([*args, "--primary-pid", str(pair.primary_pid())], "replica", env=env)
            self.figures["replica"] = {**figures, "where": "par próprio"}
        finally:
            pair.stop()

    def step_export(self, sizes):
        self.say("\n[export] bench_dialer_export: envio ao sandbox 3C Plus ao lado do script ingênuo; a confirmação")
        args = ["bench_dialer_export", "--clients", str(sizes["export_clients"]), "--tenant", "bench-discador"]
        args += ["--latency-ms", str(sizes["latency_ms"]), "--confirm-tenant", TENANT]
        args += ["--sizes", *map(str, sizes["export_sizes"])]
        self.figures["export"] = self.manage(args, "export")

    def step_screen_pop(self, sizes):
        self.say("\n[screen pop] bench_screen_pop: streams, o polling de base e a ingestão do webhook, no uvicorn")
        args = ["bench_screen_pop", "--operators", str(sizes["operators"]), "--pollers", str(sizes["pollers"])]
        args += ["--events", str(sizes["events"]), "--ingest-rate", str(sizes["ingest_rate"])]
        args += ["--ingest-seconds", str(sizes["ingest_seconds"]), "--idle-seconds", str(sizes["idle_seconds"])]
        args += ["--ingest-baseline"]
        self.figures["screen_pop"] = self.manage(args, "screen_pop")

    def step_two_nodes(self, sizes):
        self.say("\n[dois nós] bench_screen_pop --nodes 2: consoles no nó A, webhooks no nó B, um banco")
        consoles = min(sizes["operators"], 2000)
        args = ["bench_screen_pop", "--only", "streams", "--nodes", "2", "--consoles", str(consoles)]
        args += ["--events", str(sizes["events"]), "--idle-seconds", str(sizes["idle_seconds"]), "--workers", "1"]
        self.figures["two_nodes"] = self.manage(args, "two_nodes")

    def step_atendimento(self, sizes):
        self.say("\n[atendimento] bench_atendimento: a página com histórico curto, de uma página e longo")
        args = ["bench_atendimento"]
        for key, value in sizes["history"].items():
            args += [key, value]
        self.figures["atendimento"] = self.manage(args, "atendimento")

    # The table -----------------------------------------------------------------------------------------------
    def print_table(self, sizes):
        rows = [row for build in ROWS_BUILDERS for row in build(self.figures, sizes)]
        headers = ("o quê", "base (nesta execução)", "medido", "meta", "")
        widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(4)]
        line = "  ".join(f"{{:{w}}}" for w in widths) + "  {}"
        self.say("\n" + line.format(*headers))
        self.say("  ".join("-" * w for w in widths) + "  --")
        for row in rows:
            self.say(line.format(*row))
        start = " ".join(f"{x:.2f}" for x in self.figures["load_start"])
        end = " ".join(f"{x:.2f}" for x in self.figures["load_end"])
        failed = sum(row[4] == "✗" for row in rows)
        self.say(
            f"\n{len(rows) - failed} de {len(rows)} linhas na meta; load average no início {start}, no fim {end} "
            f"({os.cpu_count()} núcleos); {self.figures['minutes']:.1f} min"
            + ("; --quick: tamanhos mínimos, os números não valem como medida" if self.quick else "")
        )


SIZES = """
import json
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_database_size(current_database())")
    total = cursor.fetchone()[0]
    cursor.execute(
        "SELECT c.oid, c.relname, c.reltuples, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
        "ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 8"
    )
    tables = []
    for oid, name, rows, table, indexes in cursor.fetchall():
        cursor.execute(
            "SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s ORDER BY 2 DESC",
            [oid],
        )
        tables.append({
            "name": name, "rows": max(rows, 0), "table_mb": table / 2**20, "indexes_mb": indexes / 2**20,
            "indexes": [{"name": i, "mb": size / 2**20} for i, size in cursor.fetchall()],
        })
print(json.dumps({"database_mb": total / 2**20, "tables": tables}))
"""
HAS_HISTORY = (
    "from dialer.models import DialerCallEvent; print(DialerCallEvent.objects.filter(tenant__slug='{tenant}').exists())"
)
CLIENT_COUNT = "from core.models import Client; print(Client.objects.filter(tenant__slug='{tenant}').count())"
STEPS = [
    "seed",
    "import",
    "carteira",
    "preview",
    "export",
    "screen_pop",
    "two_nodes",
    "atendimento",
    "dashboard",
    "replica",
    "sizes",
]


def wallet_split(clients: int, tenants: int) -> list[tuple[str, int]]:
    """(tenant slug, clients) of each tenant: all in the benchmark's tenant, or half there and the rest in equal
    parts among the others (10,000,000 over 6 tenants: 5,000,000 and five of 1,000,000)."""
    if tenants <= 1:
        return [(TENANT, clients)]
    big = clients // 2
    rest, others = clients - big, tenants - 1
    return [(TENANT, big)] + [(f"{TENANT}-{n + 2}", rest // others + (n < rest % others)) for n in range(others)]


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def row_waiting(figures, sizes):
    pop = figures.get("screen_pop", {})
    streams, polling = pop.get("streams"), pop.get("polling")
    if not streams:
        return None
    base = "—"
    if polling:
        base = (
            f"{polling['consoles']} no polling de 1 s: CPU {fmt(polling['idle_cpu_pct'])}% de um núcleo, "
            f"p95 {ms(polling['p95'])}"
        )
    ok = (
        streams["open"] == streams["operators"] == sizes["operators"]
        and streams["missed"] == 0
        and streams["wrong"] == 0
        and streams["p95"] <= 1
        and streams["idle_cpu_pct"] <= 5
    )
    measured = (
        f"{fmt(streams['open'])} no stream: CPU {fmt(streams['idle_cpu_pct'], 1)}% de um núcleo, p95 "
        f"{ms(streams['p95'])}, {streams['missed']} perdidas, {streams['wrong']} no agente errado"
    )
    if "threads" in streams:
        added = streams["threads"] - streams["threads_before"]
        ok = ok and added <= streams["thread_budget"]
        measured += (
            f"; {added:+d} threads (teto fixo {streams['thread_budget']}, não por console), "
            f"{fmt(streams['mb_per_1000'])} MiB por 1.000 consoles"
        )
    target = f"{fmt(sizes['operators'])}, p95 ≤ 1 s, 0 perdidas, CPU ≤ 5%, sem thread por console"
    return ("consoles aguardando", base, measured, target, mark(ok))


def row_two_nodes(figures, sizes):
    streams = figures.get("two_nodes", {}).get("streams")
    if not streams:
        return None
    ok = streams["open"] == streams["operators"] and streams["missed"] == 0 and streams["wrong"] == 0
    ok = ok and streams["p95"] <= 1
    measured = (
        f"{fmt(streams['open'])} consoles no nó A, {streams['calls']} ligações entregues ao nó B: p95 "
        f"{ms(streams['p95'])}, {streams['missed']} perdidas, {streams['wrong']} no agente errado"
    )
    return ("dois nós (webhook no B → console no A)", "—", measured, "p95 ≤ 1 s, 0 perdidas, 0 erradas", mark(ok))


def row_ingest(figures, sizes):
    """The durable ingest (synchronous commit, group commit) beside last round's (asynchronous commit, no group)."""
    ingest = figures.get("screen_pop", {}).get("ingest")
    if not ingest:
        return None
    ok = ingest["rate"] >= 1000 and ingest["p99"] <= 0.1 and ingest["errors"] == 0
    measured = (
        f"{fmt(ingest['rate'])}/s de {fmt(ingest['offered_rate'])}/s oferecidas, p99 {ms(ingest['p99'])}, "
        f"{ingest['errors']} erros"
    )
    before = figures["screen_pop"].get("ingest_async")
    base = "—"
    if before:
        base = f"commit assíncrono: {fmt(before['rate'])}/s, p99 {ms(before['p99'])}, {before['errors']} erros"
    return ("ingestão durável (2xx = no disco)", base, measured, "≥ 1.000/s, p99 ≤ 100 ms", mark(ok))


def export_rows(figures, sizes):
    """End to end, "Enviar" to the last contact stored (the freeze of the selection included), against the naive
    script on the same clients: each loopback size, then the whole tenant at the bench's latency."""
    export = figures.get("export", {})
    rows = []
    for key, run in export.get("runs", {}).items():
        latency, _, size = key.partition(":")
        ratio = run["rate"] / run["naive"] if run.get("naive") else None
        base = f"script ingênuo {fmt(run['naive'])}/s" if run.get("naive") else "—"
        measured = (
            f"{fmt(run['rate'])} clientes/s = {fmt(ratio, 2)}× o ingênuo (congelamento {fmt(run['freeze_seconds'], 1)}"
            f" s de {fmt(run['seconds'], 1)} s); memória +{fmt(run['memory_mb'])} MB"
        )
        if latency == "0":
            what = f"envio de ponta a ponta, {fmt(int(size or run['sent']))} clientes, loopback"
            rows.append((what, base, measured, "≥ 1,5× o ingênuo", (ratio or 0) >= 1.5))
        else:
            what = f"envio de ponta a ponta, {latency} ms por requisição"
            rows.append((what, base, measured, "≥ 10×, memória plana", (ratio or 0) >= 10 and run["memory_mb"] <= 50))
    confirm = export.get("confirm")
    if confirm:
        measured = (
            f"resposta em {fmt(confirm['request_seconds'], 2)} s; o worker registra a seleção a "
            f"{fmt(confirm['freeze_rate'])} clientes/s, com progresso"
        )
        ok = confirm["request_seconds"] < 1
        rows.append((f"“Enviar” de {fmt(confirm['clients'])} clientes", "—", measured, "< 1 s", ok))
    return [(a, b, c, d, mark(ok)) for a, b, c, d, ok in rows]


def carteira_rows(figures, sizes):
    carteira = figures.get("carteira")
    if not carteira:
        return []
    served = [c for c in carteira["cases"] if c["status"] == 200]
    if not served:
        return [("Carteira", "—", "nenhum caso respondeu 200", "≤ 300 ms (mediana) em todos", mark(False))]
    worst = max(served, key=lambda c: c["median_ms"])
    medians = sorted(c["median_ms"] for c in served)
    plain = [c["plain_ms"] for c in carteira["cases"] if c.get("plain_ms") is not None]
    base = (
        f"ModelAdmin padrão: pior {fmt(max(plain))} ms, mediana {fmt(sorted(plain)[len(plain) // 2])} ms"
        if plain
        else "—"
    )
    measured = (
        f"{len(served)} casos: pior {fmt(worst['median_ms'])} ms ({worst['label']}), "
        f"mediana {fmt(medians[len(medians) // 2])} ms"
    )
    speed = (
        f"Carteira, {fmt(carteira['clients'])} clientes",
        base,
        measured,
        "≤ 300 ms (mediana) em todos",
        mark(worst["median_ms"] <= 300),
    )
    wrong = [c["label"] for c in served if not c.get("count_ok", True)]
    last_pages = [
        c for c in carteira["cases"] if c["label"].startswith("página última") or ": última pág" in c["label"]
    ]
    past_end = [c for c in carteira["cases"] if "além do fim" in c["label"]]
    labelled = sum(1 for c in served if not c.get("exact", True))
    pages_ok = all(c["status"] == 200 for c in last_pages) and all(c["status"] == 302 for c in past_end)
    measured = (
        f"{len(served) - len(wrong)}/{len(served)} contagens certas ({labelled} como “mais de N”); "
        f"{sum(c['status'] == 200 for c in last_pages)}/{len(last_pages)} últimas páginas servidas, "
        f"{sum(c['status'] == 302 for c in past_end)}/{len(past_end)} além do fim recusadas"
    )
    counts = (
        "Carteira, contagens",
        "—",
        measured,
        "exatas ou rotuladas; nenhuma página além do fim",
        mark(not wrong and pages_ok),
    )
    return [speed, counts, *carteira_against_stock(carteira, served)]


def carteira_against_stock(carteira, served):
    """Never slower than stock: each case's ratio (the stock changelist's median over the Carteira's, measured in
    turns), the queries per page, and the time to render a page of 50 rows."""
    rows = []
    ratios = [(c["plain_ms"] / c["median_ms"], c["label"]) for c in served if c.get("plain_ms")]
    if ratios:
        worst, label = min(ratios)
        faster = sum(ratio >= 1 for ratio, _label in ratios)
        middle = sorted(r for r, _label in ratios)[len(ratios) // 2]
        measured = f"{faster}/{len(ratios)} casos ≥ 1,0×; pior {fmt(worst, 2)}× ({label}), mediana {fmt(middle, 2)}×"
        rows.append(("Carteira / ModelAdmin padrão", "—", measured, "≥ 1,0× em todos", mark(worst >= 1)))
    queries = [c["queries"] for c in served if c.get("queries") is not None]
    renders = sorted(c["render_ms"] for c in served if c.get("render_ms") is not None)
    if queries and renders:
        measured = (
            f"até {max(queries)} consultas por página; renderização de 50 linhas: mediana "
            f"{ms(renders[len(renders) // 2] / 1000)}, pior {ms(renders[-1] / 1000)}"
        )
        ok = max(queries) <= 8 and renders[-1] <= 40
        rows.append(("Carteira, consultas e renderização", "—", measured, "≤ 8 consultas; < 40 ms", mark(ok)))
    return rows


def row_preview(figures, sizes):
    preview = figures.get("preview")
    if not preview:
        return None
    measured = (
        f"página em {fmt(preview['median_seconds'], 2)} s (mediana; pior {fmt(preview['worst_seconds'], 2)} s), "
        f"{preview['queries']} consultas; {fmt(preview['to_send'])} a enviar agora"
    )
    what = f"prévia do envio, {fmt(preview['selected'])} clientes selecionados"
    return (what, "—", measured, "≤ 3 s", mark(preview["median_seconds"] <= 3))


def row_dashboard(figures, sizes):
    cases = figures.get("dashboard", {}).get("cases")
    if not cases:
        return None
    by_label = {case["label"]: case for case in cases}
    thirty = [case for case in cases if case["label"].startswith("30 dias")]
    worst = max(thirty, key=lambda case: case["median_ms"])
    today = by_label.get("hoje")
    base = f"hoje: {fmt(today['median_ms'])} ms" if today else "—"
    measured = (
        f"30 dias: mediana {fmt(by_label['30 dias']['median_ms'])} ms (p95 {fmt(by_label['30 dias']['p95_ms'])} ms); "
        f"pior com filtro {fmt(worst['median_ms'])} ms ({worst['label']})"
    )
    what = f"painel, 30 dias, {fmt(figures['dashboard']['clients'])} clientes"
    return (what, base, measured, "≤ 500 ms (mediana) com e sem filtro", mark(worst["median_ms"] <= 500))


def row_replica(figures, sizes):
    """The same pages through the replica and, in turns, on the primary alone: the pages' speed, what the primary
    still read (rows, and its CPU-seconds when it is a private cluster), and the lag the guard saw."""
    report = figures.get("replica")
    if not report:
        return None
    cases = report["cases"]
    carteira = [case for case in cases if case["label"].startswith("Carteira")]
    worst = max(carteira, key=lambda case: case["replica_ms"])
    dashboard = next(case for case in cases if case["label"] == "painel, 30 dias")
    through, alone = report["modes"]["replica"], report["modes"]["primary"]
    drop = 1 - through["primary_rows"] / alone["primary_rows"] if alone["primary_rows"] else 0
    base = (
        f"só o primário: Carteira pior {fmt(max(c['primary_ms'] for c in carteira))} ms, painel 30 dias "
        f"{fmt(dashboard['primary_ms'])} ms; {fmt(alone['primary_rows'])} linhas lidas no primário"
    )
    cpu = ""
    if through["primary_cpu"] is not None and alone["primary_cpu"] is not None:
        cpu = f", CPU do primário {fmt(alone['primary_cpu'], 2)} → {fmt(through['primary_cpu'], 2)} CPU-s"
    lag = report["lag_max"]
    measured = (
        f"Carteira pior {fmt(worst['replica_ms'])} ms, painel 30 dias {fmt(dashboard['replica_ms'])} ms; "
        f"{through['queries']['replica']} consultas na réplica, {through['queries']['default']} no primário; "
        f"linhas lidas no primário −{fmt(drop * 100)}%{cpu}; atraso máximo visto "
        f"{'—' if lag is None else fmt(lag, 2) + ' s'}"
    )
    ok = (
        worst["replica_ms"] <= 300
        and drop >= 0.9
        and lag is not None
        and lag <= report["max_lag_setting"]
        and through["queries"]["replica"] > 0
    )
    what = f"leituras na réplica ({report['where']}, {fmt(report['clients'])} clientes)"
    target = f"Carteira ≤ 300 ms; primário lê ≥ 90% menos; atraso ≤ {fmt(report['max_lag_setting'])} s"
    return (what, base, measured, target, mark(ok))


def row_import(figures, sizes):
    report = figures.get("import")
    if not report:
        return None
    measured = f"{fmt(report['rate'])} linhas/s ({fmt(report['rows'])} em {fmt(report['seconds'], 1)} s)"
    return ("import_wallet", "—", measured, "≥ 5.000 linhas/s", mark(report["rate"] >= 5000 and not report["failed"]))


def row_seed(figures, sizes):
    seed = figures.get("seed")
    if not seed:
        return None
    measured = f"{fmt(seed['rate'])} clientes/s ({fmt(seed['clients'])} em {fmt(seed['seconds'], 1)} s)"
    return ("seed_wallet", "—", measured, "≥ 20.000 clientes/s", mark(seed["rate"] >= 20_000))


def row_atendimento(figures, sizes):
    page = figures.get("atendimento")
    if not page:
        return None
    results, histories = page["results"], page["histories"]
    short, full, long = results["curto"], results["médio"], results["longo"]
    first = next(iter(long))
    same_queries = all(short[p][0] == full[p][0] == long[p][0] for p in long)
    flat = all(long[p][1] <= 1.25 * full[p][1] + 8 for p in long)  # pages read: the database's work
    base = f"histórico de {fmt(histories['curto'])} itens: {short[first][0]} consultas, {fmt(short[first][1])} páginas"
    measured = (
        f"{fmt(histories['médio'])} → {fmt(histories['longo'])} itens: {full[first][0]} → {long[first][0]} consultas, "
        f"{fmt(full[first][1])} → {fmt(long[first][1])} páginas lidas, {fmt(full[first][2], 1)} → "
        f"{fmt(long[first][2], 1)} ms no banco"
    )
    return ("página de atendimento", base, measured, "plana no tamanho do histórico", mark(same_queries and flat))


def row_sizes(figures, sizes):
    report = figures.get("sizes")
    if not report:
        return None
    client = next((t for t in report["tables"] if t["name"] == "core_client"), None)
    measured = f"banco {fmt(report['database_mb'])} MB"
    if client:
        measured += (
            f"; core_client {fmt(client['rows'])} linhas: tabela {fmt(client['table_mb'])} MB, índices "
            f"{fmt(client['indexes_mb'])} MB"
        )
    return (
        f"disco, {fmt(sizes['clients'])} clientes em {sizes['tenants']} empresa(s)",
        "—",
        measured,
        "informativo",
        "·",
    )


def single(builder):
    return lambda figures, sizes: [row] if (row := builder(figures, sizes)) else []


ROWS_BUILDERS = [
    single(row_waiting),
    single(row_ingest),
    single(row_two_nodes),
    export_rows,
    carteira_rows,
    single(row_preview),
    single(row_dashboard),
    single(row_replica),
    single(row_import),
    single(row_seed),
    single(row_atendimento),
    single(row_sizes),
]
