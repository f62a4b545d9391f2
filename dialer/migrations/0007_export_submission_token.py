from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dialer", "0006_export_lease_and_pause")]

    operations = [
        migrations.AddField(
            model_name="dialerexport",
            name="submission_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
    ]
