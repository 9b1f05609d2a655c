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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
