from django.conf import settings
from django.db import models

from annotation.stage_settings import DECLARATIONS, setting_read

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
    # Declared in annotation/stage_settings.py; read them with `project_setting`.
    stage_settings = models.JSONField(default=dict, blank=True)
    # The highest annotation id ever given (annotation_record): ids are never reused, even
    # after an annotation is discarded.
    annotation_ids_given = models.PositiveBigIntegerField(default=0, editable=False)
    image_ids_given = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def project_setting(project: Project, key: str, default=None):  # type: ignore[no-untyped-def]
    """A stage number for this project, read through its declaration in
    annotation/stage_settings.py: the saved value when it still validates, else the declared
    default (never a ValueError later; the dashboard reports the bad value). `default` only
    serves a key that is not declared yet (tests/annotation/test_stage_settings.py fails
    until it is)."""
    if key in DECLARATIONS:
        return setting_read(project.stage_settings, key)
    value = (
        project.stage_settings.get(key, default)
        if isinstance(project.stage_settings, dict)
        else default
    )
    try:
        return type(default)(value) if default is not None and value is not None else value
    except (TypeError, ValueError):
        return default
