from django.db import migrations, transaction

CREATE = (
    "CREATE INDEX IF NOT EXISTS client_name_trgm ON core_client "
    "USING gin (UPPER(name::text) gin_trgm_ops)"
)


def create_trigram_index(apps, schema_editor):
    """Name search (icontains) over a million clients needs a trigram index; PostgreSQL only.

    pg_trgm needs a privileged role once per database; without it the search still works, slower.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:
        return
    schema_editor.execute(CREATE)


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS client_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(create_trigram_index, drop_trigram_index)]
