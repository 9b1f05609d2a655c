import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_segmentation")]

    operations = [
        migrations.AddField(
            model_name="project",
            name="annotation_ids_given",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.CreateModel(
            name="Annotation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("coco_id", models.PositiveBigIntegerField()),
                ("iscrowd", models.BooleanField(default=False)),
                ("segmentation", models.JSONField()),
                ("area", models.FloatField()),
                ("bbox_xywh", models.JSONField()),
                (
                    "origin",
                    models.CharField(
                        choices=[
                            ("segmentation", "Verified segmentation"),
                            ("crowd", "Crowd painting"),
                            ("import", "Imported COCO file"),
                        ],
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "category",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="annotations",
                        to="annotation.category",
                    ),
                ),
                (
                    "image",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="annotations",
                        to="annotation.image",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="annotations",
                        to="annotation.project",
                    ),
                ),
                (
                    "source_segmentation",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="annotation",
                        to="annotation.segmentation",
                    ),
                ),
            ],
            options={
                "ordering": ["project_id", "coco_id"],
                "indexes": [
                    models.Index(
                        fields=["image", "category"], name="annotation__image_i_a67be6_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "coco_id"), name="unique_annotation_id"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("coco_id__gte", 1)), name="annotation_id_ge_1"
                    ),
                ],
            },
        ),
        # Verification and crowd painting (issue 6).
        migrations.CreateModel(
            name="CrowdPainting",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("area", models.PositiveIntegerField(default=0)),
                ("seconds", models.FloatField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "annotation",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="painting",
                        to="annotation.annotation",
                    ),
                ),
                (
                    "assignment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="crowd_painting",
                        to="annotation.assignment",
                    ),
                ),
                (
                    "task",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="crowd_painting",
                        to="annotation.task",
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="crowd_paintings",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.CreateModel(
            name="GoldItem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("polygons", models.JSONField()),
                ("area", models.FloatField()),
                ("bbox_xywh", models.JSONField()),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("expert", "Drawn badly on purpose by an expert"),
                            ("failed_verification", "A mask that failed verification"),
                        ],
                        max_length=20,
                    ),
                ),
                ("active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "author",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="gold_items",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "category",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="gold_items",
                        to="annotation.category",
                    ),
                ),
                (
                    "image",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="gold_items",
                        to="annotation.image",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="gold_items",
                        to="annotation.project",
                    ),
                ),
                (
                    "source_segmentation",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="gold_item",
                        to="annotation.segmentation",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.CreateModel(
            name="GridCell",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("cell_id", models.CharField(max_length=32, unique=True)),
                ("position", models.PositiveSmallIntegerField()),
                (
                    "gold",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="grid_cells",
                        to="annotation.golditem",
                    ),
                ),
                (
                    "segmentation",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="grid_cells",
                        to="annotation.segmentation",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="grid_cells",
                        to="annotation.task",
                    ),
                ),
            ],
            options={
                "ordering": ["task_id", "position"],
            },
        ),
        migrations.CreateModel(
            name="GridOutcome",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("gold_caught", models.PositiveSmallIntegerField()),
                ("gold_shown", models.PositiveSmallIntegerField()),
                ("passed", models.BooleanField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "assignment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="grid_outcome",
                        to="annotation.assignment",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="grid_outcomes",
                        to="annotation.task",
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="grid_outcomes",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.CreateModel(
            name="VerificationDecision",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("accepted", "Accepted by the votes"),
                            ("rejected", "Rejected by the votes"),
                            ("discarded", "Discarded: its author was blocked"),
                        ],
                        max_length=10,
                    ),
                ),
                ("good_votes", models.PositiveSmallIntegerField(default=0)),
                ("bad_votes", models.PositiveSmallIntegerField(default=0)),
                ("reason", models.CharField(blank=True, max_length=200)),
                ("decided_at", models.DateTimeField(auto_now=True)),
                (
                    "requeued_task",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="requeued_for",
                        to="annotation.task",
                    ),
                ),
                (
                    "segmentation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="verification_decision",
                        to="annotation.segmentation",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.CreateModel(
            name="VerificationVote",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("good", models.BooleanField()),
                ("counted", models.BooleanField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "assignment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="verification_votes",
                        to="annotation.assignment",
                    ),
                ),
                (
                    "cell",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="votes",
                        to="annotation.gridcell",
                    ),
                ),
                (
                    "segmentation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="verification_votes",
                        to="annotation.segmentation",
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="verification_votes",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.AddConstraint(
            model_name="gridcell",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("gold__isnull", True), ("segmentation__isnull", False)),
                    models.Q(("gold__isnull", False), ("segmentation__isnull", True)),
                    _connector="OR",
                ),
                name="grid_cell_is_segmentation_or_gold",
            ),
        ),
        migrations.AddConstraint(
            model_name="gridcell",
            constraint=models.UniqueConstraint(
                fields=("task", "position"), name="one_grid_cell_per_position"
            ),
        ),
        migrations.AddIndex(
            model_name="verificationvote",
            index=models.Index(
                fields=["segmentation", "counted"], name="annotation__segment_f993be_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="verificationvote",
            constraint=models.UniqueConstraint(
                fields=("assignment", "segmentation"), name="one_vote_per_answer_and_mask"
            ),
        ),
    ]
