import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test import Client as HttpClient
from django.test.utils import setup_test_environment
from django.utils import timezone

from common.formats import SniffingCSV
from core.admin import ClientAdmin
from core.import_jobs import inline_max_rows
from core.models import Client, Creditor, WalletImport, WorkerHeartbeat
from core.seeding import DEMO_CREDITORS
from tenants.models import Membership, Role, Tenant

WORKER_ID = "bench-importacao"


class Command(BaseCommand):
    help = (
        "Mede a importação da Carteira pelo admin de ponta a ponta, como o navegador a faz: envio do arquivo, "
        "worker (db_worker) e a página de progresso até “Importação concluída” (ou prévia + confirmação, "
        "para arquivos pequenos)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=5000)
        parser.add_argument("--tenant", default="bench-importacao")

    def handle(self, *args, **options):
        tenant, _ = Tenant.objects.get_or_create(slug=options["tenant"], defaults={"name": "Bench importação"})
        for name, *_rules in DEMO_CREDITORS:
            Creditor.objects.get_or_create(tenant=tenant, name=name)
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{tenant.slug}", defaults={"is_staff": True})
        Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": Role.ADMIN})
        Client.objects.filter(tenant=tenant).delete()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "carteira.csv"
            call_command("make_wallet_csv", str(path), rows=options["rows"], stdout=self.stdout)
            data = path.read_bytes()
        setup_test_environment()
        http = HttpClient()
        http.force_login(user)
        if options["rows"] <= inline_max_rows():
            self.preview_and_confirm(http, tenant, data, options["rows"])
        else:
            self.through_the_worker(http, tenant, data, options["rows"])

    def upload(self, http, data):
        index = next(i for i, f in enumerate(ClientAdmin(Client, None).get_import_formats()) if f is SniffingCSV)
        upload = SimpleUploadedFile("carteira.csv", data, content_type="text/csv")
        return http.post("/admin/core/client/import/", {"format": index, "import_file": upload})

    def through_the_worker(self, http, tenant, data, rows):
        worker = self.start_worker()
        try:
            started = time.perf_counter()
            response = self.upload(http, data)
            uploaded = time.perf_counter() - started
            if response.status_code != 302:
                raise CommandError(f"O envio não foi para a fila (resposta {response.status_code}).")
            job = WalletImport.objects.filter(tenant=tenant).latest("pk")
            progress_url = f"/admin/core/walletimport/{job.pk}/progresso/"
            while 'data-status="concluida"' not in (page := http.get(progress_url).content.decode()):
                if 'data-status="falhou"' in page or worker.poll() is not None:
                    raise CommandError("A importação falhou ou o worker parou; veja a página da importação.")
                time.sleep(0.5)  # the page polls every second; half of that keeps the measure honest
            total = time.perf_counter() - started
            memory = peak_memory_mb(worker.pid)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        job.refresh_from_db()
        waited = (job.started_at - job.created_at).total_seconds()
        importing = (job.finished_at - job.started_at).total_seconds()
        imported = Client.objects.filter(tenant=tenant).count()
        self.stdout.write(
            f"{rows:,} linhas pelo worker: envio {uploaded:.1f}s + fila {waited:.1f}s + importação {importing:.1f}s "
            f"({rows / importing:,.0f} linhas/s) = {total:.1f}s do envio à página concluída "
            f"({job.imported_rows:,} importadas, {job.error_rows:,} com erro; {imported:,} clientes gravados; "
            f"pico de memória do worker {memory})."
        )

    def start_worker(self):
        """A real db_worker, already polling before the clock starts (in production it is always running)."""
        WorkerHeartbeat.objects.filter(worker_id=WORKER_ID).delete()
        since = timezone.now()
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.2",
                "--worker-id",
                WORKER_ID,
            ],
            cwd=settings.BASE_DIR,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 60
        while not WorkerHeartbeat.objects.filter(worker_id=WORKER_ID, last_seen__gte=since).exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                worker.kill()
                raise CommandError("O worker não subiu.")
            time.sleep(0.2)
        return worker

    def preview_and_confirm(self, http, tenant, data, rows):
        started = time.perf_counter()
        response = self.upload(http, data)
        preview = time.perf_counter() - started
        confirm = response.context["confirm_form"]
        form = {n: f.initial if f.initial is not None else confirm.initial.get(n) for n, f in confirm.fields.items()}
        started = time.perf_counter()
        response = http.post("/admin/core/client/process_import/", form)
        confirmed = time.perf_counter() - started
        imported = Client.objects.filter(tenant=tenant).count()
        self.stdout.write(
            f"{rows:,} linhas: prévia {preview:.1f}s + confirmação {confirmed:.1f}s = "
            f"{preview + confirmed:.1f}s no admin ({imported:,} clientes gravados, resposta {response.status_code})."
        )


def peak_memory_mb(pid: int) -> str:
    """The process's peak resident memory (Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "?"
    kilobytes = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return f"{kilobytes / 1024:.0f} MB" if kilobytes else "?"
