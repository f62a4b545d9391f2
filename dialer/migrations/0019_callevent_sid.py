"""The call's sid on its events, and the indexes that join one call's three ids (connected id, history id,
report id) through telephony_id and sid. The column has a constant database default (no table rewrite); the
indexes are built without locking the table."""

from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("dialer", "0018_client_history_indexes")]

    operations = [
        migrations.AddField(
            model_name="dialercallevent",
            name="sid",
            field=models.CharField(blank=True, db_default="", default="", max_length=120, verbose_name="sid"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="dialercallevent",
            index=models.Index(
                condition=models.Q(("telephony_id", ""), _negated=True),
                fields=["tenant", "telephony_id"],
                name="call_event_telephony",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="dialercallevent",
            index=models.Index(
                condition=models.Q(("sid", ""), _negated=True), fields=["tenant", "sid"], name="call_event_sid"
            ),
        ),
    ]
