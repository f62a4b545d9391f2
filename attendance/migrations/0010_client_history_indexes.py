"""The atendimento page reads each kind of the client's history a page at a time, newest first: with the
id in the key every read is one bounded index range, whatever the client's history. Built without locking
the tables; the new index replaces the one it extends only once it exists."""

from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("attendance", "0009_agreement_tenant_created")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="calldisposition",
            index=models.Index(fields=["client", "-created_at", "-id"], name="disposition_client_recent"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="calldisposition", name="disposition_client_created"),
        AddIndexConcurrentlyOnPostgres(
            model_name="calldisposition",
            index=models.Index(fields=["client", "call_id"], name="disposition_client_call"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="message",
            index=models.Index(fields=["client", "-sent_at", "-id"], name="message_client_recent"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="message", name="message_client_sent"),
        AddIndexConcurrentlyOnPostgres(
            model_name="agreement",
            index=models.Index(fields=["client", "-created_at", "-id"], name="agreement_client_recent"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="agreement", name="agreement_client_created"),
        AddIndexConcurrentlyOnPostgres(
            model_name="agreement",
            index=models.Index(
                fields=["client", "-closed_at", "-id"],
                name="agreement_client_closed",
                condition=models.Q(closed_at__isnull=False),
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="payment",
            index=models.Index(fields=["client", "-created_at", "-id"], name="payment_client_created"),
        ),
    ]
