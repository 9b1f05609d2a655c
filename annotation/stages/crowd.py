"""Stage 6, crowd painting (thesis §2.4.3, appendix A "Crowd Labeling"), top to bottom.

1. Tasks: an (image, category) whose individually segmented instances (accepted masks)
   reached the cap (10 by default; COCO: 10-15) while spotted instances remain uncovered
   beyond them, or one where a segmenter answered "crowd" for a spot once its other spots
   are done, is marked CROWD by the segmentation stage (`segmentation_post_next`); it gets
   ONE painting task: paint every remaining pixel of the category. `crowd_post_tasks(project=)`
   posts the missing ones (safe to run twice; queued by the `crowd_pairs_ready` signal,
   pipelines.tasks.stages.post_crowd_tasks).
2. An answer, one of:
       {"png": "data:image/png;base64,..."}   a mask of the image's size: painted = opaque
                                               (alpha >= 128) non-black pixels
       {"rle": {"size": [h, w], "counts": ...}} a COCO RLE (compressed str or list counts)
       {"none_left": true}                      the segmented instances already cover all
   The mask must have the image's size and at least one painted pixel; otherwise
   AnswerInvalid (400) and nothing is stored.
3. Aggregation (one answer): the painting becomes ONE Annotation with iscrowd = 1, its
   segmentation the compressed RLE {"size": [h, w], "counts": str} exactly as the released
   COCO files store crowd regions, area = painted pixels (pycocotools area), bbox = toBbox.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from annotation import geometry
from annotation.errors import AnswerInvalid
from annotation.models import Annotation, Assignment, Project, Stage, Task
from annotation.models.segmentation import SegmentationProgress
from annotation.models.verification import CrowdPainting
from annotation.services import task_engine
from annotation.services.annotations import annotation_record
from annotation.stages import StageRules, register
from annotation.stages.segmentation import live_masks

MAX_PNG_BYTES = 20 * 1024 * 1024  # a 4000x3000 binary PNG is well under 1 MiB
PNG_PREFIX = "data:image/png;base64,"


# 1. Tasks -------------------------------------------------------------------------------------


def pairs_awaiting_painting(project: Project) -> QuerySet[SegmentationProgress]:
    """Pairs past the individual cap with no crowd task yet."""
    has_task = Task.objects.filter(
        stage=Stage.CROWD, image_id=OuterRef("image_id"), category_id=OuterRef("category_id")
    ).exclude(status=Task.Status.CANCELLED)
    return (
        SegmentationProgress.objects.filter(
            image__project=project, state=SegmentationProgress.State.CROWD
        )
        .exclude(Exists(has_task))
        .select_related("image", "category")
    )


def crowd_post_tasks(*, project: Project) -> list[Task]:
    """Post one painting task per pair past the cap; pairs that have one are skipped."""
    posted = []
    with transaction.atomic():
        # One poster at a time per project: never two painting tasks for one pair.
        Project.objects.select_for_update().get(id=project.id)
        for progress in pairs_awaiting_painting(project):
            posted.append(
                task_engine.task_post(
                    project=project,
                    stage=Stage.CROWD,
                    answers_needed=1,
                    image=progress.image,
                    category=progress.category,
                    payload={
                        "segmented": live_masks(progress.image, progress.category).count(),
                        "reason": progress.reason,
                    },
                )
            )
    return posted


# 2. One worker's answer -----------------------------------------------------------------------


def _mask_from_png(data_url: Any, height: int, width: int) -> np.ndarray:
    if not isinstance(data_url, str) or not data_url.startswith(PNG_PREFIX):
        raise AnswerInvalid("the painting must be a PNG data URL (data:image/png;base64,...)")
    if len(data_url) > MAX_PNG_BYTES * 4 // 3 + len(PNG_PREFIX) + 4:
        raise AnswerInvalid("the painting is too large")
    try:
        content = base64.b64decode(data_url[len(PNG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise AnswerInvalid("the painting is not valid base64") from None
    import PIL.Image

    try:
        with PIL.Image.open(io.BytesIO(content)) as picture:
            if picture.format != "PNG":
                raise AnswerInvalid("the painting must be a PNG")
            # Pillow's open reads the header only: the declared size is checked before a
            # single pixel is decoded (a 315 KB PNG can declare 9000x9000 = 1.35 GB RGBA).
            if picture.size != (width, height):
                raise AnswerInvalid(
                    f"the painting is {picture.size[0]}x{picture.size[1]} but the photo is "
                    f"{width}x{height}"
                )
            rgba = np.asarray(picture.convert("RGBA"))
    except (OSError, PIL.Image.DecompressionBombError, SyntaxError):
        raise AnswerInvalid("the painting could not be decoded as a PNG") from None
    # Painted = opaque enough and not black: a transparent or black background both read as
    # unpainted, so a canvas exported either way decodes the same.
    return (rgba[..., 3] >= 128) & (rgba[..., :3].max(axis=2) > 0)


def _rle_from_answer(raw: Any, height: int, width: int) -> dict:
    if not isinstance(raw, dict) or "size" not in raw or "counts" not in raw:
        raise AnswerInvalid('an RLE is {"size": [height, width], "counts": ...}')
    size = raw["size"]
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
    ):
        raise AnswerInvalid("RLE size must be [height, width]")
    if size != [height, width]:
        raise AnswerInvalid(
            f"the painting is {size[1]}x{size[0]} but the photo is {width}x{height}"
        )
    try:
        return geometry.rle_checked(raw["counts"], height=height, width=width)
    except ValueError as error:
        raise AnswerInvalid(str(error)) from None


def painted_region(mask: np.ndarray) -> dict:
    """The released files' crowd form: compressed RLE with str counts, area and box."""
    return _region_of(geometry.mask_to_rle(mask))


