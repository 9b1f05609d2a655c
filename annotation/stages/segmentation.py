"""Stage 4, instance segmentation (thesis §2.4.3, appendix A "Instance Segmentation"), top to
bottom.

1. Tasks: one per spotted instance, one worker per task. The candidates are the spots of
   stage 3 (`spotting.spots_for(image, category)`, every worker's cross kept). Tasks of one
   (image, category) are posted ONE AFTER ANOTHER: the next only when the previous is
   answered, and a spot already covered by a pending or accepted mask of that category is
   skipped, so nobody outlines the same object twice (several workers' crosses on one object
   collapse this way). The spotting stage calls `segmentation_post_for_completed_spotting`.
2. Cap: at most `segmentation_max_instances` (10 by default; COCO: 10-15) instances of a
   category per image are outlined one by one; when that many are accepted by verification
   and spotted instances remain uncovered beyond them, the pair is marked CROWD and the rest
   is left to crowd painting (a later stage). With no spot left the pair is simply done.
3. Who: only workers qualified on the task's category (annotation/services/qualification.py;
   experts and admins need no training).
4. A worker's answer, one of:
       {"polygons": [[x1, y1, x2, y2, ...], ...], "vertices": n, "edits": n}
       {"no_such_object": true}        a false positive of the earlier stages
       {"all_segmented": true}         every instance of the category is already outlined
       {"already_outlined": true}      the object under the spot is outlined already (a
                                       second worker's cross just outside a tight outline):
                                       accepted only when a live outline of the category
                                       passes within SPOT_TOLERANCE_PX of the spot; nothing
                                       is stored and the pair moves on (defect 2 found by
                                       the crowd simulator: the tool offered only "no such
                                       object", wrong data, or outlining it twice)
       {"crowd": true}                 the spot is on a crowd of the category: too many, too
                                       small or too entangled to outline one by one (a stand
                                       of spectators behind two players). Nothing is stored;
                                       the pair's other spots are still outlined, and when
                                       none is left the pair goes to crowd painting instead
                                       of being done (defect 6 of the crowd simulator: a
                                       crowd in a pair under the cap was never painted)
   The outline is normalised by annotation.geometry (repaired, clipped, area and box as the
   released COCO files have them) and must cover the task's spot. The task payload may carry
   `suggested` polygons (from a model, later) that the editor starts from.
5. Aggregation (one answer): an outline becomes a pending Segmentation for verification;
   "all segmented" closes the pair (to crowd painting when a crowd was reported); then the
   next task of the pair is posted.
6. Rejected outlines: verification puts the object back into the pool
   (`segmentation_requeue`) until `segmentation_max_rejected_outlines` (5) of its outlines
   were rejected; then it is set aside for the admin (pipeline dashboard) instead of
   looping, and its pair moves on.
"""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from annotation import events, geometry
from annotation.errors import AnswerInvalid
from annotation.models import (
    Assignment,
    Category,
    Image,
    Instance,
    Project,
    Stage,
    Task,
)
from annotation.models.labeling import Spot
from annotation.models.projects import project_setting
from annotation.models.segmentation import (
    Qualification,
    Segmentation,
    SegmentationProgress,
    TrainingAttempt,
)
from annotation.models.verification import VerificationDecision
from annotation.selectors.proposals import proposal_start
from annotation.services import task_engine
from annotation.services.people import is_expert
from annotation.stages import StageRules, register
from annotation.stages.spotting import spots_for

MAX_INSTANCES = 10  # thesis §2.4.3: 10-15 per category and image, then crowd painting
# How far (image pixels) an outline may miss its spot: a cross placed on the object's edge.
SPOT_TOLERANCE_PX = 10.0
LIVE_MASKS = [Segmentation.Status.PENDING, Segmentation.Status.ACCEPTED]
# Rejected outlines of one object before it is set aside for the admin (see
# segmentation_requeue); 5 rejections in a row is a hard or ambiguous object, not bad luck.
MAX_REJECTED_OUTLINES = 5


def max_instances_for(project: Project) -> int:
    return project_setting(project, "segmentation_max_instances", MAX_INSTANCES)


