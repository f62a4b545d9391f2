from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("attendance", "0008_disposition_tenant_created")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="agreement",
            index=models.Index(fields=["tenant", "created_at"], name="agreement_tenant_created"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="agreement",
            index=models.Index(
                condition=models.Q(("approval_reasons", []), _negated=True),
                fields=["tenant", "created_at"],
                include=["status", "creditor", "operator", "client"],
                name="agreement_beyond_rules",
            ),
        ),
    ]
