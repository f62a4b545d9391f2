import os
import random
import signal
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from common.processes import stop
from config.demo_activity import seed_activity
from core.models import Client
from core.seeding import ensure_demo_creditors, seed_wallet
from tenants.models import Membership, Role, Tenant

DEMO_CLIENTS = 500
DEMO_USERS = [
    # username, password, role, first name
    ("admin", "admin12345", Role.ADMIN, "Alice Administradora"),
    ("supervisor", "supervisor12345", Role.SUPERVISOR, "Sérgio Supervisor"),
    ("operador", "operador12345", Role.OPERATOR, "Olívia Operadora"),
]


class Command(BaseCommand):
    help = "Prepara e sobe a demonstração: migra o banco, cria a empresa demo e serve em http://127.0.0.1:8000."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--seed-only", action="store_true", help="só cria os dados de demonstração e sai")

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if options["port"] != 8000 and "PUBLIC_BASE_URL" not in os.environ:
            settings.PUBLIC_BASE_URL = f"http://127.0.0.1:{options['port']}"
        tenant = self.seed()
        self.stdout.write(self.style.SUCCESS(f"Empresa de demonstração: {tenant.name} ({tenant.slug})"))
        self.stdout.write("Usuários (usuário / senha):")
        for username, password, role, _name in DEMO_USERS:
            self.stdout.write(f"  {username} / {password}  ({role.label})")
        if options["seed_only"]:
            return
        self.stdout.write(f"Acesse http://127.0.0.1:{options['port']}/  (Ctrl+C para parar)")
        self.stdout.write(f"Sandbox do 3C Plus: http://127.0.0.1:{options['port']}/sandbox/3cplus/")
        self.stdout.write(f"Sandbox do PSP (PIX e boleto): http://127.0.0.1:{options['port']}/sandbox/psp/")
        # The worker sends exports to the dialer in the background, as in production.
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker"],
            cwd=settings.BASE_DIR,
            env={**os.environ, "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL},
        )
        # SIGTERM (kill, a supervisor) ends the demo like Ctrl+C does: through the finally, worker included.
        signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
        try:
            call_command("runserver", f"127.0.0.1:{options['port']}", use_reloader=False)
        finally:
            stop(worker)

    @transaction.atomic
    def seed(self) -> Tenant:
        tenant, _ = Tenant.objects.get_or_create(slug="demo", defaults={"name": "Cobrança Demonstração Ltda."})
        ensure_demo_creditors(tenant)
        User = get_user_model()
        users = {}
        for username, password, role, full_name in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
            user.is_staff = role != Role.OPERATOR
            user.save()
            Membership.objects.update_or_create(
                user=user,
                defaults={
                    "tenant": tenant,
                    "role": role,
                    "threecplus_agent_id": "1001" if role == Role.OPERATOR else "",
                },
            )
            users[role] = user
        self.point_at_sandbox(tenant)
        self.point_payments_at_sandbox(tenant)
        self.point_whatsapp_at_sandbox(tenant)
        missing = DEMO_CLIENTS - Client.objects.filter(tenant=tenant).count()
        if missing > 0:
            seed_wallet(tenant, missing, seed=2026)
            picked = list(Client.objects.filter(tenant=tenant).values_list("pk", flat=True))
            random.Random(7).shuffle(picked)
            Client.objects.filter(pk__in=picked[:40]).update(assigned_operator=users[Role.OPERATOR])
            self.seed_messages(tenant, picked[:40])
        seed_activity(tenant, users)
        seed_municipal_holidays(tenant)
        return tenant

    def point_at_sandbox(self, tenant):
        """The demo dials the built-in sandbox 3C Plus unless someone configured a real one."""
        from dialer.settings_schema import AGENT_TOKEN, API_KEY, BASE_URL, CAMPAIGN
        from dialer.tenant_api import is_configured
        from sandbox.views import SANDBOX
        from tenants.settings_schema import clean_settings

        current = tenant.stored_settings
        if not settings.DIALER_SANDBOX or (is_configured(tenant) and not uses_sandbox(tenant)):
            return
        # Every run, not only the first: the port (and so the sandbox's URL) may differ from last time.
        campaigns = [c for c in SANDBOX.account("demo").campaigns.values() if not c["paused"]]
        ids = {c["id"] for c in campaigns}
        campaign_id = current.get(CAMPAIGN)
        tenant.settings = clean_settings(
            {
                **current,
                BASE_URL: f"{settings.PUBLIC_BASE_URL}/sandbox/3cplus/api/v1",
                API_KEY: "sandbox-demo",
                AGENT_TOKEN: "sandbox-agent-demo",
                CAMPAIGN: campaign_id if campaign_id in ids else campaigns[0]["id"],
            },
            current,  # the other sections' secrets, already encrypted, stay as they are
        )
        tenant.save(update_fields=["settings"])

    def point_payments_at_sandbox(self, tenant):
        """The demo charges through the built-in sandbox PSP (dynamic PIX and boletos per installment) unless someone
        configured a real provider; the webhook is registered at the fake, which runs in this very process."""
        from payments import provider
        from payments.settings_schema import BASE_URL, BOLETO_ENABLED, CLIENT_ID, CLIENT_SECRET, PROVIDER
        from sandbox.pix_views import PIX_SANDBOX
        from tenants.settings_schema import PIX_CITY, PIX_KEY, PIX_NAME, clean_settings

        current = tenant.stored_settings
        if not settings.DIALER_SANDBOX or current.get(CLIENT_ID) not in (None, "sandbox-" + tenant.slug):
            return
        tenant.settings = clean_settings(
            {
                PIX_KEY: "financeiro@demo.com.br",
                PIX_NAME: "Cobranca Demonstracao",
                PIX_CITY: "Sao Paulo",
                **current,
                PROVIDER: "api_pix",
                BASE_URL: f"{settings.PUBLIC_BASE_URL}/sandbox/psp/api",
                CLIENT_ID: "sandbox-" + tenant.slug,
                CLIENT_SECRET: "segredo-" + tenant.slug,
                BOLETO_ENABLED: True,
            },
            current,
        )
        tenant.save(update_fields=["settings"])
        PIX_SANDBOX.account(tenant.slug).webhooks[tenant.setting(PIX_KEY)] = provider.webhook_url(tenant)

    def point_whatsapp_at_sandbox(self, tenant):
        """The demo's WhatsApp is the built-in sandbox (/sandbox/whatsapp/) unless someone configured Meta's."""
        from messaging import settings_schema as wa
        from tenants.settings_schema import clean_settings

        current = tenant.stored_settings
        base = current.get(wa.BASE_URL) or ""
        if not settings.DIALER_SANDBOX or (current.get(wa.ACCESS_TOKEN) and "/sandbox/whatsapp/" not in base):
            return
        tenant.settings = clean_settings(
            {
                **current,
                wa.BASE_URL: f"{settings.PUBLIC_BASE_URL}/sandbox/whatsapp/graph/v21.0",
                wa.PHONE_NUMBER_ID: current.get(wa.PHONE_NUMBER_ID) or "1000000000001",
                wa.WABA_ID: current.get(wa.WABA_ID) or "2000000000001",
                wa.ACCESS_TOKEN: "sandbox-wa-demo",
                wa.APP_SECRET: "sandbox-app-secret-demo",
                wa.VERIFY_TOKEN: current.get(wa.VERIFY_TOKEN) or "sandbox-verify-demo",
            },
            current,
        )
        tenant.save(update_fields=["settings"])

    def seed_messages(self, tenant, client_ids):
        """A short WhatsApp history for the operator's clients, so the tab has something to show."""
        from datetime import timedelta

        from django.utils import timezone

        from attendance.models import Message

        now = timezone.now()
        conversation = [
            ("enviada", "Olá! Aqui é da Cobrança Demonstração. Podemos falar sobre o seu débito?", "lida"),
            ("recebida", "Oi, pode ser. Qual o valor?", "recebida"),
            ("enviada", "Temos condições especiais para pagamento à vista ou parcelado.", "entregue"),
        ]
        Message.objects.bulk_create(
            Message(
                tenant=tenant,
                client_id=client_id,
                channel=Message.Channel.WHATSAPP,
                direction=direction,
                body=body,
                status=status,
                sent_at=now - timedelta(days=2, minutes=30 - 10 * i),
            )
            for client_id in client_ids
            for i, (direction, body, status) in enumerate(conversation)
        )


