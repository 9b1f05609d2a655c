from django.db import models

from .images import Image
from .projects import Project
from .segmentation import Segmentation
from .taxonomy import Category


class Annotation(models.Model):
    """An accepted object annotation exactly as the COCO export writes it.

    Rows come from verified segmentations (polygons, iscrowd 0), from crowd painting (one
    RLE region, iscrowd 1) and from imported COCO files (which keep their area and bbox).
    `coco_id` is the exported annotation id: >= 1, unique in the project, never reused, so
    re-exports are stable. Create rows with annotation.services.annotations.annotation_record.
    """

    class Origin(models.TextChoices):
        SEGMENTATION = "segmentation", "Verified segmentation"
        CROWD = "crowd", "Crowd painting"
        IMPORT = "import", "Imported COCO file"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    coco_id = models.PositiveBigIntegerField()
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="annotations")
    iscrowd = models.BooleanField(default=False)
    # iscrowd 0: COCO polygon lists [[x1, y1, ...], ...]; iscrowd 1: RLE {"size": [h, w],
    # "counts": "<compressed string>"} as the released files store crowd regions.
    segmentation = models.JSONField()
    area = models.FloatField()
    bbox_xywh = models.JSONField()
    origin = models.CharField(max_length=20, choices=Origin.choices)
    source_segmentation = models.OneToOneField(
        Segmentation, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotation"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "coco_id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "coco_id"], name="unique_annotation_id"),
            models.CheckConstraint(condition=models.Q(coco_id__gte=1), name="annotation_id_ge_1"),
        ]
        indexes = [models.Index(fields=["image", "category"])]

    def __str__(self) -> str:
        return f"annotation {self.coco_id} ({self.category.name}, image {self.image_id})"
