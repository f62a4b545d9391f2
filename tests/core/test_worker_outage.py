"""PostgreSQL restarted under a running export, import and removal queue: everything finishes, no human acts.

A private cluster (initdb in a temporary folder, on a free port) holds a copy of the test database, a real
`db_worker` process works against it and the sandbox 3C Plus, and the cluster is restarted under it with
`pg_ctl restart -m fast`, then stopped `-m immediate` (a crash) and started again. The shared PostgreSQL the
other tests use is never touched.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from common.processes import database_url, stop
from core import import_jobs
from core.models import Client, ClientPhone, Creditor, Debt, WalletImport, WorkerHeartbeat
from dialer import exports
from dialer.models import DialerExport, DialerRemoval
from dialer.tasks import remove_from_lists
from sandbox.fake import Sandbox
from sandbox.server import SandboxServer
from tenants.models import Tenant
from tests.conftest import open_at_any_hour, valid_cpf
from tests.core.test_import import GOOD, csv_bytes

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS, REMOVALS, IMPORT_ROWS = 60, 6, 200


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class Cluster:
    """A PostgreSQL of this test's own: initdb, start, restart and crash it at will."""

    def __init__(self, binaries: Path):
        self.bin = binaries
        self.root = Path(tempfile.mkdtemp(prefix="pg-privado-"))
        self.data = self.root / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        if os.geteuid() == 0:  # initdb refuses root: the cluster is the postgres user's
            shutil.chown(self.root, "postgres")
        self.as_owner(
            "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-N", "-E", "UTF8", "--locale=C.UTF-8"
        )

    def as_owner(self, program: str, *args):
        command = [str(self.bin / program), *map(str, args)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def pg_ctl(self, *args):
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40"
        self.as_owner("pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-t", "30", *args, "-o", options)

    def start(self):
        self.pg_ctl("start")

    def restart(self, mode: str):
        if mode == "immediate":  # a crash: no checkpoint, clients cut, recovery from the WAL at the next start
            self.pg_ctl("stop", "-m", "immediate")
            time.sleep(1)
            self.pg_ctl("start")
        else:
            self.pg_ctl("restart", "-m", mode)

    def destroy(self):
        with contextlib.suppress(Exception):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_database(settings):
    """The test's default connection moved to a private cluster holding a copy of the test database."""
    if connection.vendor != "postgresql":
        pytest.skip("reinicia um PostgreSQL: só com DATABASE_URL de PostgreSQL")
    binaries = postgres_bin()
    if binaries is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("sem os binários do PostgreSQL (initdb, pg_ctl) nesta máquina")
    cluster = Cluster(binaries)
    original = dict(connection.settings_dict)
    try:
        cluster.start()
        source = database_url(original)
        target = f"postgres://postgres@127.0.0.1:{cluster.port}"
        subprocess.run([binaries / "psql", f"{target}/postgres", "-qc", "CREATE DATABASE cobranca"], check=True)
        dump = subprocess.Popen([binaries / "pg_dump", "--no-owner", "--no-privileges", source], stdout=subprocess.PIPE)
        subprocess.run(
            [binaries / "psql", f"{target}/cobranca", "-q", "-v", "ON_ERROR_STOP=1"],
            stdin=dump.stdout,
            check=True,
            capture_output=True,
        )
        assert dump.wait() == 0
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=cluster.port, NAME="cobranca")
        yield cluster
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
        cluster.destroy()


def read(query):
    """A read that waits out the outage (the test's own connection is cut by each restart too)."""
    for _ in range(100):
        try:
            return query()
        except DatabaseError:
            close_old_connections()
            connection.close()
            time.sleep(0.2)
    raise AssertionError("o banco não voltou")


def make_wallet(tenant, count):
    creditor = Creditor.objects.create(tenant=tenant, name="Banco Horizonte")
    for n in range(count):
        debtor = Client.objects.create(
            tenant=tenant,
            creditor=creditor,
            name=f"Devedor {n}",
            cpf=valid_cpf(n + 10),
            external_id=f"D{n}",
            # A state, so open_at_any_hour's window reaches them: a client without one follows the national baseline
            # (08-20 on weekdays), which no tenant override widens; after 20:00 the export held every client.
            state="SP",
        )
        ClientPhone.objects.create(tenant=tenant, client=debtor, number=f"+55119{n + 10000000:08d}", kind="celular")
        Debt.objects.create(
            tenant=tenant, client=debtor, contract_code=f"C{n}", due_date=timezone.localdate(), original_amount=100
        )
    Client.objects.filter(tenant=tenant).refresh_summaries()


