import resource
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.models import Client, ClientPhone
from core.seeding import seed_wallet
from dialer import connection, exports
from dialer.models import DialerExport
from tenants.models import Tenant
from tenants.settings_schema import clean_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = (
        "Mede o envio ao discador de ponta a ponta: N clientes do banco para o sandbox 3C Plus rodando como "
        "processo próprio em 127.0.0.1 (modo que só conta os contatos), em lotes de 500 e de 50."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=100_000)
        parser.add_argument("--tenant", default="bench-discador")
        parser.add_argument("--batch-sizes", default="500,50")

    def handle(self, *args, **options):
        tenant, _ = Tenant.objects.get_or_create(slug=options["tenant"], defaults={"name": options["tenant"]})
        missing = options["clients"] - Client.objects.filter(tenant=tenant).count()
        if missing > 0:
            self.stdout.write(f"Criando {missing} clientes…")
            seed_wallet(tenant, missing)
        if missing < 0:
            raise CommandError(f"A empresa {tenant.slug} tem mais de {options['clients']} clientes: use outra.")
        selection = Client.objects.filter(tenant=tenant)
        port = free_port()
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "dialer.sandbox.server", "--port", str(port), "--count-only"],
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            sandbox.stdout.readline()  # "Sandbox 3C Plus em …": it is listening
            tenant.settings = clean_settings(
                {
                    "threecplus_base_url": f"http://127.0.0.1:{port}/api/v1",
                    "threecplus_api_key": "sandbox-bench",
                }
            )
            tenant.save()
            campaigns = [c["id"] for c in connection.campaigns(tenant)]
            phones = ClientPhone.objects.filter(client__in=selection, active=True).count()
            engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
            self.stdout.write(f"{options['clients']:,} clientes, {phones:,} telefones ativos ({engine}).")
            results = {}
            for index, batch_size in enumerate(int(b) for b in options["batch_sizes"].split(",")):
                export = exports.create_export(
                    tenant,
                    None,
                    selection,
                    campaign_id=campaigns[index % len(campaigns)],
                    enqueue=False,
                    batch_size=batch_size,
                    list_name=f"bench lote {batch_size}",
                )
                baseline = peak_rss_mb()
                started = time.perf_counter()
                export = exports.run_export(export.pk)
                elapsed = time.perf_counter() - started
                growth = peak_rss_mb() - baseline
                assert export.status == DialerExport.Status.DONE, export.error_summary
                rate = export.sent_count / elapsed
                results[batch_size] = rate
                self.stdout.write(
                    f"lote {batch_size:>4}: {export.sent_count:,} clientes / {export.sent_phones:,} telefones em "
                    f"{elapsed:.1f}s = {rate:,.0f} clientes/s; pico de memória +{growth:.0f} MB sobre a base"
                )
                DialerExport.objects.filter(pk=export.pk).delete()  # the next run must not skip "recently sent"
            sizes = list(results)
            if len(sizes) >= 2:
                self.stdout.write(
                    f"lote {sizes[0]} é {results[sizes[0]] / results[sizes[1]]:.1f}× mais rápido que lote {sizes[1]}"
                )
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
