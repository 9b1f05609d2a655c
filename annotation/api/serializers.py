"""API serializers: shapes in and out, no business rules."""

from __future__ import annotations

from django.core.files.storage import default_storage
from rest_framework import serializers

from annotation.models import Assignment, Category, Image, Project, SceneCategory, Stage, Task
from annotation.selectors.access import task_payload_for

# PostgreSQL `integer` (category ids, ids looked up): a larger id is a 400 with the range, not
# a DataError 500 from the database.
MAX_DB_INT = 2**31 - 1


class CategorySerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="coco_id", read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "supercategory", "in_coco_2014", "icon"]


class SceneSerializer(serializers.ModelSerializer):
    class Meta:
        model = SceneCategory
        fields = ["name", "indoor"]


class ProjectSerializer(serializers.ModelSerializer):
    categories = CategorySerializer(source="taxonomy.categories", many=True, read_only=True)
    scenes = SceneSerializer(source="taxonomy.scenes", many=True, read_only=True)
    image_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "created_at",
            "image_count",
            "categories",
            "scenes",
        ]


class CategoryInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DB_INT)
    name = serializers.CharField(max_length=100)
    supercategory = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    template = serializers.CharField(required=False, help_text="A template's slug, e.g. 'coco'")
    categories = CategoryInputSerializer(many=True, required=False)


class ImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id", "project", "file_name", "url", "width", "height", "checksum_sha256", "source",
            "original_url", "photographer", "date_taken", "license_name", "license_url",
            "split", "created_at",
        ]  # fmt: skip

    def get_url(self, image: Image) -> str | None:
        return default_storage.url(image.file.name) if image.file else None


class ImageUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    photographer = serializers.CharField(required=False, allow_blank=True, default="")
    date_taken = serializers.DateTimeField(required=False, allow_null=True, default=None)
    license_name = serializers.CharField(required=False, allow_blank=True, default="")
    license_url = serializers.URLField(required=False, allow_blank=True, default="")
    original_url = serializers.URLField(required=False, allow_blank=True, default="")


class TaskSerializer(serializers.ModelSerializer):
    # Null for tasks of no image (none yet) or no category (labeling): the schema says so.
    image = ImageSerializer(read_only=True, allow_null=True)
    category = CategorySerializer(read_only=True, allow_null=True)
    payload = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "project",
            "stage",
            "image",
            "category",
            "instance",
            "payload",
            "answers_needed",
        ]

    def get_payload(self, task: Task) -> dict:
        """What the task needs, as the access layer lets this person see it (without a
        request: as a worker sees it)."""
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return task_payload_for(user, task)


class AssignmentSerializer(serializers.ModelSerializer):
    task = TaskSerializer(read_only=True)

    class Meta:
        model = Assignment
        fields = ["id", "status", "leased_at", "lease_expires_at", "submitted_at", "task"]


class NextTaskRequestSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    project = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DB_INT)


class SubmitSerializer(serializers.Serializer):
    answer = serializers.JSONField()
    idempotency_key = serializers.CharField(max_length=100)
    time_spent_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)


class StageSummarySerializer(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    available = serializers.BooleanField(help_text="Whether this installation runs the stage")
    open_tasks = serializers.IntegerField()
    open_for_me = serializers.IntegerField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    blocked = serializers.BooleanField()
