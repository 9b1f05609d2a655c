"""What segmentation verification and crowd painting keep (thesis §2.4.3, appendix A
"Segmentation Verification" and "Crowd Labeling").

- GoldItem: a known-bad mask made by an expert (deliberately bad, or a mask that failed
  verification); 4 are mixed into every grid to check that the verifier is paying attention.
- GridCell: one cell of a verification grid (a Task of the verification stage). Its `cell_id`
  is an opaque random token: the API shows only that, so a gold cell looks like any other.
- GridOutcome: how one verifier's answer to a grid went on the gold cells; a failed one voids
  the answer's votes and counts against the verifier.
- VerificationVote: one verifier's judgement of one segmentation (good or poor); only votes
  of answers that passed the gold check are `counted`.
- VerificationDecision: the verdict on a segmentation (accepted, rejected by the votes, or
  discarded because its author was blocked) and the segmentation task re-posted for it.
- CrowdPainting: one worker's painted crowd region and the Annotation it became.
"""

from django.conf import settings
from django.db import models

from .annotations import Annotation
from .images import Image
from .projects import Project
from .segmentation import Segmentation
from .tasks import Assignment, Task
from .taxonomy import Category


class GoldItem(models.Model):
    class Source(models.TextChoices):
        EXPERT = "expert", "Drawn badly on purpose by an expert"
        FAILED = "failed_verification", "A mask that failed verification"
        GENERATED = "generated", "An accepted mask with a worker's kind of error"

    class ErrorKind(models.TextChoices):
        """How a generated gold item was made from an accepted mask (the errors real
        segmenters make)."""

        NONE = "", "-"
        SHIFTED = "shifted", "Outline shifted off the object"
        ERODED = "eroded", "Outline too tight (parts of the object cut off)"
        DILATED = "dilated", "Outline too loose (background included)"
        NEIGHBOUR = "neighbour", "A neighbouring object of another category"
        LOOSE = "loose", "One loose polygon around several objects"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_items")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="gold_items")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="gold_items")
    # COCO polygon lists, like Segmentation.polygons.
    polygons = models.JSONField()
    area = models.FloatField()
    bbox_xywh = models.JSONField()
    source = models.CharField(max_length=20, choices=Source.choices)
    source_segmentation = models.OneToOneField(
        Segmentation, null=True, blank=True, on_delete=models.SET_NULL, related_name="gold_item"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gold_items",
    )
    # Generated gold: the accepted mask it was made from and the error applied to it.
    derived_from = models.ForeignKey(
        Segmentation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="derived_gold",
    )
    error_kind = models.CharField(max_length=12, choices=ErrorKind.choices, blank=True)
    active = models.BooleanField(default=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gold_retired",
    )
    retired_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"gold {self.pk}: bad {self.category.name} mask in image {self.image_id}"


class GridCell(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="grid_cells")
    # Opaque and random: nothing in it tells a gold cell from a segmentation.
    cell_id = models.CharField(max_length=32, unique=True)
    position = models.PositiveSmallIntegerField()
    segmentation = models.ForeignKey(
        Segmentation, null=True, blank=True, on_delete=models.CASCADE, related_name="grid_cells"
    )
    gold = models.ForeignKey(
        GoldItem, null=True, blank=True, on_delete=models.CASCADE, related_name="grid_cells"
    )
    # Seeds the cell picture's crop, size and pixel noise (annotation/services/cell_pictures.py)
    # so that no picture can be re-drawn from what an annotator can read.
    render_seed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["task_id", "position"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(segmentation__isnull=False, gold__isnull=True)
                    | models.Q(segmentation__isnull=True, gold__isnull=False)
                ),
                name="grid_cell_is_segmentation_or_gold",
            ),
            models.UniqueConstraint(fields=["task", "position"], name="one_grid_cell_per_position"),
        ]

    def __str__(self) -> str:
        return f"cell {self.position} of grid {self.task_id}"

    @property
    def is_gold(self) -> bool:
        return self.gold_id is not None


class GridOutcome(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="grid_outcomes")
    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="grid_outcome"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grid_outcomes"
    )
    gold_caught = models.PositiveSmallIntegerField()
    gold_shown = models.PositiveSmallIntegerField()
    passed = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        state = "passed" if self.passed else "void"
        return (
            f"grid {self.task_id} by {self.worker}: {self.gold_caught}/{self.gold_shown} ({state})"
        )


class VerificationVote(models.Model):
    cell = models.ForeignKey(GridCell, on_delete=models.CASCADE, related_name="votes")
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="verification_votes"
    )
    segmentation = models.ForeignKey(
        Segmentation, on_delete=models.CASCADE, related_name="verification_votes"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verification_votes"
    )
    good = models.BooleanField()
    # False when the answer missed the gold: the vote is kept for the record, never tallied.
    counted = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "segmentation"], name="one_vote_per_answer_and_mask"
            )
        ]
        indexes = [models.Index(fields=["segmentation", "counted"])]

    def __str__(self) -> str:
        return f"{'good' if self.good else 'poor'} vote on mask {self.segmentation_id}"


class VerificationDecision(models.Model):
    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted by the votes"
        REJECTED = "rejected", "Rejected by the votes"
        DISCARDED = "discarded", "Discarded: its author was blocked"

    segmentation = models.OneToOneField(
        Segmentation, on_delete=models.CASCADE, related_name="verification_decision"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    good_votes = models.PositiveSmallIntegerField(default=0)
    bad_votes = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(max_length=200, blank=True)
    # The segmentation task posted again for the instance (rejected or discarded masks).
    requeued_task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="requeued_for"
    )
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"mask {self.segmentation_id}: {self.outcome}"


class CrowdPainting(models.Model):
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="crowd_painting")
    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="crowd_painting"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crowd_paintings"
    )
    annotation = models.OneToOneField(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="painting"
    )
    # Painted pixels (0 when the worker said nothing was left to paint).
    area = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"crowd painting of task {self.task_id} ({self.area} px)"
