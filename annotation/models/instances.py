from django.db import models

from .images import Image
from .taxonomy import Category


class Instance(models.Model):
    """One object in an image, from the first spot to its accepted mask.

    The spotting, segmentation and verification stages fill in and advance it; the task
    engine only refers to it.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="instances")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="instances")
    spot_x = models.FloatField(null=True, blank=True)
    spot_y = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.category.name} in image {self.image_id}"