def max_rejected_outlines_for(project: Project) -> int:
    return project_setting(project, "segmentation_max_rejected_outlines", MAX_REJECTED_OUTLINES)


def live_masks(image: Image, category: Category) -> QuerySet[Segmentation]:
    """Outlines that count as segmented: pending verification or accepted."""
    return Segmentation.objects.filter(image=image, category=category, status__in=LIVE_MASKS)


def _tasks_of_pair(image: Image, category: Category) -> QuerySet[Task]:
    return Task.objects.filter(stage=Stage.SEGMENTATION, image=image, category=category)


def _progress_locked(image: Image, category: Category) -> SegmentationProgress:
    """The pair's progress row, locked: posting for one pair is serialised on it."""
    SegmentationProgress.objects.get_or_create(image=image, category=category)
    return SegmentationProgress.objects.select_for_update().get(image=image, category=category)


def _stop(progress: SegmentationProgress, state: str, reason: str) -> None:
    progress.state = state
    progress.reason = reason
    progress.save(update_fields=["state", "reason", "updated_at"])


def _crowd_reported(image: Image, category: Category) -> bool:
    return (
        _tasks_of_pair(image, category)
        .filter(status=Task.Status.COMPLETE, result__outcome="crowd")
        .exists()
    )


def _finish(progress: SegmentationProgress, image: Image, category: Category, reason: str) -> None:
    """The pair has nothing left to outline one by one: done, or crowd painting when a
    worker said one of its spots is a crowd."""
    if not _crowd_reported(image, category):
        _stop(progress, SegmentationProgress.State.DONE, reason)
        return
    _stop(
        progress,
        SegmentationProgress.State.CROWD,
        f"{reason}; a worker said a spot is a crowd: it is left to crowd painting",
    )
    events.send_on_commit(events.crowd_pairs_ready, project_id=image.project_id)


# 1-2. Posting one task after another ------------------------------------------------------


def spot_is_covered(spot: Spot, masks: list[geometry.OutlineShape]) -> bool:
    return any(mask.covers(spot.x, spot.y) for mask in masks)


def segmentation_post_next(*, image: Image, category: Category) -> Task | None:
    """Post the next segmentation task of an (image, category), or None when a task is still
    open, the pair is finished, or the pair waits (the pair is then marked when it is done).

    The cap (thesis §2.4.3: crowd painting is for the instances beyond the first 10-15
    individually segmented ones): once `segmentation_max_instances` live masks (pending or
    accepted) exist, no more instances are outlined one by one. The pair goes to crowd
    painting only when that many masks are ACCEPTED and spotted instances remain uncovered
    beyond them; while some of them still wait for verification it waits (a rejected mask
    puts its instance back, an accepted one brings the pair here again through the
    `masks_verified` signal). With no uncovered spot left the pair is done, whatever the
    count."""
    with transaction.atomic():
        progress = _progress_locked(image, category)
        if progress.state != SegmentationProgress.State.SEGMENTING:
            return None
        if _tasks_of_pair(image, category).filter(status=Task.Status.OPEN).exists():
            return None  # one after another: the open task's mask may cover the next spots
        live = list(live_masks(image, category).values_list("polygons", "status"))
        tasked = {
            spot_id
            for spot_id in _tasks_of_pair(image, category).values_list(
                "payload__spot__id", flat=True
            )
            if spot_id is not None
        }
        shapes = [geometry.OutlineShape(polygons) for polygons, _ in live]  # once, not per spot
        remaining = [
            spot
            for spot in spots_for(image, category)
            if spot.id not in tasked and not spot_is_covered(spot, shapes)
        ]
        if not remaining:
            _finish(progress, image, category, "no uncovered spot left")
            return None
        cap = max_instances_for(image.project)
        if len(live) >= cap:
            accepted = sum(status == Segmentation.Status.ACCEPTED for _, status in live)
            if accepted < cap:
                return None  # the cap is reached only by verified masks: wait for the votes
            _stop(
                progress,
                SegmentationProgress.State.CROWD,
                f"{accepted} instance{'s' if accepted != 1 else ''} segmented (cap {cap}) and {len(remaining)} spot(s) "
                "left uncovered: the rest is left to crowd painting",
            )
            events.send_on_commit(events.crowd_pairs_ready, project_id=image.project_id)
            return None
        spot = remaining[0]
        instance = Instance.objects.create(
            image=image, category=category, spot_x=spot.x, spot_y=spot.y
        )
        return task_engine.task_post(
            project=image.project,
            stage=Stage.SEGMENTATION,
            answers_needed=1,
            image=image,
            category=category,
            instance=instance,
            payload={
                "spot": {"id": spot.id, "x": spot.x, "y": spot.y, "worker": spot.worker_id},
                "order": len(tasked) + 1,
                # "Start from suggestion": the best model proposal covering the spot.
                "suggestion": proposal_start(image_id=image.id, x=spot.x, y=spot.y),
            },
        )


