"""Answers and votes: a worker marks the iconic or invalid photos of a grid; a photo left
unmarked by enough workers is accepted, becomes an Image (through image_ingest, the checks
of every import), gets a split and goes on to category labeling."""

from __future__ import annotations

from collections import Counter

from django.db import transaction

from annotation import stages
from annotation.errors import AnswerInvalid
from annotation.models import Project, Stage, Task
from annotation.models.collection import Candidate
from annotation.services.images import SourceMetadata, image_ingest
from annotation.stages.collection.defaults import setting
from annotation.stages.collection.splits import collection_splits_assign
from annotation.stages.labeling import labeling_tasks_post


def validate_collection_answer(task: Task, answer: object) -> dict:
    """{"marked": [candidate ids]}: the photos of this grid the worker marked as iconic or
    invalid (an empty list keeps them all)."""
    if not isinstance(answer, dict) or "marked" not in answer:
        raise AnswerInvalid('the answer must be {"marked": [ids of the iconic or invalid photos]}')
    marked = answer["marked"]
    if not isinstance(marked, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in marked
    ):
        raise AnswerInvalid("marked must be a list of candidate ids (whole numbers)")
    in_grid = set(task.payload.get("candidate_ids", []))
    strangers = sorted(set(marked) - in_grid)
    if strangers:
        raise AnswerInvalid(f"candidates {strangers[:10]} are not in this grid")
    return {"marked": sorted(set(marked))}


def keep_votes_needed(project: Project, answers: int) -> int:
    configured = setting(project, "collection_keep_votes")
    needed = configured if configured > 0 else answers // 2 + 1
    return max(1, min(needed, answers))


def on_collection_complete(task: Task) -> None:
    """Count the grid's votes: a photo is accepted when at least `keep_votes_needed` workers
    left it unmarked, unless a near-duplicate of it was accepted already. Accepted photos
    become Images (through image_ingest: same checks as every import) and get a split.
    Idempotent: only candidates still in this grid are decided."""
    with transaction.atomic():
        task = Task.objects.select_for_update().get(id=task.id)
        answers = [a.answer or {} for a in task.assignments.filter(status="submitted")]
        marks = Counter(i for answer in answers for i in answer.get("marked", []))
        needed = keep_votes_needed(task.project, len(answers))
        decided: dict[str, list[int]] = {"kept": [], "iconic": [], "duplicate": [], "failed": []}
        candidates = Candidate.objects.select_for_update().filter(
            grid_task=task, status=Candidate.Status.IN_GRID
        )
        for candidate in candidates.order_by("id"):
            candidate.votes_marked = marks[candidate.id]
            candidate.votes_total = len(answers)
            if len(answers) - marks[candidate.id] >= needed:
                decided[_candidate_accept(candidate)].append(candidate.id)
            else:
                candidate.status = Candidate.Status.ICONIC
                candidate.reason = f"{marks[candidate.id]} of {len(answers)} workers marked it"
                candidate.save(update_fields=["status", "reason", "votes_marked", "votes_total"])
                decided["iconic"].append(candidate.id)
        if any(decided.values()) or task.result is None:
            task.result = {**decided, "answers": len(answers), "keep_votes_needed": needed}
            task.save(update_fields=["result"])
    collection_splits_assign(project=task.project)
    collection_labeling_post(project=task.project, candidate_ids=decided["kept"])


def collection_labeling_post(*, project: Project, candidate_ids: list[int]) -> None:
    """Next (§2.4.1): accepted photos go on to category labeling, when this installation
    runs that stage. Posting is idempotent: a photo never gets two labeling tasks."""
    if not candidate_ids or not stages.is_registered(Stage.LABELING):
        return

    accepted = Candidate.objects.filter(id__in=candidate_ids, image__isnull=False).values_list(
        "image_id", flat=True
    )
    labeling_tasks_post(project=project, images=list(accepted))


def _candidate_accept(candidate: Candidate) -> str:
    fields = ["status", "reason", "votes_marked", "votes_total", "image", "duplicate_of"]
    if candidate.duplicate_group is not None:
        twin = (
            Candidate.objects.filter(
                project=candidate.project_id,
                duplicate_group=candidate.duplicate_group,
                status=Candidate.Status.ACCEPTED,
            )
            .exclude(id=candidate.id)
            .first()
        )
        if twin is not None:
            candidate.status, candidate.duplicate_of = Candidate.Status.DUPLICATE, twin
            candidate.reason = f"near-duplicate of accepted candidate {twin.id}"
            candidate.save(update_fields=fields)
            return "duplicate"
    try:
        with candidate.file.open("rb") as handle:
            content = handle.read()
    except (OSError, ValueError) as error:
        candidate.status, candidate.reason = (
            Candidate.Status.FAILED,
            f"stored photo unreadable: {error}",
        )
        candidate.save(update_fields=fields)
        return "failed"
    meta = SourceMetadata(
        source=candidate.source,
        source_ref=candidate.source_ref,
        file_name=candidate.file_name,
        original_url=candidate.original_url,
        photographer=candidate.photographer,
        date_taken=candidate.date_taken,
        license_name=candidate.license_name,
        license_url=candidate.license_url,
    )
    result = image_ingest(project=candidate.project, content=content, meta=meta)
    if result.image is None:
        assert result.rejection is not None
        candidate.status = Candidate.Status.FAILED
        candidate.reason = f"{result.rejection.reason}: {result.rejection.detail}"
        candidate.save(update_fields=fields)
        return "failed"
    candidate.status, candidate.image, candidate.reason = (
        Candidate.Status.ACCEPTED,
        result.image,
        "",
    )
    candidate.save(update_fields=fields)
    return "kept"
