"""Filtering grids (appendix A "Non-iconic Image Collection"): pooled candidates in grids
of 128 thumbnails, one task each, answered by several workers."""

from __future__ import annotations

from django.db import transaction

from annotation.models import Project, Stage, Task
from annotation.models.collection import Candidate
from annotation.services import task_engine
from annotation.stages.collection.defaults import setting
from annotation.stages.collection.duplicates import collection_near_duplicates_group


def collection_grids_post(
    *, project: Project, include_partial: bool = True, group_duplicates: bool = True
) -> list[Task]:
    """Put pooled candidates into grids of `collection_grid_size`, one task each, answered
    by `collection_answers_per_grid` workers. Near-duplicates are removed first (pass
    group_duplicates=False when the caller just ran `collection_near_duplicates_group`). A last,
    smaller grid is posted only with include_partial."""
    if group_duplicates:
        collection_near_duplicates_group(project=project)
    size = max(1, setting(project, "collection_grid_size"))
    answers = max(1, setting(project, "collection_answers_per_grid"))
    pooled = list(
        Candidate.objects.filter(project=project, status=Candidate.Status.POOLED)
        .order_by("id")
        .values_list("id", flat=True)
    )
    posted = []
    for start in range(0, len(pooled), size):
        chunk = pooled[start : start + size]
        if len(chunk) < size and not include_partial:
            break
        with transaction.atomic():
            task = task_engine.task_post(
                project=project,
                stage=Stage.COLLECTION,
                answers_needed=answers,
                payload={"candidate_ids": chunk},
                priority=0,
            )
            moved = Candidate.objects.filter(id__in=chunk, status=Candidate.Status.POOLED).update(
                status=Candidate.Status.IN_GRID, grid_task=task
            )
            if moved != len(chunk):
                # Another poster took some of these: leave them to it.
                transaction.set_rollback(True)
                continue
        posted.append(task)
    return posted
