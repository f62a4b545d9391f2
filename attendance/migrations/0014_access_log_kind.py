from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("attendance", "0013_calldisposition_changed"),
    ]

    operations = [
        # A constant db_default: PostgreSQL adds the column to the (large) access log without rewriting it.
        migrations.AddField(
            model_name="clientaccesslog",
            name="kind",
            field=models.CharField(
                choices=[("pagina", "Página do cliente"), ("gravacao", "Gravação da ligação")],
                db_default="pagina",
                default="pagina",
                max_length=10,
                verbose_name="acesso a",
            ),
        ),
    ]
