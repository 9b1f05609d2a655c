"""The periodic sweep: repairs what a lost hand-off message left behind.

A hand-off travels as a signal sent after the commit (annotation/events.py) and a Celery
message (pipelines/tasks/). The message can still be lost: the broker restarts, a worker is
killed before it acknowledged and the message expires, a `.delay()` fails after the commit.
Each hand-off leaves a mark in the database that says whether it ran, so the sweep finds the
ones that did not and sends their signal again; every task a signal queues is idempotent,
so a repair that races the original message changes nothing.

What it repairs (each one query when nothing is wrong; only marks older than the grace
period `PIPELINE_SWEEP_GRACE_SECONDS` count, so a message still on its way is not repeated):
- expired leases go back to the pool;
- a complete task whose completion rule never ran (status complete, no result; a
  verification grid included);
- spotted (image, category) pairs that never got their first segmentation task;
- segmentation pairs left with no open task, no mask waiting for verification and no
  answer waiting for its rule (the next instance was never posted);
- pending masks enough for a full verification grid that sit in no grid;
- pairs marked for crowd painting without a painting task;
- accepted collection photos without a labeling task;
- evaluation submissions still pending after the long-task time limit (a dead worker).
Run by celery beat (`sweep-pipeline` in CELERY_BEAT_SCHEDULE) and by
`python manage.py pipeline_sweep`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.utils import timezone

from annotation import events
from annotation.models import Candidate, Project, Stage, Task
from annotation.models.evaluation import Submission
from annotation.models.projects import project_setting
from annotation.models.segmentation import Segmentation, SegmentationProgress
from annotation.models.verification import GridCell
from annotation.services import task_engine
from annotation.services.export_jobs import export_jobs_recover, stale_after
from annotation.stages import segmentation, verification

REPAIR_LIMIT = 1000  # tasks re-advanced per sweep; the next sweep takes the rest


@dataclass
class SweepReport:
    """What one sweep found and sent on again (ids, so an operator can look them up)."""

    leases_released: int = 0
    completions_rerun: list[int] = field(default_factory=list)  # task ids
    segmentation_started: list[int] = field(default_factory=list)  # project ids
    segmentation_resumed: list[int] = field(default_factory=list)  # project ids
    grids_posted: list[int] = field(default_factory=list)  # project ids
    crowd_posted: list[int] = field(default_factory=list)  # project ids
    labeling_posted: list[int] = field(default_factory=list)  # image ids
    evaluations_requeued: list[int] = field(default_factory=list)  # submission ids
    exports_recovered: list[int] = field(default_factory=list)  # export job ids
    partial_grids_posted: int = 0  # grids of a small final batch, after a quiet period

    @property
    def repairs(self) -> int:
        """How many lost hand-offs were sent again (expired leases are routine, not counted)."""
        return sum(len(value) for value in vars(self).values() if isinstance(value, list))

    def lines(self) -> list[str]:
        return [
            f"expired leases released: {self.leases_released}",
            f"completion rules run again: {_ids(self.completions_rerun)}",
            f"projects whose segmentation was started: {_ids(self.segmentation_started)}",
            f"projects whose waiting pairs were moved on: {_ids(self.segmentation_resumed)}",
            f"projects asked to post verification grids: {_ids(self.grids_posted)}",
            f"projects asked to post crowd painting tasks: {_ids(self.crowd_posted)}",
            f"images sent to category labeling: {_ids(self.labeling_posted)}",
            f"evaluation submissions queued again: {_ids(self.evaluations_requeued)}",
            f"export jobs a dead worker left, queued again: {_ids(self.exports_recovered)}",
            f"partial verification grids posted after a quiet period: {self.partial_grids_posted}",
        ]


def _ids(ids: list[int]) -> str:
    if not ids:
        return "none"
    shown = ", ".join(str(i) for i in ids[:20])
    return f"{len(ids)} ({shown}{', ...' if len(ids) > 20 else ''})"


def pipeline_sweep(*, now: datetime | None = None, grace: timedelta | None = None) -> SweepReport:
    """Find the marks of lost hand-offs and send their signals again. Idempotent."""
    now = now or timezone.now()
    if grace is None:
        grace = timedelta(seconds=settings.PIPELINE_SWEEP_GRACE_SECONDS)
    cutoff = now - grace
    report = SweepReport(leases_released=task_engine.leases_release_expired(now=now))

    report.completions_rerun = list(
        Task.objects.filter(
            status=Task.Status.COMPLETE, result__isnull=True, completed_at__lt=cutoff
        )
        .order_by("id")
        .values_list("id", flat=True)[:REPAIR_LIMIT]
    )
    for task_id in report.completions_rerun:
        events.send_on_commit(events.task_completed, task_id=task_id)

    report.segmentation_started = _projects_with_unstarted_pairs(cutoff)
    for project_id in report.segmentation_started:
        events.send_on_commit(events.spots_ready, project_id=project_id)

    report.segmentation_resumed = _projects_with_stalled_pairs(cutoff)
    for project_id in report.segmentation_resumed:
        events.send_on_commit(events.masks_verified, project_id=project_id)

    report.grids_posted = _projects_with_a_full_grid_waiting(cutoff)
    for project_id in report.grids_posted:
        events.send_on_commit(events.masks_ready, project_id=project_id)

    report.crowd_posted = _projects_with_unpainted_pairs(cutoff)
    for project_id in report.crowd_posted:
        events.send_on_commit(events.crowd_pairs_ready, project_id=project_id)

    by_project = _accepted_photos_without_labeling(cutoff)
    for project_id, image_ids in sorted(by_project.items()):
        report.labeling_posted.extend(image_ids)
        events.send_on_commit(
            events.images_ready_for_labeling, project_id=project_id, image_ids=image_ids
        )

    evaluation_limit = timedelta(seconds=settings.PIPELINE_LONG_TASK_TIME_LIMIT)
    report.evaluations_requeued = list(
        Submission.objects.filter(
            status=Submission.Status.PENDING, created_at__lt=cutoff - evaluation_limit
        )
        .order_by("id")
        .values_list("id", flat=True)[:REPAIR_LIMIT]
    )
    for submission_id in report.evaluations_requeued:
        events.send_on_commit(events.submission_ready, submission_id=submission_id)

    # Export jobs a dead worker left `running` (no heartbeat) or whose message was lost.
    report.exports_recovered = export_jobs_recover(older_than=stale_after())
    # A small final batch of masks never fills a grid: post it once no new mask has come.
    report.partial_grids_posted = verification.verification_partial_grids_post(now=now)
    return report


def _projects_with_unstarted_pairs(cutoff: datetime) -> list[int]:
    """Complete spotting tasks that kept spots but whose (image, category) has no
    segmentation yet. Read from the tasks (their result counts the kept spots), not from
    the spots: eight times fewer rows."""
    started = SegmentationProgress.objects.filter(
        image_id=OuterRef("image_id"), category_id=OuterRef("category_id")
    )
    return list(
        Task.objects.filter(
            stage=Stage.SPOTTING,
            status=Task.Status.COMPLETE,
            completed_at__lt=cutoff,
            result__spots__gt=0,
        )
        .exclude(Exists(started))
        .values_list("project_id", flat=True)
        .distinct()
        .order_by("project_id")
    )


def _projects_with_stalled_pairs(cutoff: datetime) -> list[int]:
    """Segmenting pairs with nothing in flight (`segmentation.pairs_waiting`)."""
    return list(
        segmentation.pairs_waiting()
        .filter(updated_at__lt=cutoff)
        .values_list("image__project_id", flat=True)
        .distinct()
        .order_by("image__project_id")
    )


def _projects_with_a_full_grid_waiting(cutoff: datetime) -> list[int]:
    """Projects with at least a full grid's worth of pending masks in no unfinished grid
    (smaller remainders wait for more masks or an admin's partial grid)."""
    in_grid = GridCell.objects.filter(segmentation_id=OuterRef("pk")).filter(
        Q(task__status=Task.Status.OPEN)
        | Q(task__status=Task.Status.COMPLETE, task__result__isnull=True)
    )
    waiting = (
        Segmentation.objects.filter(
            image__project_id=OuterRef("pk"),
            status=Segmentation.Status.PENDING,
            created_at__lt=cutoff,
        )
        .exclude(Exists(in_grid))
        .order_by()
        .values("image__project_id")
        .annotate(masks=Count("id"))
        .values("masks")
    )
    full = []
    for project in (
        Project.objects.annotate(waiting=Subquery(waiting)).filter(waiting__gt=0).order_by("id")
    ):
        size = project_setting(project, "verification_grid_size", verification.GRID_SIZE)
        gold = project_setting(project, "verification_gold_per_grid", verification.GOLD_PER_GRID)
        if project.waiting >= size - gold:
            full.append(project.id)
    return full


def _projects_with_unpainted_pairs(cutoff: datetime) -> list[int]:
    has_task = Task.objects.filter(
        stage=Stage.CROWD, image_id=OuterRef("image_id"), category_id=OuterRef("category_id")
    ).exclude(status=Task.Status.CANCELLED)
    return list(
        SegmentationProgress.objects.filter(
            state=SegmentationProgress.State.CROWD, updated_at__lt=cutoff
        )
        .exclude(Exists(has_task))
        .values_list("image__project_id", flat=True)
        .distinct()
        .order_by("image__project_id")
    )


def _accepted_photos_without_labeling(cutoff: datetime) -> dict[int, list[int]]:
    labeled = Task.objects.filter(stage=Stage.LABELING, image_id=OuterRef("image_id")).exclude(
        status=Task.Status.CANCELLED
    )
    rows = (
        Candidate.objects.filter(
            status=Candidate.Status.ACCEPTED,
            image__isnull=False,
            grid_task__completed_at__lt=cutoff,
        )
        .exclude(Exists(labeled))
        .values_list("project_id", "image_id")
        .order_by("project_id", "image_id")[:REPAIR_LIMIT]
    )
    by_project: dict[int, list[int]] = {}
    for project_id, image_id in rows:
        by_project.setdefault(project_id, []).append(image_id)
    return by_project
