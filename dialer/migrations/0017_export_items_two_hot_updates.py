from django.db import migrations, models


def drop_export_index(apps, schema_editor):
    """The foreign key's own index on export_id: the unique (export, client) index starts with it."""
    model = apps.get_model("dialer", "DialerExportItem")
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in schema_editor._constraint_names(model, ["export_id"], index=True, unique=False):
        schema_editor.execute(f"DROP INDEX {concurrently}{schema_editor.quote_name(name)}")


def create_export_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS dialer_dialerexportitem_export_id "
        "ON dialer_dialerexportitem (export_id)"
    )


def set_fillfactor(apps, schema_editor):
    # A send updates each item twice (enviando, then enviado): room in each page for both versions keeps
    # them in place (HOT). Applies to the pages written from now on; the lock taken does not block writes.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE dialer_dialerexportitem SET (fillfactor = 40)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE dialer_dialerexportitem SET (fillfactor = 70)")


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY

    dependencies = [
        ("dialer", "0016_export_prepared_by_the_worker"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="dialerexportitem",
                    name="export",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="items",
                        to="dialer.dialerexport",
                        verbose_name="envio",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_export_index, create_export_index)],
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
