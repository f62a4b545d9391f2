import secrets

from django.db import migrations, models

import tenants.models


def fill_secrets(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    for tenant in Tenant.objects.filter(webhook_secret__isnull=True):
        tenant.webhook_secret = secrets.token_urlsafe(32)
        tenant.save(update_fields=["webhook_secret"])


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="tenant", name="webhook_secret", field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(fill_secrets, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="tenant",
            name="webhook_secret",
            field=models.CharField(
                default=tenants.models.new_webhook_secret, max_length=64, unique=True,
                verbose_name="segredo do webhook",
            ),
        ),
    ]
