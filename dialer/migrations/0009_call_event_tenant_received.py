import importlib

from django.db import migrations, models

# One definition of the PostgreSQL-concurrent, SQLite-plain index operation.
AddIndexConcurrentlyOnPostgres = importlib.import_module(
    "attendance.migrations.0005_installment_open_due_index"
).AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("dialer", "0008_export_submission_token_unique")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="dialercallevent",
            index=models.Index(fields=["tenant", "received_at"], name="call_event_tenant_received"),
        ),
    ]
