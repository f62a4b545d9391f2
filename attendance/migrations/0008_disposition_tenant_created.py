from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("attendance", "0007_dispositiontype_debtor_contact")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="calldisposition",
            index=models.Index(fields=["tenant", "created_at"], name="disposition_tenant_created"),
        ),
    ]
