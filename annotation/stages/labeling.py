"""Stage 2, category labeling (thesis §2.4.1, appendix A Fig. A.3a), top to bottom.

1. Tasks: one per image, answered by 8 workers (`labeling_answers_per_image`).
2. A worker goes through the project's super-categories in turn and says whether any
   instance of each is present; for a present one, they drag the icon of every present
   category onto one instance of it. The answer:
       {"supercategories": {"animal": true, "vehicle": false, ...},
        "categories": [{"id": <category id as exported>, "x": px, "y": px}, ...]}
   with x, y in image pixels (after EXIF orientation, as the browser shows the photo).
3. Aggregation: a category is present if ANY worker placed it (recall first: false
   positives are removed later, §2.4.1 and §2.4.4). Every placed position is kept.
4. Next: one spotting task per (image, present category), primed with those positions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from annotation import geometry
from annotation.errors import AnswerInvalid
from annotation.models import Assignment, Category, Image, Project, Stage, Task
from annotation.models.labeling import CategoryPresence
from annotation.models.projects import project_setting
from annotation.services import task_engine
from annotation.stages import StageRules, register
from annotation.stages.spotting import spotting_task_post

# Defaults; a project overrides them in `stage_settings`.
ANSWERS_PER_IMAGE = 8  # thesis §2.4: "increased the number of annotators ... to eight"


def supercategories_of(project: Project) -> list[str]:
    """The project's super-categories in taxonomy order (first category id of each)."""
    ordered: list[str] = []
    for name in project.taxonomy.categories.order_by("coco_id").values_list(
        "supercategory", flat=True
    ):
        if name not in ordered:
            ordered.append(name)
    return ordered


# 1. Tasks ------------------------------------------------------------------------------


