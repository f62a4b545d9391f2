from django.db import migrations, models

import tenants.models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0007_encrypt_webhook_secrets")]

    operations = [
        migrations.RemoveField(model_name="tenant", name="webhook_secret"),
        migrations.AlterField(
            model_name="tenant",
            name="webhook_secret_encrypted",
            field=models.TextField(default=tenants.models.new_encrypted_webhook_secret, editable=False),
        ),
    ]
