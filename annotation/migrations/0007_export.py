from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_verification_crowd")]
    operations: list = []
