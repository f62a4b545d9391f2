from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("dialer", "0011_export_item_skipped")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="dialercallevent",
            index=models.Index(fields=["tenant", "event", "received_at"], name="call_event_tenant_recent"),
        ),
    ]