def labeling_tasks_post(
    *, project: Project, images: Iterable[Image | int] | None = None
) -> list[Task]:
    """Post one labeling task per image that has none yet (all images of the project when
    `images` is None; `images` may hold Image rows or their ids). Posting twice posts
    nothing new. The tasks and their answer slots are inserted in bulk."""
    answers_needed = project_setting(project, "labeling_answers_per_image", ANSWERS_PER_IMAGE)
    wanted = Image.objects.filter(project=project)
    if images is not None:
        wanted = wanted.filter(
            id__in=[image if isinstance(image, int) else image.id for image in images]
        )
    already = Task.objects.filter(project=project, stage=Stage.LABELING).exclude(
        status=Task.Status.CANCELLED
    )
    with transaction.atomic():
        image_ids = list(
            wanted.exclude(id__in=already.values("image_id"))
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not image_ids:
            return []
        supercategories = supercategories_of(project)
        return task_engine.tasks_post_many(
            project=project,
            stage=Stage.LABELING,
            answers_needed=answers_needed,
            items=[
                {"image": image_id, "payload": {"supercategories": supercategories}}
                for image_id in image_ids
            ],
        )


# 2. One worker's answer ----------------------------------------------------------------


def validate_labeling_answer(task: Task, answer: Any) -> dict:
    """Check one worker's answer against the project's taxonomy and the image."""
    if not isinstance(answer, dict):
        raise AnswerInvalid("the answer must be an object with supercategories and categories")
    categories_by_id = {
        c.coco_id: c for c in Category.objects.filter(taxonomy__project__id=task.project_id)
    }
    known_supers = list(dict.fromkeys(c.supercategory for c in categories_by_id.values()))

    said = answer.get("supercategories")
    if not isinstance(said, dict):
        raise AnswerInvalid("supercategories must map each super-category to true or false")
    unknown = sorted(set(said) - set(known_supers))
    if unknown:
        raise AnswerInvalid(f"unknown super-categories: {', '.join(map(str, unknown))}")
    missing = [name for name in known_supers if name not in said]
    if missing:
        raise AnswerInvalid(f"say whether these are present: {', '.join(missing)}")
    for name, value in said.items():
        if not isinstance(value, bool):
            raise AnswerInvalid(f"super-category {name!r}: answer true or false")

    placed = answer.get("categories", [])
    if not isinstance(placed, list):
        raise AnswerInvalid("categories must be a list of icons placed on the image")
    cleaned: list[dict] = []
    seen: set[int] = set()
    size = (task.image.width, task.image.height) if task.image else None
    for number, entry in enumerate(placed, start=1):
        if not isinstance(entry, dict):
            raise AnswerInvalid(f"icon #{number}: expected an object with id, x and y")
        category_id = entry.get("id")
        if isinstance(category_id, bool) or category_id not in categories_by_id:
            raise AnswerInvalid(
                f"icon #{number}: {category_id!r} is not a category of this project"
            )
        category = categories_by_id[category_id]
        if category_id in seen:
            # §2.4.1: one instance per category is enough; spotting finds the others.
            raise AnswerInvalid(f"{category.name}: place its icon once, on one instance")
        if not said[category.supercategory]:
            raise AnswerInvalid(
                f"{category.name} is placed, but {category.supercategory} was answered 'no'"
            )
        x, y = geometry.position_in_image(entry, category.name, size=size)
        seen.add(category_id)
        cleaned.append({"id": category_id, "x": x, "y": y})

    placed_supers = {categories_by_id[c["id"]].supercategory for c in cleaned}
    empty_yes = [name for name in known_supers if said[name] and name not in placed_supers]
    if empty_yes:
        raise AnswerInvalid(
            f"drag the icon of each present category onto the image: {', '.join(empty_yes)} "
            "answered 'yes' but no icon was placed"
        )
    return {
        "supercategories": {name: said[name] for name in known_supers},
        "categories": sorted(cleaned, key=lambda c: c["id"]),
    }


# 3. Aggregation -------------------------------------------------------------------------


def placed_positions(answers: Iterable[Assignment]) -> dict[int, list[dict]]:
    """Category id -> every position placed for it, with its worker, in answer order.
    A category is present if any worker placed it (§2.4.1, the union rule)."""
    positions: dict[int, list[dict]] = {}
    for assignment in answers:
        for icon in (assignment.answer or {}).get("categories", []):
            positions.setdefault(icon["id"], []).append(
                {"worker": assignment.worker_id, "x": icon["x"], "y": icon["y"]}
            )
    return positions


# 4. Next: spotting -----------------------------------------------------------------------


def on_labeling_complete(task: Task) -> None:
    """Record the present categories and post their spotting tasks. Idempotent: running it
    again (or after quality control replaced an answer) brings the presences up to date."""
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("project", "image")
            .get(id=task.id)
        )
        if task.status != Task.Status.COMPLETE:
            return
        answers = task.assignments.filter(status=Assignment.Status.SUBMITTED).order_by(
            "submitted_at", "id"
        )
        positions = placed_positions(answers)
        categories = {
            c.coco_id: c
            for c in Category.objects.filter(
                taxonomy__project=task.project, coco_id__in=list(positions)
            )
        }
        project = task.project
        for coco_id, where in sorted(positions.items()):
            category = categories.get(coco_id)
            if category is None:  # removed from the taxonomy since the answer was given
                continue
            presence, created = CategoryPresence.objects.select_for_update().get_or_create(
                image=task.image,
                category=category,
                defaults={"labeling_task": task, "positions": where},
            )
            if not created and presence.positions != where:
                presence.positions = where
                presence.save(update_fields=["positions"])
            # Spotting workers see where, not who: the workers stay in the presence row.
            primed = [{"x": p["x"], "y": p["y"]} for p in where]
            spotting = presence.spotting_task
            if spotting is None:
                assert task.image is not None  # a labeling task is posted with its image
                presence.spotting_task = spotting_task_post(
                    project=project, image=task.image, category=category, primed=primed
                )
                presence.save(update_fields=["spotting_task"])
            elif spotting.status == Task.Status.OPEN and spotting.payload.get("primed") != primed:
                spotting.payload = {**spotting.payload, "primed": primed}
                spotting.save(update_fields=["payload"])
        _withdraw_unsupported(task, still_present=set(categories))
        task.result = {"present": sorted(categories), "answers": answers.count()}
        task.save(update_fields=["result"])


def _withdraw_unsupported(task: Task, still_present: set[int]) -> None:
    """A category only a rejected worker placed is no longer present; its spotting task is
    cancelled unless spotting answers already exist (they are evidence of their own)."""
    stale = CategoryPresence.objects.filter(labeling_task=task).exclude(
        category__coco_id__in=still_present
    )
    for presence in stale.select_related("spotting_task"):
        spotting = presence.spotting_task
        if spotting is not None and (
            spotting.status != Task.Status.OPEN
            or spotting.assignments.filter(status=Assignment.Status.SUBMITTED).exists()
        ):
            continue
        if spotting is not None:
            spotting.status = Task.Status.CANCELLED
            spotting.save(update_fields=["status"])
        presence.delete()


register(
    StageRules(
        stage=Stage.LABELING,
        validate_answer=validate_labeling_answer,
        on_task_complete=on_labeling_complete,
        tool_url_name="labeling-tool",
        description="Say which super-categories are present; drag one icon per present category.",
    )
)
