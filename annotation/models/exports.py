"""What the COCO export keeps between runs (issue 7).

- ExportLicense: the `licenses` list of the exported files. A licence keeps its id once given
  (imported files keep theirs), so image -> licence references are stable across re-exports.
- ExportJob: one export started from the admin (or a command): what was asked, how far it
  got, and where the finished files are, with the main file's checksum.
Image ids are Image.coco_id (set on import, or given once at the first export).
"""

from django.conf import settings
from django.db import models

from .projects import Project


class ExportLicense(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_licenses")
    coco_id = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["project_id", "coco_id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "coco_id"], name="unique_license_id"),
            models.UniqueConstraint(
                fields=["project", "name", "url"], name="unique_license_name_url"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coco_id}: {self.name or self.url}"


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        INSTANCES = "instances", "COCO instances JSON"
        IMAGE_LISTS = "image-lists", "Image lists per split"
        PRESENCE = "presence", "Category-presence labels"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="export_jobs")
    split = models.CharField(max_length=5, blank=True, help_text="Blank: every image")
    kinds = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Entries written / entries to write, across all files of the job.
    done_items = models.PositiveBigIntegerField(default=0)
    total_items = models.PositiveBigIntegerField(default=0)
    folder = models.CharField(max_length=500, blank=True, help_text="Where the files are")
    files = models.JSONField(default=list, help_text="File names written, main file first")
    checksum_sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Issue 12: by default only images whose annotation is finished are exported.
    include_unfinished = models.BooleanField(
        default=False, help_text="Also export images whose annotation is not finished"
    )
    # Issue 17: the worker running the job saves this as it goes; a `running` job whose
    # heartbeat is old lost its worker and is run again (export_jobs_recover).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker started it")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.project} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == self.Status.DONE:
            return 1.0
        return min(1.0, self.done_items / self.total_items) if self.total_items else 0.0
