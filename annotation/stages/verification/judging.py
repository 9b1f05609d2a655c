"""Stage 5, a completed grid: each answer is judged against the gold. An answer that catches
fewer than `verification_min_gold_caught` (3) of the 4 gold cells is void: its votes are kept
uncounted, a GridOutcome records it against the worker, and the answer is rejected through the
task engine, so the grid goes back to the pool. When every answer passed, each mask is
decided (decisions.py), the authors are checked (blocking.py) and the next round is posted."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Exists, OuterRef

from annotation import events
from annotation.models import Assignment, Task
from annotation.models.projects import project_setting
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GridCell, GridOutcome, VerificationVote
from annotation.services import task_engine
from annotation.stages.verification.blocking import segmenter_check
from annotation.stages.verification.decisions import segmentation_decide
from annotation.stages.verification.defaults import MIN_GOLD_CAUGHT
from annotation.stages.verification.grids import NotEnoughGold, verification_post_grids
from annotation.stages.verification.votes import ACCEPTED, PENDING, REJECTED

logger = logging.getLogger(__name__)


def _judge_answer(task: Task, cells: list[GridCell], assignment: Assignment) -> GridOutcome:
    """Record an answer's votes; void (uncounted) when it missed the gold."""
    poor = set((assignment.answer or {}).get("poor", []))
    worker_id = assignment.worker_id  # a submitted answer has its worker
    assert worker_id is not None
    gold = [cell for cell in cells if cell.is_gold]
    caught = sum(cell.cell_id in poor for cell in gold)
    needed = min(
        project_setting(task.project, "verification_min_gold_caught", MIN_GOLD_CAUGHT), len(gold)
    )
    passed = caught >= needed
    outcome = GridOutcome.objects.create(
        task=task,
        assignment=assignment,
        worker_id=worker_id,
        gold_caught=caught,
        gold_shown=len(gold),
        passed=passed,
    )
    VerificationVote.objects.bulk_create(
        VerificationVote(
            cell=cell,
            assignment=assignment,
            segmentation_id=cell.segmentation_id,
            worker_id=worker_id,
            good=cell.cell_id not in poor,
            counted=passed,
        )
        for cell in cells
        if cell.segmentation_id is not None  # every cell but the gold ones
    )
    return outcome


def on_grid_complete(task: Task) -> None:
    """Judge the grid's new answers against the gold; a void answer sends the grid back to
    the pool. When every answer passed, decide each mask and post the next round's grids."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("project").get(id=task.id)
        if task.status != Task.Status.COMPLETE:
            return
        cells = list(task.grid_cells.order_by("position"))
        unjudged = task.assignments.filter(status=Assignment.Status.SUBMITTED).exclude(
            Exists(GridOutcome.objects.filter(assignment_id=OuterRef("pk")))
        )
        void = [
            outcome.assignment_id
            for outcome in (_judge_answer(task, cells, a) for a in unjudged.order_by("id"))
            if not outcome.passed
        ]
        for assignment_id in void:
            task_engine.assignment_reject(
                assignment_id=assignment_id,
                reason="fewer than the required known-bad masks were caught: votes void",
            )
        if void:
            return  # the grid is open again, with a fresh slot per void answer
        verdicts = {
            cell.segmentation_id: segmentation_decide(segmentation_id=cell.segmentation_id)
            for cell in cells
            if cell.segmentation_id is not None
        }
        # Judge the authors once every mask of the grid is decided: the cells are shuffled,
        # and an accepted mask decided last still counts towards the minimum judged.
        decided = [sid for sid, verdict in verdicts.items() if verdict != PENDING]
        authors = Segmentation.objects.filter(id__in=decided).values_list("worker_id", flat=True)
        for worker_id in sorted(set(authors)):
            segmenter_check(worker_id=worker_id, project=task.project)
        task.result = {
            "accepted": sum(v == ACCEPTED for v in verdicts.values()),
            "rejected": sum(v == REJECTED for v in verdicts.values()),
            "pending": sum(v == PENDING for v in verdicts.values()),
        }
        task.save(update_fields=["result"])
        # Pairs that waited for these verdicts go on (segmentation_pairs_advance).
        events.send_on_commit(events.masks_verified, project_id=task.project_id)
    try:
        verification_post_grids(project=task.project)
    except NotEnoughGold as error:
        logger.warning("next verification round not posted: %s", error.reason)
