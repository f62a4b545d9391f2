"""The Carteira's and the dashboard's GETs with a streaming replica configured (DATABASE_REPLICA_URL): each page's
median read through the replica and, in turns, with the replica refused (everything on the primary); what the
primary did meanwhile (rows it read, from pg_stat_database, and its CPU-seconds when its postmaster's pid is given);
the lag the guard saw. Run it with DATABASE_URL and DATABASE_REPLICA_URL set (`manage.py bench` does)."""

import os
import statistics
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext, override_settings

from common import bench_figures, replica
from core.models import Client
from tenants.models import Membership, Role, Tenant

CASES = [
    ("Carteira, 1ª página", "/admin/core/client/", {}),
    ("Carteira, maior saldo", "/admin/core/client/", {"o": "-4"}),
    ("Carteira, em aberto", "/admin/core/client/", {"status__exact": Client.Status.OPEN}),
    ("painel, 30 dias", "/admin/", {"periodo": "30d"}),
    ("painel, hoje", "/admin/", {"periodo": "hoje"}),
]
TICK = os.sysconf("SC_CLK_TCK")


def cluster_cpu_seconds(pid: int | None) -> float | None:
    """CPU-seconds of a PostgreSQL cluster: its postmaster, the backends it reaped, and those alive (/proc)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile: its time is now in the postmaster's cutime
        if int(child[1]) == pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / TICK


def rows_read(alias: str) -> int:
    """Rows the server of `alias` returned or fetched for this database so far (pg_stat_database)."""
    with connections[alias].cursor() as cursor:
        # This backend's counts reach pg_stat_database when it goes idle, at most once a second unless forced.
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT tup_returned + tup_fetched FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


class Command(BaseCommand):
    help = (
        "Mede a Carteira e o painel lidos na réplica (DATABASE_REPLICA_URL) ao lado das mesmas páginas no primário, "
        "em turnos: mediana por página, consultas em cada servidor, linhas lidas e CPU do primário, atraso visto."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument("--primary-pid", type=int, help="pid do postmaster do primário (CPU-segundos, /proc)")
        bench_figures.add_argument(parser)

    def handle(self, *args, **options):
        if not replica.configured():
            raise CommandError("Defina DATABASE_REPLICA_URL (a réplica do banco configurado).")
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"Empresa não encontrada: {options['tenant']}")
        user, _ = get_user_model().objects.get_or_create(
            username=f"bench-replica-{tenant.slug}", defaults={"is_staff": True}
        )
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.SUPERVISOR})
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        http = HttpClient()
        http.force_login(user)
        self.wait_for_replay()
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        clients = Client.objects.filter(tenant=tenant).count()
        self.stdout.write(
            f"Empresa {tenant.slug}: {clients:,} clientes; load average {load}; {options['repeat']} turnos"
        )
        modes = {"replica": self.mode(), "primary": self.mode()}
        lags = []
        for label, url, query in CASES:
            for mode in modes:
                self.get(http, url, query, mode)  # warms each server's cache for this page
            for _ in range(options["repeat"]):
                for mode, into in modes.items():
                    self.measured(http, url, query, mode, into, label, options["primary_pid"])
                    lags.append(replica.lag_guard.lag(replica.REPLICA))
        figures = {"clients": clients, "cases": [], "modes": {}}
        for mode, into in modes.items():
            figures["modes"][mode] = {k: into[k] for k in ("primary_rows", "primary_cpu", "queries")}
        for label, _url, _query in CASES:
            case = {"label": label}
            for mode, into in modes.items():
                case[f"{mode}_ms"] = statistics.median(into["timings"][label])
            figures["cases"].append(case)
            self.stdout.write(
                f"  {label:<24} réplica {case['replica_ms']:6.0f} ms   primário {case['primary_ms']:6.0f} ms (mediana)"
            )
        seen = [lag for lag in lags if lag is not None]
        figures["lag_max"] = max(seen) if seen else None
        figures["lag_unknown"] = len(lags) - len(seen)
        figures["max_lag_setting"] = settings.DATABASE_REPLICA_MAX_LAG
        for mode, into in figures["modes"].items():
            cpu = "—" if into["primary_cpu"] is None else f"{into['primary_cpu']:.2f} CPU-s"
            self.stdout.write(
                f"  {mode}: consultas no primário {into['queries']['default']}, "
                f"na réplica {into['queries']['replica']}; "
                f"o primário leu {into['primary_rows']:,} linhas, {cpu}"
            )
        self.stdout.write(f"  atraso máximo visto: {figures['lag_max']} s; load average {load} → "
                          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        bench_figures.save(options, figures)

    @staticmethod
    def mode() -> dict:
        return {"timings": {}, "primary_rows": 0, "primary_cpu": 0.0, "queries": {"default": 0, "replica": 0}}

    def wait_for_replay(self, timeout=120):
        """The standby has replayed what the primary wrote (the wallet, the user just made)."""
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (target,) = cursor.fetchone()
        deadline = time.monotonic() + timeout
        while True:
            with connections[replica.REPLICA].cursor() as cursor:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
                if cursor.fetchone()[0]:
                    return
            if time.monotonic() > deadline:
                raise CommandError("A réplica não alcançou o primário em 2 minutos.")
            time.sleep(0.2)

    def get(self, http, url, query, mode):
        # Refused: a negative limit makes every lag reading too high, so the router keeps the reads on the primary.
        limit = settings.DATABASE_REPLICA_MAX_LAG if mode == "replica" else -1
        with override_settings(DATABASE_REPLICA_MAX_LAG=limit):
            response = http.get(url, query)
        if response.status_code != 200:
            raise CommandError(f"{url} respondeu {response.status_code}")

    def measured(self, http, url, query, mode, into, label, pid):
        rows, cpu = rows_read("default"), cluster_cpu_seconds(pid)
        with (
            CaptureQueriesContext(connections["default"]) as on_primary,
            CaptureQueriesContext(connections[replica.REPLICA]) as on_replica,
        ):
            started = time.perf_counter()
            self.get(http, url, query, mode)
            elapsed = (time.perf_counter() - started) * 1000
        after = cluster_cpu_seconds(pid)
        into["primary_rows"] += rows_read("default") - rows
        into["primary_cpu"] = None if cpu is None or after is None else (into["primary_cpu"] or 0) + after - cpu
        into["queries"]["default"] += len(on_primary)
        into["queries"]["replica"] += len(on_replica)
        into["timings"].setdefault(label, []).append(elapsed)
