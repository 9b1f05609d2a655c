"""The web app's side of the model service: it sends tasks by name to the Celery queue
``models`` (consumed by ``models_zoo.serve`` in .venv-models) and never imports torch.
Answers come back as ``pipelines.store_proposals`` on the default queue (a Celery link), so
nothing here waits on the model service: when it is down, tasks go out without suggestions.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from celery import current_app, signature
from celery.exceptions import AlwaysEagerIgnored
from django.conf import settings
from django.db.models import Q

from annotation.models import Image
from annotation.services.media_delivery import service_url, storage_is_local

log = logging.getLogger(__name__)

QUEUE = "models"
PROPOSE = "models.propose_images"
TRAIN = "models.train"
PING = "models.ping"
STORE = "pipelines.store_proposals"
BATCH = 16  # images per models task
# How long the models worker may take to reach a photo in object storage: a queue that
# waits longer than this gets "expired URL" errors for those images, which are then simply
# without suggestions (nothing waits on the model service).
MODELS_URL_SECONDS = 6 * 3600


def models_queue_enabled() -> bool:
    """Setting MODELS_SERVICE: on by default whenever there is a Celery broker (without one,
    the model service, a separate process, cannot be reached)."""
    return bool(settings.MODELS_SERVICE and settings.CELERY_BROKER_URL)


def _send(name: str, kwargs: dict[str, Any], **options: Any) -> str | None:
    """Publish one task; the task id, or None when the broker cannot take it."""
    if not models_queue_enabled():
        return None
    try:
        with warnings.catch_warnings():
            # Eager mode runs our own tasks in-process; the models worker is another process.
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            result = current_app.send_task(name, kwargs=kwargs, queue=QUEUE, retry=False, **options)
    except Exception:  # any broker failure: the pipeline goes on without proposals
        log.warning("model service: could not queue %s", name, exc_info=True)
        return None
    return str(result.id)


def proposals_request(*, image_ids: list[int], kind: str = "sharpmask", top_n: int = 100) -> int:
    """Ask the model service for proposals of these images (in batches); the number of
    batches queued (0 when the queue is unreachable)."""
    if not models_queue_enabled():
        return 0
    images = Image.objects.filter(id__in=image_ids).exclude(Q(file="") | Q(file__isnull=True))
    names = {str(image.id): str(image.file.name) for image in images.only("id", "file")}
    # Local media: the models worker shares the media volume and reads paths under it.
    # Object storage: it gets a presigned URL per photo (it holds no bucket credentials).
    where = "image_paths" if storage_is_local() else "image_urls"
    ids = sorted(names)
    queued = 0
    for start in range(0, len(ids), BATCH):
        batch = {i: names[i] for i in ids[start : start + BATCH]}
        if where == "image_urls":
            batch = {i: service_url(name, seconds=MODELS_URL_SECONDS) for i, name in batch.items()}
        link = signature(STORE, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        if _send(PROPOSE, {where: batch, "kind": kind, "top_n": top_n}, link=link):
            queued += 1
    return queued


def training_request(*, model: str, config: str, snapshot: str, snapshot_id: str) -> str | None:
    """Hand a training run to the model service; ``snapshot`` is relative to MEDIA_ROOT."""
    return _send(
        TRAIN, {"model": model, "config": config, "snapshot": snapshot, "snapshot_id": snapshot_id}
    )


def models_service_status(*, timeout: float = 2.0) -> dict[str, Any]:
    """``{"state": "up", "promoted": {"sharpmask": "v0003", "fpn": None}}``, or
    ``{"state": "down" | "disabled", "reason": ...}``; waits at most ``timeout`` seconds."""
    if not models_queue_enabled():
        return {"state": "disabled", "reason": "MODELS_SERVICE is off or there is no Celery broker"}
    try:
        result = current_app.send_task(PING, queue=QUEUE, retry=False, expires=timeout)
        promoted = result.get(timeout=timeout)
    except Exception as error:  # timeout or broker failure alike: report, never raise
        return {"state": "down", "reason": f"no models worker answered ({type(error).__name__})"}
    if not any(promoted.values()):
        return {"state": "up", "promoted": promoted, "reason": "no checkpoint promoted yet"}
    return {"state": "up", "promoted": promoted}
