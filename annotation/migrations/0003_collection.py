import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0002_seed_coco_taxonomy")]
    operations = [
        migrations.CreateModel(
            name="SearchQuery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("pair", "Object + object"),
                            ("scene", "Object + scene"),
                            ("single", "Single object (fallback)"),
                            ("folder", "Local folder"),
                            ("urls", "URL list"),
                            ("s3", "S3 prefix"),
                        ],
                        max_length=10,
                    ),
                ),
                ("text", models.CharField(max_length=500)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("planned", "Planned"),
                            ("partial", "Partly fetched (a re-run resumes)"),
                            ("done", "Done"),
                            ("failed", "Failed (see error)"),
                        ],
                        default="planned",
                        max_length=10,
                    ),
                ),
                ("pages_done", models.PositiveIntegerField(default=0)),
                ("total_available", models.PositiveIntegerField(blank=True, null=True)),
                ("offered", models.PositiveIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "category_a",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="annotation.category",
                    ),
                ),
                (
                    "category_b",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="annotation.category",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="search_queries",
                        to="annotation.project",
                    ),
                ),
                (
                    "scene",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="annotation.scenecategory",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "search queries",
                "ordering": ["project_id", "id"],
            },
        ),
        migrations.CreateModel(
            name="Candidate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("folder", "Local folder"),
                            ("url", "URL"),
                            ("path", "Local path"),
                            ("upload", "API upload"),
                            ("flickr", "Flickr"),
                            ("s3", "S3 bucket"),
                            ("coco", "COCO JSON import"),
                        ],
                        max_length=20,
                    ),
                ),
                ("source_ref", models.CharField(max_length=1000)),
                ("download_url", models.CharField(blank=True, max_length=1000)),
                ("original_url", models.URLField(blank=True, max_length=1000)),
                ("title", models.CharField(blank=True, max_length=500)),
                ("file_name", models.CharField(max_length=500)),
                ("photographer", models.CharField(blank=True, max_length=200)),
                ("photographer_id", models.CharField(blank=True, max_length=200)),
                ("date_taken", models.DateTimeField(blank=True, null=True)),
                ("license_name", models.CharField(blank=True, max_length=200)),
                ("license_url", models.URLField(blank=True, max_length=500)),
                ("file", models.FileField(blank=True, max_length=500, upload_to="collection/")),
                (
                    "thumbnail",
                    models.FileField(blank=True, max_length=500, upload_to="collection/thumbs/"),
                ),
                ("width", models.PositiveIntegerField(blank=True, null=True)),
                ("height", models.PositiveIntegerField(blank=True, null=True)),
                ("checksum_sha256", models.CharField(blank=True, max_length=64)),
                ("phash", models.CharField(blank=True, db_index=True, max_length=16)),
                ("duplicate_group", models.BigIntegerField(blank=True, db_index=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pooled", "Waiting for a grid"),
                            ("in_grid", "In a filtering grid"),
                            ("accepted", "Accepted (an image)"),
                            ("iconic", "Voted iconic or invalid"),
                            ("duplicate", "Near-duplicate of another candidate"),
                            ("capped", "Over the per-photographer cap"),
                            ("failed", "Could not be used (see reason)"),
                        ],
                        default="pooled",
                        max_length=10,
                    ),
                ),
                ("reason", models.TextField(blank=True)),
                ("votes_marked", models.PositiveSmallIntegerField(default=0)),
                ("votes_total", models.PositiveSmallIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "duplicate_of",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="annotation.candidate",
                    ),
                ),
                (
                    "grid_task",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="annotation.task",
                    ),
                ),
                (
                    "image",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="candidate",
                        to="annotation.image",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="candidates",
                        to="annotation.project",
                    ),
                ),
                (
                    "query",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="candidates",
                        to="annotation.searchquery",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.AddIndex(
            model_name="searchquery",
            index=models.Index(fields=["project", "status"], name="annotation__project_d062df_idx"),
        ),
        migrations.AddConstraint(
            model_name="searchquery",
            constraint=models.UniqueConstraint(
                fields=("project", "kind", "text"), name="unique_query_per_project"
            ),
        ),
        migrations.AddIndex(
            model_name="candidate",
            index=models.Index(fields=["project", "status"], name="annotation__project_33b7cc_idx"),
        ),
        migrations.AddIndex(
            model_name="candidate",
            index=models.Index(
                fields=["project", "photographer_id"], name="annotation__project_abaafd_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.UniqueConstraint(
                fields=("project", "source_ref"), name="unique_candidate_ref_per_project"
            ),
        ),
    ]
