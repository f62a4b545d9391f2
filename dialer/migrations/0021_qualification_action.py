from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dialer", "0020_call_sync_pass_and_bad_reports")]

    operations = [
        migrations.AddField(
            model_name="qualification",
            name="action",
            field=models.CharField(
                blank=True,
                choices=[
                    ("nada", "Nada"),
                    ("numero_errado", "Número errado: desligar o telefone"),
                    ("nao_ligar", "Não ligar para o cliente"),
                    ("retornar", "Retornar: agendar retorno"),
                ],
                max_length=20,
                null=True,
                verbose_name="ação aqui",
            ),
        ),
    ]