def _region_of(rle: dict) -> dict:
    return {
        "rle": geometry.rle_json(rle),
        "area": geometry.rle_area(rle),
        "bbox_xywh": geometry.rle_bbox_xywh(rle),
    }


def validate_painting(task: Task, answer: Any) -> dict:
    """A painted mask of the photo's size with at least one pixel, or "none left"."""
    if not isinstance(answer, dict):
        raise AnswerInvalid('the answer must be {"png": ...}, {"rle": ...} or {"none_left": true}')
    kinds = [k for k in ("png", "rle", "none_left") if answer.get(k)]
    if len(kinds) != 1:
        raise AnswerInvalid("send exactly one of: a painting (png or rle) or 'nothing left'")
    if kinds[0] == "none_left":
        return {"none_left": True}
    if task.image is None:
        raise AnswerInvalid("this task has no image to paint on")
    height, width = task.image.height, task.image.width
    if kinds[0] == "png":
        mask = _mask_from_png(answer["png"], height, width)
        region = painted_region(mask)
    else:
        region = _region_of(_rle_from_answer(answer["rle"], height, width))
    if region["area"] == 0:
        name = task.category.name if task.category is not None else "object"
        raise AnswerInvalid(
            f"nothing is painted: paint the remaining {name} pixels, or say nothing is left"
        )
    return region


# 3. Aggregation ---------------------------------------------------------------------------------


def on_painting_complete(task: Task) -> None:
    """Store the painting as one iscrowd Annotation (once)."""
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("project", "image", "category")
            .get(id=task.id)
        )
        if task.status != Task.Status.COMPLETE or CrowdPainting.objects.filter(task=task).exists():
            return
        assignment = (
            task.assignments.filter(status=Assignment.Status.SUBMITTED)
            .select_related("worker")
            .first()
        )
        if assignment is None:
            return
        # A painting task is posted with its image and category.
        image, category, worker = task.image, task.category, assignment.worker
        assert image is not None and category is not None and worker is not None
        answer: dict[str, Any] = assignment.answer or {}
        annotation = None
        if "rle" in answer:
            annotation = annotation_record(
                project=task.project,
                image=image,
                category=category,
                segmentation=answer["rle"],
                area=answer["area"],
                bbox_xywh=answer["bbox_xywh"],
                origin=Annotation.Origin.CROWD,
                iscrowd=True,
            )
        CrowdPainting.objects.create(
            task=task,
            assignment=assignment,
            worker=worker,
            annotation=annotation,
            area=answer.get("area", 0),
            seconds=assignment.time_spent_seconds,
        )
        task.result = {
            "annotation": annotation.coco_id if annotation else None,
            "area": answer.get("area", 0),
            "worker": assignment.worker_id,
        }
        task.save(update_fields=["result"])


register(
    StageRules(
        stage=Stage.CROWD,
        validate_answer=validate_painting,
        on_task_complete=on_painting_complete,
        tool_url_name="crowd-tool",
        description="Paint every remaining pixel of a crowded category.",
    )
)
