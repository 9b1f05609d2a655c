from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0004_labeling_spotting")]
    operations: list = []
