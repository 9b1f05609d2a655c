"""What the instance segmentation stage keeps (thesis §2.4.3, appendix A "Instance
Segmentation").

- SegmentationProgress: where an (image, category) stands: still segmenting one instance after
  another, done, or past the cap and left to crowd painting.
- Segmentation: one worker's outline of one instance, as COCO polygons with the area and box
  the exporter writes; pending until verification accepts or rejects it.
- ReferenceMask: an expert's ground-truth outline, used for training tasks.
- Qualification and TrainingAttempt: a worker's training on one category; only a passed
  qualification opens that category's segmentation tasks.
"""

from django.conf import settings
from django.db import models

from .images import Image
from .instances import Instance
from .tasks import Assignment, Task
from .taxonomy import Category


class SegmentationProgress(models.Model):
    class State(models.TextChoices):
        SEGMENTING = "segmenting", "Segmenting one instance after another"
        DONE = "done", "Every spotted instance handled"
        CROWD = "crowd", "Cap reached: the rest is left to crowd painting"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="segmentation_progress")
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="segmentation_progress"
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.SEGMENTING)
    # Why it stopped, for the admin ("all instances segmented", "no spots left", ...).
    reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["image_id", "category_id"]
        verbose_name_plural = "segmentation progress"  # not Django's "progresss"
        constraints = [
            models.UniqueConstraint(
                fields=["image", "category"], name="one_segmentation_progress_per_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category.name} in image {self.image_id}: {self.state}"


class Segmentation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending verification"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="segmentations")
    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="segmentation"
    )
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="segmentations")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="segmentations")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="segmentations")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="segmentations"
    )
    # COCO polygon lists [[x1, y1, x2, y2, ...], ...], normalised by annotation.geometry.
    polygons = models.JSONField()
    area = models.FloatField()
    bbox_xywh = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Effort, per assignment (thesis: 22 worker-hours per 1,000 instances).
    vertices = models.PositiveIntegerField(default=0)  # vertices the worker placed
    edits = models.PositiveIntegerField(default=0)  # moves, inserts, deletes, undos
    seconds = models.FloatField(null=True, blank=True)
    from_suggestion = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["image", "category", "status"])]

    def __str__(self) -> str:
        return f"{self.category.name} mask {self.pk} in image {self.image_id} ({self.status})"


class ReferenceMask(models.Model):
    """The ground truth of a training task: an expert's outline of one instance, or an
    accepted mask every verifier judged good."""

    class Source(models.TextChoices):
        EXPERT = "expert", "Outlined by an expert"
        ACCEPTED = "accepted", "An accepted mask with only good votes"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="reference_masks")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="reference_masks")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reference_masks",
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.EXPERT)
    source_segmentation = models.OneToOneField(
        Segmentation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="training_reference",
    )
    # The point shown to trainees: which object to outline.
    spot_x = models.FloatField()
    spot_y = models.FloatField()
    polygons = models.JSONField()
    area = models.FloatField()
    bbox_xywh = models.JSONField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"reference {self.category.name} in image {self.image_id}"


class Qualification(models.Model):
    """A worker's training on one category; `passed` opens that category's tasks."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qualifications"
    )
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="qualifications")
    tries = models.PositiveIntegerField(default=0)
    passed = models.BooleanField(default=False)
    best_iou = models.FloatField(default=0.0)
    passed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["category_id", "worker_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "category"], name="one_qualification_per_worker_and_category"
            )
        ]

    def __str__(self) -> str:
        state = "qualified" if self.passed else "training"
        return f"{self.worker} on {self.category.name}: {state}"


class TrainingAttempt(models.Model):
    """One training instance handed to a worker (created when it is handed out) and, once
    submitted, their outline and its score. A worker gets each reference at most once."""

    qualification = models.ForeignKey(
        Qualification, on_delete=models.CASCADE, related_name="attempts"
    )
    reference = models.ForeignKey(ReferenceMask, on_delete=models.CASCADE, related_name="attempts")
    polygons = models.JSONField(null=True, blank=True)
    iou = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    # Feedback areas in px: of the reference not covered, of the outline outside it.
    missed_area = models.FloatField(null=True, blank=True)
    added_area = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)  # handed out
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["qualification", "reference"],
                name="one_training_attempt_per_reference_and_worker",
            )
        ]

    def __str__(self) -> str:
        if self.iou is None:
            return f"attempt {self.pk}: handed out"
        return f"attempt {self.pk}: IoU {self.iou:.2f}"