def test_postgresql_restarted_under_the_workers_loses_no_work(private_database, tmp_path):
    cluster = private_database
    sandbox = Sandbox()
    original = sandbox.handle

    def slow(method, path, *args):  # each batch and each removal takes a while: the restarts land mid-work
        if path.endswith(("mailing.json", "mailing/delete")):
            time.sleep(0.25)
        return original(method, path, *args)

    sandbox.handle = slow
    server = SandboxServer(sandbox).start()
    tenant = Tenant.objects.create(name="Queda", slug="queda")
    open_at_any_hour(tenant, threecplus_base_url=server.url, threecplus_api_key="sandbox-queda")
    make_wallet(tenant, CLIENTS)
    campaign = next(c["id"] for c in sandbox.account("queda").campaigns.values() if not c["paused"])
    export = exports.create_export(
        tenant, None, Client.objects.filter(tenant=tenant), campaign_id=campaign, batch_size=2
    )
    rows = [
        {**GOOD, "external_id": f"I{n}", "cpf": valid_cpf(n + 1000), "contrato": f"CI-{n}"} for n in range(IMPORT_ROWS)
    ]
    job = import_jobs.queue_import(tenant, None, SimpleUploadedFile("carteira.csv", csv_bytes(rows)), "csv")
    first = Client.objects.filter(tenant=tenant).order_by("pk").first()
    for n in range(REMOVALS):
        removal = DialerRemoval.objects.create(
            tenant=tenant,
            client=first,
            campaign_id=campaign,
            contacts=[{"phone": f"118{n + 10000000:08d}", "identifier": str(first.pk)}],  # none sent
        )
        remove_from_lists.enqueue(removal.pk)

    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{cluster.port}/cobranca",
        "LOG_LEVEL": "WARNING",
    }
    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.2", "--worker-id", "queda"]
    worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:

        def progress():
            return DialerExport.objects.values_list("status", "sent_count").get(pk=export.pk)

        deadline = time.monotonic() + 60  # the worker's start is slow on a busy machine
        while read(progress)[1] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read(progress)[0] == DialerExport.Status.RUNNING, read(progress)
        marks = {"export em andamento": time.monotonic() - started}
        cluster.restart("fast")
        marks["restart -m fast"] = time.monotonic() - started
        time.sleep(2)
        assert worker.poll() is None, "o worker saiu com o restart -m fast"
        cluster.restart("immediate")
        marks["crash -m immediate e volta"] = time.monotonic() - started
        time.sleep(2)
        assert worker.poll() is None, "o worker saiu com o crash (-m immediate)"

        def finished():
            return (
                DialerExport.objects.get(pk=export.pk).status == DialerExport.Status.DONE
                and WalletImport.objects.get(pk=job.pk).status == WalletImport.Status.DONE
                and not DialerRemoval.objects.exclude(status=DialerRemoval.Status.DONE).exists()
            )

        deadline = time.monotonic() + 60
        while not read(finished) and time.monotonic() < deadline:
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        marks["tudo concluído"] = elapsed
        log.flush()
        report = f"após {elapsed:.1f}s; log do worker:\n{log_path.read_text()[-4000:]}"
        export = read(lambda: DialerExport.objects.get(pk=export.pk))
        assert export.status == DialerExport.Status.DONE and export.sent_count == CLIENTS, report
        keys = [(c["identifier"], c["phone"]) for c in sandbox.account("queda").contacts[export.list_id]]
        assert len(keys) == len(set(keys)) == CLIENTS, report  # each contact exactly once
        imported = read(lambda: WalletImport.objects.get(pk=job.pk))
        assert (imported.status, imported.imported_rows) == (WalletImport.Status.DONE, IMPORT_ROWS), report
        assert read(lambda: set(DialerRemoval.objects.values_list("status", flat=True))) == {"removido"}, report
        assert worker.poll() is None, report
        beat = read(lambda: WorkerHeartbeat.objects.get(worker_id="queda"))
        assert (timezone.now() - beat.last_seen).total_seconds() < 30, report
        print("\n" + "; ".join(f"{name} em {at:.1f}s" for name, at in marks.items()))
    finally:
        stop(worker)
        log.close()
        server.stop()
