"""Seed the COCO taxonomy template (91 categories with official ids, 40 scenes)."""

from django.db import migrations

from annotation.coco_taxonomy import seed_coco_template


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    seed_coco_template(
        apps.get_model("annotation", "Taxonomy"),
        apps.get_model("annotation", "Category"),
        apps.get_model("annotation", "SceneCategory"),
    )


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
