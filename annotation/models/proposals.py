from django.db import models

from .images import Image


class ImageProposals(models.Model):
    """Class-agnostic mask proposals the model service made for one image, per model
    version ("sharpmask/v0003"), best first. Each proposal: ``rle`` (COCO, compressed
    counts), ``polygon`` (flat, simplified), ``bbox_xywh``, ``score``, ``area``."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="proposal_sets")
    model_version = models.CharField(max_length=100)
    proposals = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "model_version"], name="unique_proposals_per_image_version"
            )
        ]

    def __str__(self) -> str:
        return f"{len(self.proposals)} proposals of image {self.image_id} ({self.model_version})"
