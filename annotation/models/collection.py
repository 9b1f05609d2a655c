"""Stage 1 tables: search queries and the candidate photos they found (thesis §2.3.2, app. A).

A SearchQuery is one line of the collection plan ("dog car", "dog kitchen", or a single
category as the fallback) or one imported source (a folder, a URL list, an S3 prefix); it
remembers how far it got so a re-run resumes. A Candidate is one photo found by a query,
stored with its source metadata and perceptual hash until the iconic-filtering votes
accept it (it then becomes an Image) or turn it away.
"""

from django.db import models

from .images import Image
from .projects import Project
from .taxonomy import Category, SceneCategory


class SearchQuery(models.Model):
    class Kind(models.TextChoices):
        PAIR = "pair", "Object + object"
        SCENE = "scene", "Object + scene"
        SINGLE = "single", "Single object (fallback)"
        FOLDER = "folder", "Local folder"
        URLS = "urls", "URL list"
        S3 = "s3", "S3 prefix"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        PARTIAL = "partial", "Partly fetched (a re-run resumes)"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (see error)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="search_queries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The search text for Flickr, or the folder / list file / s3://bucket/prefix of a source.
    text = models.CharField(max_length=500)
    category_a = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category_b = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scene = models.ForeignKey(
        SceneCategory, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    pages_done = models.PositiveIntegerField(default=0)
    total_available = models.PositiveIntegerField(null=True, blank=True)
    # Photos this query offered (stored, capped, failed or already known), for the yield.
    offered = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project_id", "id"]
        verbose_name_plural = "search queries"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "kind", "text"], name="unique_query_per_project"
            ),
        ]
        indexes = [models.Index(fields=["project", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text}"


class Candidate(models.Model):
    """A photo offered to the collection, with what is known of its origin."""

    class Status(models.TextChoices):
        POOLED = "pooled", "Waiting for a grid"
        IN_GRID = "in_grid", "In a filtering grid"
        ACCEPTED = "accepted", "Accepted (an image)"
        ICONIC = "iconic", "Voted iconic or invalid"
        DUPLICATE = "duplicate", "Near-duplicate of another candidate"
        CAPPED = "capped", "Over the per-photographer cap"
        FAILED = "failed", "Could not be used (see reason)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="candidates")
    query = models.ForeignKey(
        SearchQuery, null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    source = models.CharField(max_length=20, choices=Image.Source.choices)
    # Unique per project: "flickr:<photo id>", a path, a URL or "s3://bucket/key".
    source_ref = models.CharField(max_length=1000)
    download_url = models.CharField(max_length=1000, blank=True)
    original_url = models.URLField(max_length=1000, blank=True)
    title = models.CharField(max_length=500, blank=True)
    file_name = models.CharField(max_length=500)
    photographer = models.CharField(max_length=200, blank=True)
    photographer_id = models.CharField(max_length=200, blank=True)
    date_taken = models.DateTimeField(null=True, blank=True)
    license_name = models.CharField(max_length=200, blank=True)
    license_url = models.URLField(max_length=500, blank=True)
    file = models.FileField(upload_to="collection/", max_length=500, blank=True)
    thumbnail = models.FileField(upload_to="collection/thumbs/", max_length=500, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    checksum_sha256 = models.CharField(max_length=64, blank=True)
    # 64-bit DCT perceptual hash as 16 hex digits (imagehash.phash).
    phash = models.CharField(max_length=16, blank=True, db_index=True)
    # The lowest candidate id of its near-duplicate group (itself when it has none).
    duplicate_group = models.BigIntegerField(null=True, blank=True, db_index=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.POOLED)
    reason = models.TextField(blank=True)
    grid_task = models.ForeignKey(
        "annotation.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    votes_marked = models.PositiveSmallIntegerField(default=0)
    votes_total = models.PositiveSmallIntegerField(default=0)
    image = models.OneToOneField(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="candidate"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source_ref"], name="unique_candidate_ref_per_project"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status"]),
            models.Index(fields=["project", "photographer_id"]),
        ]

    def __str__(self) -> str:
        return f"candidate {self.pk} ({self.source_ref}, {self.status})"
