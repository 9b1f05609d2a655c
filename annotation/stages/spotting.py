"""Stage 3, instance spotting (thesis §2.4.2, appendix A Fig. A.3b), top to bottom.

1. Tasks: one per (image, present category), posted by the labeling stage with
   `spotting_task_post` when it finds the category present, primed with the labeling
   positions (`payload["primed"]`, shown as a blinking icon) and with the cap on crosses
   (`payload["max_spots"]`, 10 by default). 8 workers answer each
   (`spotting_answers_per_task`).
2. A worker places a cross on each instance, at most `max_spots`, or says there is none:
       {"spots": [{"x": px, "y": px}, ...]}   or   {"none": true}
   "There is none" is evidence that labeling gave a false positive.
3. Aggregation: every cross is kept with its worker (Spot rows). No merging here: the
   segmentation stage de-duplicates by mask coverage (a spot inside an accepted mask is
   done). EXCEPT when most answers say "there is none": when more than half of the counted
   answers said "there is none", no cross of the task is kept, so the pair posts no
   segmentation work (`result["majority_said_none"]`). Why: a worker who sees an object
   marks it, so a majority of "none" means labeling's "present" was most likely a false
   positive, and the lone crosses beside it are a spammer's random clicks or a mistake
   (the crowd simulator found such a cross becoming an outlining task for an object that is
   not there). A tie keeps the crosses: an object half the workers saw is worth outlining.
4. Next: after the commit, the `spots_ready` signal (annotation/events.py) asks the
   segmentation stage to post work for the new spots; it reads the candidates with
   `spots_for(image, category)`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from annotation import events, geometry
from annotation.errors import AnswerInvalid
from annotation.models import Assignment, Category, Image, Project, Stage, Task
from annotation.models.labeling import Spot
from annotation.models.projects import project_setting
from annotation.selectors.proposals import proposal_suggestions
from annotation.services import task_engine
from annotation.stages import StageRules, register

# Defaults; a project overrides them in `stage_settings`.
SPOTTING_ANSWERS_PER_TASK = 8
SPOTTING_MAX_SPOTS = 10  # thesis §2.4.2: "at most 10 instances of a given category per image"


# 1. Tasks --------------------------------------------------------------------------------


def spotting_task_post(
    *, project: Project, image: Image, category: Category, primed: list[dict]
) -> Task:
    """Post the spotting task of one (image, present category), primed with the positions
    labeling found (x, y only: spotting workers see where, not who) and with the cap on
    crosses fixed now (`spotting_max_spots`), answered by `spotting_answers_per_task`."""
    return task_engine.task_post(
        project=project,
        stage=Stage.SPOTTING,
        answers_needed=project_setting(
            project, "spotting_answers_per_task", SPOTTING_ANSWERS_PER_TASK
        ),
        image=image,
        category=category,
        payload={
            "primed": primed,
            "max_spots": project_setting(project, "spotting_max_spots", SPOTTING_MAX_SPOTS),
            # Model proposal centres (x, y, score) the worker may accept or ignore; empty
            # while the model service has not answered for this image.
            "suggestions": proposal_suggestions(image_id=image.id),
        },
    )


def max_spots_for(task: Task) -> int:
    """The cap fixed when the task was posted; the project's setting for older tasks."""
    cap = task.payload.get("max_spots")
    if isinstance(cap, int) and cap >= 1:
        return cap
    return project_setting(task.project, "spotting_max_spots", SPOTTING_MAX_SPOTS)


# 2. One worker's answer ----------------------------------------------------------------