def rejected_outlines_of(instance_id: int) -> int:
    """Outlines of one object that verification's votes rejected (discards of a blocked
    author's masks are not the object's fault and do not count)."""
    return VerificationDecision.objects.filter(
        segmentation__instance_id=instance_id,
        outcome=VerificationDecision.Outcome.REJECTED,
    ).count()


def segmentation_requeue(*, segmentation: Segmentation, rejected: bool = True) -> Task | None:
    """Put a rejected or discarded mask's instance back into the pool (called by
    verification): a segmentation task for the same instance and spot (thesis: "the corresponding instance added back to the
    pool of unsegmented objects"). An open task for the instance is reused.

    The cap (defect 1 of the crowd simulator: an object whose outlines keep failing went back
    to the pool without end): when the votes have rejected `segmentation_max_rejected_outlines`
    outlines of the object, this one included (`rejected`; discards of a blocked author do
    not count), it is SET ASIDE instead: no task, None returned; the verification decision
    records it with no re-queued task and the pipeline dashboard lists it for the admin
    (selectors/pipeline.py, "set_aside"). The pair then moves on to its other spots."""
    open_task = Task.objects.filter(
        stage=Stage.SEGMENTATION, instance_id=segmentation.instance_id, status=Task.Status.OPEN
    ).first()
    if open_task is not None:
        return open_task
    if rejected:
        cap = max_rejected_outlines_for(segmentation.image.project)
        # The decision of this mask is written after this call: count it here.
        if rejected_outlines_of(segmentation.instance_id) + 1 >= cap:
            return None
    original = segmentation.task
    return task_engine.task_post(
        project=original.project,
        stage=Stage.SEGMENTATION,
        answers_needed=1,
        image=segmentation.image,
        category=segmentation.category,
        instance=segmentation.instance,
        payload={**original.payload, "requeued_from": segmentation.id},
        priority=original.priority,
    )


def segmentation_post_for_completed_spotting(*, project: Project | int) -> int:
    """Post the first segmentation task of every (image, category) of a project whose spotting
    is complete and which has no segmentation going yet. Safe to run twice. Returns how many
    tasks were posted. Queued by the `spots_ready` signal
    (pipelines.tasks.stages.post_segmentation_tasks)."""
    project_id = project if isinstance(project, int) else project.pk
    started = SegmentationProgress.objects.filter(
        image_id=OuterRef("image_id"), category_id=OuterRef("category_id")
    )
    pairs = (
        Spot.objects.filter(
            image__project_id=project_id,
            task__stage=Stage.SPOTTING,
            task__status=Task.Status.COMPLETE,
            assignment__status=Assignment.Status.SUBMITTED,
        )
        .exclude(Exists(started))
        .values_list("image_id", "category_id")
        .distinct()
        .order_by("image_id", "category_id")
    )
    pair_ids = list(pairs)
    images = Image.objects.select_related("project").in_bulk({image for image, _ in pair_ids})
    categories = Category.objects.in_bulk({category for _, category in pair_ids})
    posted = 0
    for image_id, category_id in pair_ids:
        task = segmentation_post_next(image=images[image_id], category=categories[category_id])
        posted += task is not None
    return posted


