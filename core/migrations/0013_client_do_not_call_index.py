"""The Carteira's "não ligar" filter: the few marked clients from a small partial index, built without locking."""

from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("core", "0012_walletimport_warning_rows")]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="client",
            index=models.Index(
                fields=["tenant", "id"], name="client_tenant_do_not_call", condition=~models.Q(do_not_call_reason="")
            ),
        ),
    ]
