from django.db import migrations, models

from attendance.defaults import DEBTOR_CONTACT_BEHAVIORS


def flag_defaults(apps, schema_editor):
    # Only the global defaults: a tenant's own types are the tenant's to flag.
    apps.get_model("attendance", "DispositionType").objects.filter(
        tenant=None, behavior__in=DEBTOR_CONTACT_BEHAVIORS
    ).update(debtor_contact=True)


class Migration(migrations.Migration):
    dependencies = [("attendance", "0006_agreement_fees")]

    operations = [
        # A constant database default: PostgreSQL adds the column without rewriting the table.
        migrations.AddField(
            model_name="dispositiontype",
            name="debtor_contact",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Marque se esta tabulação significa que o operador falou com o próprio devedor.",
                verbose_name="contato com o devedor",
            ),
        ),
        migrations.RunPython(flag_defaults, migrations.RunPython.noop),
    ]