def pairs_waiting() -> QuerySet[SegmentationProgress]:
    """Pairs still segmenting with nothing in flight: no open task, no answer whose rule has
    not run yet, no mask waiting for verification. `segmentation_post_next` always acts on
    them (next instance, done, or crowd painting): they waited for verification's last
    verdict, or a hand-off was lost."""
    of_pair = {"image_id": OuterRef("image_id"), "category_id": OuterRef("category_id")}
    in_flight = Task.objects.filter(stage=Stage.SEGMENTATION, **of_pair).filter(
        Q(status=Task.Status.OPEN) | Q(status=Task.Status.COMPLETE, result__isnull=True)
    )
    pending = Segmentation.objects.filter(status=Segmentation.Status.PENDING, **of_pair)
    return (
        SegmentationProgress.objects.filter(state=SegmentationProgress.State.SEGMENTING)
        .exclude(Exists(in_flight))
        .exclude(Exists(pending))
    )


def segmentation_pairs_advance(*, project_id: int) -> int:
    """Run `segmentation_post_next` for every pair of the project that waits (after
    verification decided masks). Safe to run twice. Returns how many tasks were posted."""
    pairs = list(
        pairs_waiting()
        .filter(image__project_id=project_id)
        .select_related("image__project", "category")
    )
    return sum(
        segmentation_post_next(image=pair.image, category=pair.category) is not None
        for pair in pairs
    )


# 3. Who may take a task --------------------------------------------------------------------


def eligible_segmentation_tasks(tasks: QuerySet[Task], worker: Any) -> QuerySet[Task]:
    """Only workers who passed the category's training (thesis §2.4.3); experts and admins
    author the references and need none."""
    if is_expert(worker):
        return tasks
    qualified = Qualification.objects.filter(worker=worker, passed=True).values("category_id")
    # A trainee never segments an (image, category) they trained on: the training reference
    # would be the answer (issue 13).
    trained_on = TrainingAttempt.objects.filter(
        qualification__worker=worker,
        reference__image_id=OuterRef("image_id"),
        reference__category_id=OuterRef("category_id"),
    )
    return tasks.filter(category_id__in=qualified).exclude(Exists(trained_on))


# 4. One worker's answer -----------------------------------------------------------------------


def _effort_count(answer: dict, key: str) -> int:
    value = answer.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise AnswerInvalid(f"{key} must be a whole number of at least 0")
    return value


def _near_spot(polygons: list[list[float]], x: float, y: float) -> bool:
    return geometry.OutlineShape(polygons).near(x, y, SPOT_TOLERANCE_PX)


def _outlined_near(image: Image, category: Category, spot: dict) -> bool:
    """A live outline (pending or accepted) of the category passes near the spot."""
    return any(
        geometry.OutlineShape(polygons).near(spot["x"], spot["y"], SPOT_TOLERANCE_PX)
        for polygons in live_masks(image, category).values_list("polygons", flat=True)
    )


def validate_segmentation_answer(task: Task, answer: Any) -> dict:
    """An outline around the task's spot, or one of the explicit answers."""
    if not isinstance(answer, dict):
        raise AnswerInvalid(
            'the answer must be {"polygons": [...]}, {"no_such_object": true}, '
            '{"all_segmented": true}, {"already_outlined": true} or {"crowd": true}'
        )
    effort = {
        "vertices": _effort_count(answer, "vertices"),
        "edits": _effort_count(answer, "edits"),
    }
    kinds = [
        k
        for k in ("polygons", "no_such_object", "all_segmented", "already_outlined", "crowd")
        if answer.get(k)
    ]
    if len(kinds) != 1:
        raise AnswerInvalid(
            "send exactly one of: an outline, 'there is no such object', "
            "'all instances are already segmented', 'this object is already outlined' "
            "or 'this is a crowd'"
        )
    name = task.category.name if task.category is not None else "object"
    if kinds[0] in ("no_such_object", "all_segmented", "crowd"):
        return {kinds[0]: True, **effort}
    project = task.project
    image = task.image
    if image is None:
        raise AnswerInvalid("this task has no image to outline anything in")
    if kinds[0] == "already_outlined":
        spot = task.payload.get("spot")
        if task.category is None or not spot or not _outlined_near(image, task.category, spot):
            raise AnswerInvalid(
                f"no outline of a {name} is near the red spot: outline the {name}, or say "
                "there is no such object"
            )
        return {"already_outlined": True, **effort}
    outline = geometry.normalise_polygons(
        answer["polygons"],
        width=image.width,
        height=image.height,
        max_vertices=project_setting(project, "segmentation_max_vertices", geometry.MAX_VERTICES),
        min_area=project_setting(project, "segmentation_min_area", geometry.MIN_AREA_PX),
    )
    spot = task.payload.get("spot")
    if spot and not _near_spot(outline.polygons, spot["x"], spot["y"]):
        raise AnswerInvalid(
            f"the outline must go around the {name} marked by the red spot, not another one"
        )
    return {
        "polygons": outline.polygons,
        "area": outline.area,
        "bbox_xywh": outline.bbox_xywh,
        "repairs": outline.repairs,
        "from_suggestion": bool(answer.get("from_suggestion"))
        and bool(task.payload.get("suggested") or task.payload.get("suggestion")),
        **effort,
    }


