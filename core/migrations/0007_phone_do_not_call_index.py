from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("core", "0006_do_not_call")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="clientphone",
            index=models.Index(
                condition=~models.Q(do_not_call_reason=""), fields=["tenant", "client"], name="phone_do_not_call"
            ),
        ),
    ]
