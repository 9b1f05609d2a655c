"""Amazon Mechanical Turk: what cocoforge published there and what came back.

One HIT carries one cocoforge Task (MaxAssignments = the task's answers_needed), shown as an
ExternalQuestion that opens the stage's tool page on this site. A worker who arrives from
MTurk is matched to a cocoforge account by their MTurk worker id (no password); each MTurk
assignment they submit is linked to the cocoforge answer slot (Assignment) it filled, so
approval, rejection and bonuses follow the verdict of verification and gold checks.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from .projects import Project
from .tasks import Assignment, Task
from .taxonomy import Category


class MTurkWorker(models.Model):
    """An MTurk worker id and the cocoforge account it signs in as."""

    worker_id = models.CharField(max_length=64, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_worker"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["worker_id"]

    def __str__(self) -> str:
        return f"MTurk worker {self.worker_id}"


class MTurkHIT(models.Model):
    class Status(models.TextChoices):
        ASSIGNABLE = "assignable", "Assignable"
        UNASSIGNABLE = "unassignable", "All assignments taken"
        REVIEWABLE = "reviewable", "Reviewable"
        EXPIRED = "expired", "Expired (by cocoforge or MTurk)"
        DISPOSED = "disposed", "Disposed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="mturk_hits")
    task = models.ForeignKey(Task, null=True, on_delete=models.SET_NULL, related_name="mturk_hits")
    stage = models.CharField(max_length=20)
    hit_id = models.CharField(max_length=64, unique=True)
    hit_type_id = models.CharField(max_length=64, blank=True, default="")
    # Which endpoint the HIT lives on: the requester sandbox unless production was chosen.
    sandbox = models.BooleanField(default=True)
    reward = models.DecimalField(max_digits=8, decimal_places=2)
    max_assignments = models.PositiveSmallIntegerField()
    lifetime_seconds = models.PositiveIntegerField()
    auto_approval_delay_seconds = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ASSIGNABLE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["project", "status"])]
        constraints = [
            # A task is published at most once per endpoint while its HIT is live.
            models.UniqueConstraint(
                fields=["task", "sandbox"],
                condition=models.Q(status__in=["assignable", "unassignable", "reviewable"]),
                name="one_live_hit_per_task",
            )
        ]

    def __str__(self) -> str:
        return f"HIT {self.hit_id} ({self.stage})"


class MTurkAssignment(models.Model):
    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted by the worker (working)"
        SUBMITTED = "submitted", "Submitted, awaiting review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    hit = models.ForeignKey(MTurkHIT, on_delete=models.CASCADE, related_name="assignments")
    assignment_id = models.CharField(max_length=64, unique=True)
    worker = models.ForeignKey(MTurkWorker, on_delete=models.CASCADE, related_name="assignments")
    # The cocoforge answer slot this MTurk assignment filled (null until the worker submits).
    answer_slot = models.OneToOneField(
        Assignment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mturk_assignment",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACCEPTED)
    accepted_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # The reason sent to the worker with a rejection (from verification or the gold check).
    reject_reason = models.TextField(blank=True, default="")
    bonus = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    bonus_paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"MTurk assignment {self.assignment_id} ({self.status})"


class MTurkQualificationType(models.Model):
    """The qualification type that stands for "passed segmentation training" in a category;
    granted on MTurk when the worker passes training here."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="mturk_qualification_types"
    )
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    sandbox = models.BooleanField(default=True)
    qualification_type_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "category_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "category", "sandbox"],
                name="one_qualification_type_per_category",
            )
        ]

    def __str__(self) -> str:
        return f"MTurk qualification {self.qualification_type_id}"


class MTurkProblem(models.Model):
    """Something MTurk reported that does not match what cocoforge recorded (a different
    worker on an assignment, an assignment cocoforge never saw, a submit without an answer).
    The worker-side entry is unauthenticated by design, so nothing is paid or reviewed
    automatically while an assignment has an open problem; the Marketplace page lists them."""

    class Kind(models.TextChoices):
        WORKER_MISMATCH = "worker_mismatch", "MTurk's worker differs from cocoforge's"
        UNKNOWN_ASSIGNMENT = "unknown_assignment", "Assignment cocoforge never recorded"
        NO_ANSWER = "no_answer", "Submitted on MTurk without a cocoforge answer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="mturk_problems")
    hit = models.ForeignKey(
        MTurkHIT, null=True, blank=True, on_delete=models.CASCADE, related_name="problems"
    )
    assignment_id = models.CharField(max_length=64)
    mturk_worker_id = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # A sync that sees the same mismatch again records it once.
            models.UniqueConstraint(fields=["assignment_id", "kind"], name="one_problem_per_kind")
        ]

    def __str__(self) -> str:
        return f"MTurk problem {self.kind} on {self.assignment_id}"
