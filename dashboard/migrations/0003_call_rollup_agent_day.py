from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("dashboard", "0002_rollups_by_grain")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="callrollup",
            index=models.Index(fields=["tenant", "agent_id", "day"], name="call_rollup_agent_day"),
        ),
    ]
