from django.db import migrations, models

from common.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("attendance", "0004_payments_and_installment_state"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="agreementinstallment",
            index=models.Index(condition=models.Q(status="em_aberto"), fields=["due_date"], name="installment_open_due"),
        ),
    ]
