from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0002_seed_coco_taxonomy")]
    operations: list = []
