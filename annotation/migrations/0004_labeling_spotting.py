from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0003_collection")]
    operations: list = []
