import importlib

from django.db import migrations, models

AddIndexConcurrentlyOnPostgres = importlib.import_module(
    "attendance.migrations.0005_installment_open_due_index"
).AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("attendance", "0007_dispositiontype_debtor_contact")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="calldisposition",
            index=models.Index(fields=["tenant", "created_at"], name="disposition_tenant_created"),
        ),
    ]
