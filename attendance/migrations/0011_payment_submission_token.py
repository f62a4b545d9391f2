from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("attendance", "0010_client_history_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="submission_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        # The column is new and empty: the partial unique index holds no rows and builds in one quick scan.
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("submission_token__isnull", False)),
                fields=("tenant", "submission_token"),
                name="payment_unique_submission",
            ),
        ),
    ]