def validate_spotting_answer(task: Task, answer: Any) -> dict:
    """Crosses inside the image, no more than the cap; or an explicit 'there is none'."""
    if not isinstance(answer, dict):
        raise AnswerInvalid('the answer must be {"spots": [...]} or {"none": true}')
    none = answer.get("none", False)
    spots = answer.get("spots", [])
    if not isinstance(none, bool):
        raise AnswerInvalid("none must be true or false")
    if not isinstance(spots, list):
        raise AnswerInvalid("spots must be a list of crosses with x and y")
    name = task.category.name if task.category is not None else "object"
    if none:
        if spots:
            raise AnswerInvalid(f"you said there is no {name}, but placed crosses: choose one")
        return {"none": True, "spots": []}
    if not spots:
        raise AnswerInvalid(f"place a cross on each {name}, or answer 'there is none'")
    cap = max_spots_for(task)
    if len(spots) > cap:
        raise AnswerInvalid(f"at most {cap} crosses per task ({len(spots)} were sent)")
    cleaned = []
    size = (task.image.width, task.image.height) if task.image else None
    for number, spot in enumerate(spots, start=1):
        if not isinstance(spot, dict):
            raise AnswerInvalid(f"cross #{number}: expected an object with x and y")
        x, y = geometry.position_in_image(spot, f"cross #{number}", size=size)
        cleaned.append({"x": x, "y": y})
    return {"none": False, "spots": cleaned}


# 3. Aggregation --------------------------------------------------------------------------


def on_spotting_complete(task: Task) -> None:
    """Keep every cross of every counted answer with its worker. Idempotent: crosses of an
    answer that was since rejected are dropped, those already kept are not duplicated."""
    with transaction.atomic():
        task = Task.objects.select_for_update().get(id=task.id)
        if task.status != Task.Status.COMPLETE:
            return
        counted = list(task.assignments.filter(status=Assignment.Status.SUBMITTED))
        none_votes = sum(1 for a in counted if (a.answer or {}).get("none"))
        majority_said_none = none_votes * 2 > len(counted)
        kept = [] if majority_said_none else counted
        Spot.objects.filter(task=task).exclude(assignment__in=kept).delete()
        already = set(Spot.objects.filter(task=task).values_list("assignment_id", flat=True))
        # A spotting task is posted for one (image, category) pair; an answered slot has its worker.
        image_id, category_id = task.image_id, task.category_id
        assert image_id is not None and category_id is not None
        Spot.objects.bulk_create(
            Spot(
                task=task,
                assignment=assignment,
                image_id=image_id,
                category_id=category_id,
                worker_id=worker_id,
                x=spot["x"],
                y=spot["y"],
                rank=rank,
            )
            for assignment in kept
            if assignment.id not in already and (worker_id := assignment.worker_id) is not None
            for rank, spot in enumerate((assignment.answer or {}).get("spots", []))
        )
        task.result = {
            "answers": len(counted),
            "none_votes": none_votes,
            "spots": Spot.objects.filter(task=task).count(),
            # Every worker said "there is none": most likely a labeling false positive.
            "all_said_none": bool(counted) and none_votes == len(counted),
            # Most said so: the other answers' crosses are not kept (section 3 above).
            "majority_said_none": majority_said_none,
        }
        task.save(update_fields=["result"])
        # Next (§2.4.3): the new spots go to segmentation; posting there is idempotent.
        events.send_on_commit(events.spots_ready, project_id=task.project_id)


# 4. What the segmentation stage reads ------------------------------------------------------


def spots_for(image: Image, category: Category) -> QuerySet[Spot]:
    """The kept spots of an (image, category): crosses from the counted answers of complete
    spotting tasks, each with its worker (`spot.x`, `spot.y`, `spot.worker`), in image pixels.
    Spots of different workers on one instance are NOT merged: segmentation de-duplicates
    by mask coverage."""
    return (
        Spot.objects.filter(
            image=image,
            category=category,
            task__status=Task.Status.COMPLETE,
            assignment__status=Assignment.Status.SUBMITTED,
        )
        .select_related("worker")
        .order_by("assignment_id", "rank")
    )


register(
    StageRules(
        stage=Stage.SPOTTING,
        validate_answer=validate_spotting_answer,
        on_task_complete=on_spotting_complete,
        tool_url_name="spotting-tool",
        description="Place a cross on every instance of one category (at most 10).",
    )
)
