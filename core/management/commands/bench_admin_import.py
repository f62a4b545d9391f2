import tempfile
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.test import Client as HttpClient
from django.test.utils import setup_test_environment

from common.formats import SniffingCSV
from core.admin import ClientAdmin
from core.models import Client, Creditor
from core.seeding import DEMO_CREDITORS
from tenants.models import Membership, Role, Tenant


class Command(BaseCommand):
    help = "Mede a importação da Carteira pelo admin (prévia e confirmação), como o navegador a faz."

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
        index = next(i for i, f in enumerate(ClientAdmin(Client, None).get_import_formats()) if f is SniffingCSV)

        started = time.perf_counter()
        upload = SimpleUploadedFile("carteira.csv", data, content_type="text/csv")
        response = http.post("/admin/core/client/import/", {"format": index, "import_file": upload})
        preview = time.perf_counter() - started
        confirm = response.context["confirm_form"]
        form = {n: f.initial if f.initial is not None else confirm.initial.get(n) for n, f in confirm.fields.items()}
        started = time.perf_counter()
        response = http.post("/admin/core/client/process_import/", form)
        confirmed = time.perf_counter() - started
        imported = Client.objects.filter(tenant=tenant).count()
        self.stdout.write(
            f"{options['rows']:,} linhas: prévia {preview:.1f}s + confirmação {confirmed:.1f}s = "
            f"{preview + confirmed:.1f}s no admin ({imported:,} clientes gravados, resposta {response.status_code})."
        )
