"""Re-encrypt every secret setting (3C Plus tokens) and webhook secret with the first key of FIELD_ENCRYPTION_KEY."""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenants import secrets
from tenants.models import Tenant
from tenants.settings_schema import secret_keys


class Command(BaseCommand):
    help = "Recriptografa os tokens do 3C Plus de todas as empresas com a primeira chave de FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        rotated = 0
        with transaction.atomic():
            for tenant in Tenant.objects.select_for_update().order_by("pk"):
                changed = False
                for key in secret_keys():
                    stored = tenant.setting(key)
                    if not stored:
                        continue
                    try:
                        tenant.settings[key] = secrets.rotate(stored)
                    except InvalidToken as error:
                        raise CommandError(
                            f"A empresa {tenant.slug} tem um token ({key}) que nenhuma chave abre: "
                            "mantenha a chave antiga em FIELD_ENCRYPTION_KEY e tente de novo."
                        ) from error
                    changed = True
                    rotated += 1
                try:
                    tenant.webhook_secret_encrypted = secrets.rotate(tenant.webhook_secret_encrypted)
                except InvalidToken as error:
                    raise CommandError(
                        f"A empresa {tenant.slug} tem um segredo de webhook que nenhuma chave abre: "
                        "mantenha a chave antiga em FIELD_ENCRYPTION_KEY e tente de novo."
                    ) from error
                fields = ["settings", "webhook_secret_encrypted"] if changed else ["webhook_secret_encrypted"]
                tenant.save(update_fields=fields)
        self.stdout.write(self.style.SUCCESS(f"{rotated} token(s) recriptografado(s) com a chave nova."))
