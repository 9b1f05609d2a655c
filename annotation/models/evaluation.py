from django.conf import settings
from django.db import models

from .projects import Project


class Release(models.Model):
    """A published dataset release with an evaluation server (COCO's test-dev model).

    The hidden test ground truth is kept gzipped in the database: never in media storage,
    never serialised by the API, never shown on a page or in an error message.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    iou_types = models.JSONField(default=list)  # e.g. ["bbox", "segm"]
    hidden_ground_truth_gz = models.BinaryField(editable=False)
    # Public facts about the test set (COCO publishes the test images, not their labels).
    image_count = models.PositiveIntegerField(default=0)
    category_count = models.PositiveIntegerField(default=0)
    # Submissions per person per release per UTC day: repeated probing of hidden labels is
    # what this limit stands against (the COCO server allowed 5 a day).
    daily_submission_limit = models.PositiveSmallIntegerField(default=5)
    accepting_submissions = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Submission(models.Model):
    """One results file scored against a release's hidden ground truth."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being evaluated"
        DONE = "done", "Scored"
        FAILED = "failed", "Failed"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="submissions")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    method_name = models.CharField(max_length=200)
    iou_type = models.CharField(max_length=10)
    results_file_name = models.CharField(max_length=300)
    # The uploaded results file in media storage under a random name (submissions/...);
    # parsed by the Celery task, never in the web request. results_gz holds the files of
    # submissions uploaded before issue 17 (kept in the database then).
    results_file = models.FileField(upload_to="submissions/", max_length=200, blank=True)
    results_gz = models.BinaryField(editable=False, default=b"")
    detection_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # pycocotools' 12 summary numbers in its order: AP, AP50, AP75, APs, APm, APl,
    # AR1, AR10, AR100, ARs, ARm, ARl.
    stats = models.JSONField(null=True, blank=True)
    per_category_ap = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["release", "status", "iou_type"])]

    def __str__(self) -> str:
        return f"{self.method_name} on {self.release} ({self.iou_type}, {self.status})"
