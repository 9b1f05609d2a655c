"""Celery tasks of the model service's answers (default queue; the models worker links them)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from annotation.errors import DomainError
from annotation.events import image_stored
from annotation.services.proposals import proposals_store
from pipelines.models_client import proposals_request

log = logging.getLogger(__name__)


@shared_task(name="pipelines.store_proposals", acks_late=True)
def store_proposals(answer: dict[str, Any]) -> int:
    """Store a ``models.propose_images`` answer per image and model version; the number of
    images stored. A bad image's answer is logged and skipped, the others kept."""
    if not isinstance(answer, dict) or answer.get("status") != "ok":
        return 0
    stored = 0
    for image_id, proposals in (answer.get("images") or {}).items():
        try:
            if proposals_store(
                image_id=int(image_id),
                model_version=str(answer.get("version", "")),
                proposals=proposals,
            ):
                stored += 1
        except (DomainError, ValueError) as error:
            log.warning("proposals of image %s refused: %s", image_id, error)
    return stored


def _on_image_stored(sender: object, *, image_id: int, **kwargs: Any) -> None:
    """Images entering the pipeline get proposals: queue them on `models` (never waits)."""
    proposals_request(image_ids=[image_id])


image_stored.connect(_on_image_stored, dispatch_uid="pipelines.tasks.models.image_stored")
