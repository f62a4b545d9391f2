from django.db import migrations, transaction

from tenants import secrets

BATCH = 200


def _in_batches(apps, schema_editor, pending, convert):
    """`convert` each pending tenant, one short transaction per batch, in primary-key order."""
    Tenant = apps.get_model("tenants", "Tenant")
    alias = schema_editor.connection.alias
    last = 0
    while True:
        with transaction.atomic(using=alias):
            batch = list(
                Tenant.objects.using(alias).filter(pk__gt=last, **pending).order_by("pk").select_for_update()[:BATCH]
            )
            if not batch:
                return
            for tenant in batch:
                convert(tenant)
            Tenant.objects.using(alias).bulk_update(batch, ["webhook_secret", "webhook_secret_encrypted"])
        last = batch[-1].pk


def encrypt(apps, schema_editor):
    def convert(tenant):
        tenant.webhook_secret_encrypted = secrets.encrypt(tenant.webhook_secret)
        tenant.webhook_secret = None  # no plaintext left behind; the digest column is unchanged

    _in_batches(apps, schema_editor, {"webhook_secret__isnull": False}, convert)


def decrypt(apps, schema_editor):
    def convert(tenant):
        tenant.webhook_secret = secrets.decrypt(tenant.webhook_secret_encrypted)
        tenant.webhook_secret_encrypted = None

    _in_batches(apps, schema_editor, {"webhook_secret_encrypted__isnull": False}, convert)


class Migration(migrations.Migration):
    """Encrypt the stored webhook secrets with FIELD_ENCRYPTION_KEY, like the 3C Plus tokens."""

    atomic = False  # each batch commits on its own: no long lock on the tenants table

    dependencies = [("tenants", "0006_webhook_secret_encrypted")]

    operations = [migrations.RunPython(encrypt, decrypt)]
