from django.db import migrations, models


class Migration(migrations.Migration):
    """Room for the encrypted webhook secret; the plaintext column may be emptied (next migration)."""

    dependencies = [("tenants", "0005_audit_events")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="webhook_secret_encrypted",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="webhook_secret",
            field=models.CharField(max_length=64, null=True, unique=True, verbose_name="segredo do webhook"),
        ),
    ]
