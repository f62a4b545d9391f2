"""The client's calls and removals on the atendimento timeline, newest first, one bounded index range a page.
Built without locking the tables; the call events' new index replaces the one it extends once it exists."""

from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("dialer", "0017_export_items_two_hot_updates")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="dialercallevent",
            index=models.Index(fields=["client", "event", "-received_at", "-id"], name="call_event_client_recent"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="dialercallevent", name="call_event_client"),
        AddIndexConcurrentlyOnPostgres(
            model_name="dialerremoval",
            index=models.Index(fields=["client", "-created_at", "-id"], name="removal_client_recent"),
        ),
    ]
