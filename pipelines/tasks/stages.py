"""Hand-offs from one pipeline stage to the next. Each task loads its project by id and calls
the one stage function that posts the next stage's work; every one of those functions skips
what was already posted, so a redelivered or repeated message changes nothing."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from annotation import events
from annotation.models import Project
from annotation.stages import crowd, labeling, segmentation, verification
from pipelines.tasks.handoff import handoff_task, send_handoff

logger = logging.getLogger(__name__)


@handoff_task()
def post_segmentation_tasks(project_id: int) -> int:
    """Post the first segmentation task of every freshly spotted (image, category)."""
    return segmentation.segmentation_post_for_completed_spotting(project=project_id)


@handoff_task()
def advance_segmentation_pairs(project_id: int) -> int:
    """Move on the (image, category) pairs that waited for verification's verdicts."""
    return segmentation.segmentation_pairs_advance(project_id=project_id)


@handoff_task()
def post_verification_grids(project_id: int, allow_partial: bool = False) -> int:
    """Post verification grids for the masks that wait; how many were posted."""
    project = Project.objects.filter(id=project_id).first()
    if project is None:
        return 0
    try:
        return len(
            verification.verification_post_grids(project=project, allow_partial=allow_partial)
        )
    except verification.NotEnoughGold as error:
        logger.warning("verification grids not posted: %s", error.reason)
        return 0


@handoff_task()
def post_crowd_tasks(project_id: int) -> int:
    """Post one painting task per pair past the individual cap that has none."""
    project = Project.objects.filter(id=project_id).first()
    return 0 if project is None else len(crowd.crowd_post_tasks(project=project))


@handoff_task()
def post_labeling_tasks(project_id: int, image_ids: list[int]) -> int:
    """Post the category-labeling task of photos that entered the dataset (none twice)."""
    project = Project.objects.filter(id=project_id).first()
    if project is None:
        return 0
    return len(labeling.labeling_tasks_post(project=project, images=image_ids))


@receiver(events.spots_ready, dispatch_uid="pipelines.post_segmentation_tasks")
def _queue_segmentation(sender: Any, *, project_id: int, **kwargs: Any) -> None:
    send_handoff(post_segmentation_tasks, project_id)


@receiver(events.masks_verified, dispatch_uid="pipelines.advance_segmentation_pairs")
def _queue_pairs(sender: Any, *, project_id: int, **kwargs: Any) -> None:
    send_handoff(advance_segmentation_pairs, project_id)


@receiver(events.masks_ready, dispatch_uid="pipelines.post_verification_grids")
def _queue_grids(sender: Any, *, project_id: int, **kwargs: Any) -> None:
    send_handoff(post_verification_grids, project_id)


@receiver(events.crowd_pairs_ready, dispatch_uid="pipelines.post_crowd_tasks")
def _queue_crowd(sender: Any, *, project_id: int, **kwargs: Any) -> None:
    send_handoff(post_crowd_tasks, project_id)


@receiver(events.images_ready_for_labeling, dispatch_uid="pipelines.post_labeling_tasks")
def _queue_labeling(sender: Any, *, project_id: int, image_ids: list[int], **kwargs: Any) -> None:
    send_handoff(post_labeling_tasks, project_id, list(image_ids))
