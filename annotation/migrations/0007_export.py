import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_verification_crowd")]
    operations: list = [
        migrations.AddField(
            model_name="project",
            name="image_ids_given",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "split",
                    models.CharField(blank=True, help_text="Blank: every image", max_length=5),
                ),
                ("kinds", models.JSONField(default=list)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("done_items", models.PositiveBigIntegerField(default=0)),
                ("total_items", models.PositiveBigIntegerField(default=0)),
                (
                    "folder",
                    models.CharField(blank=True, help_text="Where the files are", max_length=500),
                ),
                (
                    "files",
                    models.JSONField(default=list, help_text="File names written, main file first"),
                ),
                ("checksum_sha256", models.CharField(blank=True, max_length=64)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="export_jobs",
                        to="annotation.project",
                    ),
                ),
            ],
            options={"ordering": ["-id"]},
        ),
        migrations.CreateModel(
            name="ExportLicense",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("coco_id", models.PositiveIntegerField()),
                ("name", models.CharField(blank=True, max_length=200)),
                ("url", models.URLField(blank=True, max_length=500)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="export_licenses",
                        to="annotation.project",
                    ),
                ),
            ],
            options={"ordering": ["project_id", "coco_id"]},
        ),
        migrations.AddConstraint(
            model_name="exportlicense",
            constraint=models.UniqueConstraint(
                fields=("project", "coco_id"), name="unique_license_id"
            ),
        ),
        migrations.AddConstraint(
            model_name="exportlicense",
            constraint=models.UniqueConstraint(
                fields=("project", "name", "url"), name="unique_license_name_url"
            ),
        ),
        migrations.AddField(
            model_name="image",
            name="coco_id",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="image",
            constraint=models.UniqueConstraint(
                fields=("project", "coco_id"), name="unique_image_coco_id"
            ),
        ),
    ]
