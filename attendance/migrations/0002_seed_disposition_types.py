from django.db import migrations

from attendance.defaults import DEFAULT_DISPOSITION_TYPES, ensure_default_disposition_types


def seed(apps, schema_editor):
    ensure_default_disposition_types(apps.get_model("attendance", "DispositionType"))


def unseed(apps, schema_editor):
    apps.get_model("attendance", "DispositionType").objects.filter(
        tenant=None, behavior__in=[behavior for _, behavior, _ in DEFAULT_DISPOSITION_TYPES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("attendance", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