# 5. Aggregation and what happens next --------------------------------------------------------


def on_segmentation_complete(task: Task) -> None:
    """Store the outline (once), close the pair on 'all segmented', post the next task (a
    crowd answer stores nothing: the pair goes to crowd painting when it is finished)."""
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("image", "category", "instance")
            .get(id=task.id)
        )
        if task.status != Task.Status.COMPLETE:
            return
        assignment = (
            task.assignments.filter(status=Assignment.Status.SUBMITTED)
            .select_related("worker")
            .first()
        )
        if assignment is None:
            return
        # A segmentation task is posted with its image, category and instance.
        image, category, instance = task.image, task.category, task.instance
        worker = assignment.worker  # a submitted answer has its worker
        assert image is not None and category is not None and instance is not None
        assert worker is not None
        answer: dict[str, Any] = assignment.answer or {}
        if "polygons" in answer:
            Segmentation.objects.get_or_create(
                assignment=assignment,
                defaults={
                    "task": task,
                    "instance": instance,
                    "image": image,
                    "category": category,
                    "worker": worker,
                    "polygons": answer["polygons"],
                    "area": answer["area"],
                    "bbox_xywh": answer["bbox_xywh"],
                    "vertices": answer.get("vertices", 0),
                    "edits": answer.get("edits", 0),
                    "seconds": assignment.time_spent_seconds,
                    "from_suggestion": answer.get("from_suggestion", False),
                },
            )
            outcome = "segmented"
        elif answer.get("no_such_object"):
            outcome = "no_such_object"
        elif answer.get("already_outlined"):
            outcome = "already_outlined"
        elif answer.get("crowd"):
            outcome = "crowd"
        else:
            outcome = "all_segmented"
        # Saved before the pair is finished: a crowd answer is read back by _finish.
        task.result = {"outcome": outcome, "worker": assignment.worker_id}
        task.save(update_fields=["result"])
        if outcome == "all_segmented":
            _finish(
                _progress_locked(image, category),
                image,
                category,
                "a worker said all instances are already segmented",
            )
        segmentation_post_next(image=image, category=category)
        if outcome == "segmented":
            events.send_on_commit(events.masks_ready, project_id=task.project_id)


def effort_summary(tasks: QuerySet[Task]) -> dict:
    """Median seconds, vertices and edits per outlined instance (the dashboard's effort)."""
    rows = list(
        Segmentation.objects.filter(task__in=tasks).values_list("seconds", "vertices", "edits")
    )

    def median(raw: list[float | None]) -> float | None:
        values = sorted(v for v in raw if v is not None and not math.isnan(v))
        if not values:
            return None
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    return {
        "instances": len(rows),
        "median_seconds": median([r[0] for r in rows]),
        "median_vertices": median([r[1] for r in rows]),
        "median_edits": median([r[2] for r in rows]),
    }


register(
    StageRules(
        stage=Stage.SEGMENTATION,
        validate_answer=validate_segmentation_answer,
        on_task_complete=on_segmentation_complete,
        eligible_tasks=eligible_segmentation_tasks,
        tool_url_name="segmentation-tool",
        description="Outline one object with a polygon.",
    )
)
