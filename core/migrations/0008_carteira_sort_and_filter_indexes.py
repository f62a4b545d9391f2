"""Indexes for the Carteira's sorts and filters at a million clients, built without locking the table."""

from django.db import migrations, models
from django.db.models.functions import Upper

from common.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("core", "0007_phone_do_not_call_index")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="client",
            index=models.Index(fields=["tenant", "name", "id"], name="client_tenant_name"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="client",
            index=models.Index(fields=["tenant", "status", "id"], name="client_tenant_status"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="client",
            index=models.Index(fields=["tenant", "creditor", "id"], name="client_tenant_creditor"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="client",
            index=models.Index(models.F("tenant"), Upper("city"), name="client_tenant_city_upper", include=["city"]),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="client",
            index=models.Index(
                fields=["tenant", "id"], name="client_tenant_no_phone", condition=models.Q(main_phone="")
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="client",
            index=models.Index(
                fields=["tenant", "creditor", "oldest_due_date"],
                name="client_tenant_creditor_due_bal",
                include=["open_balance", "id"],
            ),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="client", name="client_tenant_creditor_due"),
    ]
