from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("attendance", "0014_access_log_kind"),
    ]

    operations = [
        # Nullable with no default: a catalogue change on PostgreSQL and SQLite, no table rewrite.
        migrations.AddField(
            model_name="calldisposition",
            name="qualification_claimed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
