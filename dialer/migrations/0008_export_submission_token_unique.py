from django.db import migrations, models

INDEX = "export_unique_submission"
TABLE = "dialer_dialerexport"


def create_index(apps, schema_editor):
    # Built without locking the table against writes on PostgreSQL (hence a non-atomic migration).
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE UNIQUE INDEX {concurrently}IF NOT EXISTS {INDEX} ON {TABLE} (tenant_id, submission_token) "
        "WHERE submission_token IS NOT NULL"
    )


def drop_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("dialer", "0007_export_submission_token")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create_index, drop_index)],
            state_operations=[
                migrations.AddConstraint(
                    model_name="dialerexport",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(submission_token__isnull=False),
                        fields=("tenant", "submission_token"),
                        name=INDEX,
                    ),
                )
            ],
        )
    ]
