"""The generic task engine's tables.

A Task is one unit of work of a stage; it needs `answers_needed` answers from different
workers. Each answer slot is an Assignment row created with the task, so handing out work
is "lock one free slot" (`SELECT ... FOR UPDATE SKIP LOCKED`): concurrent requests never
hand out more slots than exist.
"""

from django.conf import settings
from django.db import models

from .images import Image
from .instances import Instance
from .projects import Project
from .taxonomy import Category


class Stage(models.TextChoices):
    """The pipeline stages, in COCO's order (thesis §2.4, appendix A)."""

    COLLECTION = "collection", "Iconic image filtering"
    LABELING = "labeling", "Category labeling"
    SPOTTING = "spotting", "Instance spotting"
    SEGMENTATION = "segmentation", "Instance segmentation"
    VERIFICATION = "verification", "Segmentation verification"
    CROWD = "crowd", "Crowd painting"


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        CANCELLED = "cancelled", "Cancelled"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.CASCADE)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE)
    instance = models.ForeignKey(Instance, null=True, blank=True, on_delete=models.CASCADE)
    payload = models.JSONField(default=dict, blank=True)
    answers_needed = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # Lower runs first; stages use it to post tasks one after another.
    priority = models.IntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "id"]
        # The lease query reads a project's open tasks of a stage in (priority, id) order
        # and stops after a page (issue 17): this index serves it without a sort.
        indexes = [models.Index(fields=["project", "stage", "status", "priority", "id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(answers_needed__gte=1), name="needs_answers")
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} task {self.pk}"


class Assignment(models.Model):
    """One answer slot of a task: free, leased to a worker, or answered."""

    class Status(models.TextChoices):
        FREE = "free", "Free (in the pool)"
        LEASED = "leased", "Leased"
        SUBMITTED = "submitted", "Submitted"
        REJECTED = "rejected", "Rejected by quality control"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FREE)
    leased_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)
    time_spent_seconds = models.FloatField(null=True, blank=True)
    submission_key = models.CharField(max_length=100, null=True, blank=True)
    # How often this slot's lease ran out before an answer came (for the admin).
    expired_leases = models.PositiveIntegerField(default=0)
    # Who held the lease that last ran out: their late submit is told "lease expired" (409)
    # rather than "not yours", even after the slot went back to the pool.
    expired_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["worker", "status"]),
        ]
        constraints = [
            # A worker holds or answers at most one slot of a task, a rejected answer
            # included: different workers answer it (a fresh slot after a rejection goes to
            # someone else). The database decides, whatever two requests read before.
            models.UniqueConstraint(
                fields=["task", "worker"],
                condition=models.Q(status__in=["leased", "submitted", "rejected"]),
                name="one_answer_per_worker_and_task",
            ),
            models.UniqueConstraint(
                fields=["worker", "submission_key"],
                condition=models.Q(submission_key__isnull=False),
                name="unique_submission_key_per_worker",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} of task {self.task_id} ({self.status})"
