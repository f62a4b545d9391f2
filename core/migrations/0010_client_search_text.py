"""A folded copy of each client's name and city for the Carteira's search (core/search.py).

The column has a constant database default: PostgreSQL adds it without rewriting the table. Migration 0011
fills it in batches and indexes it.
"""

from django.db import migrations, models

from core.search import FOLD_FUNCTION_SQL


def create_fold_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FOLD_FUNCTION_SQL)


def drop_fold_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS wallet_fold(text)")


class Migration(migrations.Migration):
    dependencies = [("core", "0009_wallet_import")]

    operations = [
        migrations.AddField(
            model_name="client",
            name="search_text",
            field=models.TextField(
                blank=True, db_default="", default="", editable=False, verbose_name="texto de busca"
            ),
        ),
        migrations.RunPython(create_fold_function, drop_fold_function),
    ]
