from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_segmentation")]
    operations: list = []
