"""Fill Client.search_text in batches and index it; index phones by their reversed number.

Each batch is its own short transaction (a few thousand rows locked for milliseconds, never the table). The
indexes are built CONCURRENTLY: a trigram GIN index on search_text (accent- and case-insensitive words of
names and cities), and (tenant, reverse(number)) for a phone typed without DDD, which is a suffix of its E.164
form and so a prefix once reversed. The name trigram index of 0002 (UPPER(name)) is no longer read: dropped.
"""

from django.db import migrations, transaction

BATCH = 10_000


def fill_search_text(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM core_client")
        first, last = cursor.fetchone()
    if first is None:
        return
    for start in range(first, last + 1, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_client SET search_text = wallet_fold(name) || ' ' || wallet_fold(city) "
                "WHERE id >= %s AND id < %s AND search_text = ''",
                [start, start + BATCH],
            )


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS phone_tenant_number_reversed "
        "ON core_clientphone (tenant_id, reverse(number) text_pattern_ops)"
    )
    try:  # pg_trgm needs a privileged role once per database (see 0002); without it the search works, slower
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:
        return
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS client_search_text_trgm ON core_client "
        "USING gin (search_text gin_trgm_ops)"
    )
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS client_name_trgm")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS client_search_text_trgm")
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS phone_tenant_number_reversed")
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS client_name_trgm ON core_client "
        "USING gin (UPPER(name::text) gin_trgm_ops)"
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("core", "0010_client_search_text")]

    operations = [
        migrations.RunPython(fill_search_text, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
