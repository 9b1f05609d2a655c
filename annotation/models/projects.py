from django.conf import settings
from django.db import models

from .taxonomy import Taxonomy


class Project(models.Model):
    """A dataset being built: it owns its taxonomy, its images and its tasks."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    taxonomy = models.OneToOneField(Taxonomy, on_delete=models.PROTECT, related_name="project")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Per-project overrides of stage numbers (answers per task, grid sizes, thresholds...).
    # Each stage module declares its defaults; read them with `project_setting`.
    stage_settings = models.JSONField(default=dict, blank=True)
    # The highest annotation id ever given (annotation_record): ids are never reused, even
    # after an annotation is discarded.
    annotation_ids_given = models.PositiveBigIntegerField(default=0, editable=False)
    image_ids_given = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def project_setting(project: Project, key: str, default):  # type: ignore[no-untyped-def]
    """A stage number for this project: its override if set, else the stage's default."""
    value = project.stage_settings.get(key, default)
    return type(default)(value) if default is not None and value is not None else value
