"""Stage 5, who may take a grid and what an answer may say: never a grid holding the
worker's own masks or masks they already judged; {"poor": [cell ids]}, only cells of this
grid, each at most once (AnswerInvalid otherwise, nothing stored)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from annotation.errors import AnswerInvalid
from annotation.models import Task
from annotation.models.verification import GridCell, VerificationVote


def eligible_grids(tasks: QuerySet[Task], worker: Any) -> QuerySet[Task]:
    """Never a grid with the worker's own masks or masks the worker already judged: the votes
    on one mask come from different people."""
    judged = VerificationVote.objects.filter(worker=worker).values("segmentation_id")
    # Two conditions, each found from the worker's own rows through an index (issue 17): one
    # condition with an OR over a join made PostgreSQL read every grid cell on each lease.
    own_masks = GridCell.objects.filter(task_id=OuterRef("pk"), segmentation__worker=worker)
    judged_masks = GridCell.objects.filter(task_id=OuterRef("pk"), segmentation_id__in=judged)
    return tasks.exclude(Exists(own_masks)).exclude(Exists(judged_masks))


def validate_grid_answer(task: Task, answer: Any) -> dict:
    """{"poor": [cell ids]}: only cells of this grid, each at most once."""
    if not isinstance(answer, dict) or not isinstance(answer.get("poor"), list):
        raise AnswerInvalid('the answer must be {"poor": [ids of the cells judged poor]}')
    poor = answer["poor"]
    if not all(isinstance(cell, str) for cell in poor):
        raise AnswerInvalid("cell ids are strings from the grid's payload")
    if len(set(poor)) != len(poor):
        raise AnswerInvalid("a cell was marked poor twice")
    in_grid = {cell["id"] for cell in task.payload.get("cells", [])}
    strangers = [cell for cell in poor if cell not in in_grid]
    if strangers:
        raise AnswerInvalid(
            f"{len(strangers)} marked cell(s) are not in this grid ({', '.join(strangers[:3])})"
        )
    return {"poor": sorted(poor)}
