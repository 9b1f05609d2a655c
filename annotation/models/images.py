from django.db import models

from .projects import Project


class Image(models.Model):
    """A stored photo. Width and height are after EXIF orientation (as a browser shows it)."""

    class Split(models.TextChoices):
        NONE = "", "Not assigned"
        TRAIN = "train", "train"
        VAL = "val", "val"
        TEST = "test", "test"

    class Source(models.TextChoices):
        FOLDER = "folder", "Local folder"
        URL = "url", "URL"
        PATH = "path", "Local path"
        UPLOAD = "upload", "API upload"
        FLICKR = "flickr", "Flickr"
        S3 = "s3", "S3 bucket"
        COCO = "coco", "COCO JSON import"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to="images/", max_length=500, blank=True)
    file_name = models.CharField(max_length=500, help_text="Original file name, as exported")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    checksum_sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=20, choices=Source.choices)
    original_url = models.URLField(max_length=1000, blank=True)
    photographer = models.CharField(max_length=200, blank=True)
    date_taken = models.DateTimeField(null=True, blank=True)
    license_name = models.CharField(max_length=200, blank=True)
    license_url = models.URLField(max_length=500, blank=True)
    split = models.CharField(max_length=5, choices=Split.choices, default=Split.NONE, blank=True)
    # The exported image id: kept from an imported COCO file, else given once at the first
    # export (annotation.services.coco_export.image_ids_assign) and never changed.
    coco_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "checksum_sha256"], name="unique_image_checksum_per_project"
            ),
            models.UniqueConstraint(fields=["project", "coco_id"], name="unique_image_coco_id"),
        ]
        indexes = [models.Index(fields=["project", "split"])]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.width}x{self.height})"


class ImageRejection(models.Model):
    """A record of an input that was not stored as an image, and why."""

    class Reason(models.TextChoices):
        NOT_AN_IMAGE = "not_an_image", "Not an image"
        TRUNCATED = "truncated", "Truncated or corrupt image"
        DECOMPRESSION_BOMB = "decompression_bomb", "Too many pixels (decompression bomb)"
        DUPLICATE = "duplicate", "Duplicate of a stored image (same checksum)"
        TOO_LARGE = "too_large", "File too large"
        UNREADABLE = "unreadable", "Could not read or download"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rejections")
    source_ref = models.CharField(max_length=1000, help_text="Path or URL that was offered")
    reason = models.CharField(max_length=30, choices=Reason.choices)
    detail = models.TextField(blank=True)
    checksum_sha256 = models.CharField(max_length=64, blank=True)
    duplicate_of = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.source_ref}: {self.get_reason_display()}"
