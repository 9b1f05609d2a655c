"""What the labeling and spotting stages keep (thesis §2.4.1-2.4.2).

- CategoryPresence: a category some labeling worker placed in an image, with every icon
  position placed for it (they prime the spotting task).
- Spot: one cross one spotting worker placed on one instance; every cross is kept with its
  worker, and the segmentation stage reads them as candidate instances.
"""

from django.conf import settings
from django.db import models

from .images import Image
from .tasks import Assignment, Task
from .taxonomy import Category


class CategoryPresence(models.Model):
    """A category present in an image: at least one labeling worker dragged its icon there."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="category_presences")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="presences")
    labeling_task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="presences_found"
    )
    # [{"worker": user id, "x": float, "y": float}] in image pixels (after EXIF orientation).
    positions = models.JSONField(default=list)
    spotting_task = models.OneToOneField(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="primed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "category_id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "category"], name="one_presence_per_category")
        ]

    def __str__(self) -> str:
        return f"{self.category.name} present in image {self.image_id}"


class Spot(models.Model):
    """One cross on one instance, by one spotting worker (x, y in image pixels)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="spots")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="spots")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="spots")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="spots")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spots"
    )
    x = models.FloatField()
    y = models.FloatField()
    # Order of the cross within the worker's answer (0 first).
    rank = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_id", "category_id", "assignment_id", "rank"]
        indexes = [models.Index(fields=["image", "category"])]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "rank"], name="one_spot_per_rank")
        ]

    def __str__(self) -> str:
        return f"{self.category.name} at ({self.x:.0f}, {self.y:.0f}) in image {self.image_id}"