def uses_sandbox(tenant) -> bool:
    """The demo tenant still dials the built-in sandbox (a real 3C Plus configured by someone is kept)."""
    from sandbox.views import account_name

    return account_name(tenant) == tenant.slug


# A few real municipal holidays of capitals, this year and next: the calling rule shows them in the demo.
DEMO_MUNICIPAL_HOLIDAYS = [
    ("SP", "São Paulo", 1, 25, "Aniversário de São Paulo"),
    ("RJ", "Rio de Janeiro", 1, 20, "Dia de São Sebastião"),
    ("BA", "Salvador", 12, 8, "Nossa Senhora da Conceição da Praia"),
    ("PE", "Recife", 12, 8, "Nossa Senhora da Conceição"),
    ("MG", "Belo Horizonte", 12, 8, "Imaculada Conceição"),
]


def seed_municipal_holidays(tenant):
    import datetime

    from django.utils import timezone

    from dialer.calling_rules import city_key
    from dialer.models import MunicipalHoliday

    year = timezone.localdate().year
    for state, city, month, day, name in DEMO_MUNICIPAL_HOLIDAYS:
        for when in (datetime.date(year, month, day), datetime.date(year + 1, month, day)):
            known = MunicipalHoliday.objects.filter(tenant=tenant, state=state, city_key=city_key(city), date=when)
            if not known.exists():
                MunicipalHoliday.objects.create(tenant=tenant, state=state, city=city, date=when, name=name)
