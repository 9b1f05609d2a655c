"""The ``models`` Celery worker: loads the promoted checkpoint once and answers proposals
for batches of images.

    cd <repo> && .venv-models/bin/celery -A models_zoo.serve worker -Q models --concurrency=1

The web app sends ``models.propose_images`` by name (it never imports this module or torch)
with image paths relative to ``MEDIA_ROOT`` (local media on a shared volume) or presigned
URLs (``MEDIA_STORAGE=s3``: this worker holds no bucket credentials); the answer is, per image, the top-N proposals
(COCO RLE, simplified polygon, ``bbox_xywh``, score) with the model version that made them.
Settings come from the environment: ``REDIS_URL``, ``MEDIA_ROOT``, ``MODELS_CHECKPOINTS``
(the checkpoint root, default ``<MEDIA_ROOT>/models``) and ``MODELS_KIND`` (``sharpmask``).
"""

from __future__ import annotations

import io
import os
import threading
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from celery import Celery

from models_zoo.checkpoints import load_checkpoint, promoted_version
from models_zoo.configs import run_config
from models_zoo.data import load_coco_folder, normalise, read_image
from models_zoo.fpn import FPNProposals
from models_zoo.postprocess import proposals_to_records
from models_zoo.sharpmask import SharpMask
from models_zoo.train import train_and_promote

QUEUE = "models"
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MAX_IMAGE_BYTES = int(os.environ.get("MODELS_MAX_IMAGE_BYTES", str(50 * 1024 * 1024)))

app = Celery("cocoforge-models", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
)

_lock = threading.Lock()
_loaded: dict[str, tuple[Path, SharpMask | FPNProposals, dict[str, Any]]] = {}


def checkpoint_root() -> Path:
    return Path(os.environ.get("MODELS_CHECKPOINTS", default_media_root() / "models"))


def default_media_root() -> Path:
    """The web app's MEDIA_ROOT (its default: var/media under the repository)."""
    return Path(os.environ.get("MEDIA_ROOT", "var/media"))


def served_model(
    kind: str, root: Path | None = None
) -> tuple[SharpMask | FPNProposals, dict[str, Any]] | None:
    """The promoted checkpoint of ``kind``, loaded once and reloaded only when another
    version is promoted; None while none is."""
    root = root or checkpoint_root()
    version = promoted_version(root, kind)
    if version is None:
        return None
    with _lock:
        cached = _loaded.get(kind)
        if cached is None or cached[0] != version:
            model, meta = load_checkpoint(version)
            model.to(DEVICE)
            _loaded[kind] = (version, model, meta)
        _, model, meta = _loaded[kind]
    return model, meta


def fetch_image(url: str, *, max_bytes: int | None = None, timeout: float = 30.0) -> np.ndarray:
    """The photo behind a presigned URL (media in object storage), read whole only when it
    is no larger than ``max_bytes`` (MODELS_MAX_IMAGE_BYTES, 50 MB): the worker decodes
    nothing it has not bounded first (read_image then bounds the pixels)."""
    limit = max_bytes if max_bytes is not None else MAX_IMAGE_BYTES
    if urlparse(url).scheme not in {"http", "https"}:
        raise ValueError("only http(s) URLs are fetched")
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        declared = answer.headers.get("Content-Length")
        if declared is not None and int(declared) > limit:
            raise ValueError(f"the photo is {int(declared)} bytes, over the {limit}-byte limit")
        content = answer.read(limit + 1)
    if len(content) > limit:
        raise ValueError(f"the photo is over the {limit}-byte limit")
    return read_image(io.BytesIO(content))


def propose_images(
    *,
    image_paths: dict[str, str] | None = None,
    image_urls: dict[str, str] | None = None,
    kind: str = "sharpmask",
    top_n: int = 100,
    root: Path | None = None,
    media_root: Path | None = None,
) -> dict[str, Any]:
    """``image_paths``: image id -> path under the media root (local media, a shared volume);
    ``image_urls``: image id -> presigned URL (media in object storage). Returns
    ``{"status": "ok", "model": kind, "version": ..., "images": {id: [proposal, ...]},
    "errors": {id: reason}}`` or ``{"status": "no_checkpoint"}``."""
    served = served_model(kind, root)
    if served is None:
        return {"status": "no_checkpoint", "model": kind}
    model, meta = served
    media = media_root or default_media_root()
    images: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    sources: list[tuple[str, str, bool]] = [
        *((i, path, False) for i, path in (image_paths or {}).items()),
        *((i, url, True) for i, url in (image_urls or {}).items()),
    ]
    for image_id, where, is_url in sources:
        try:
            if is_url:
                pixels = fetch_image(where)
            else:
                path = (media / where).resolve()
                if media.resolve() not in path.parents:
                    errors[image_id] = "path outside the media root"
                    continue
                pixels = read_image(path)
        except (OSError, ValueError) as error:
            errors[image_id] = str(error)
            continue
        with torch.no_grad():
            proposals = model.propose(normalise(pixels).to(DEVICE), top_k=max(top_n, 1))
        images[image_id] = proposals_to_records(proposals, top_n=top_n)
    return {
        "status": "ok",
        "model": kind,
        "version": f"{kind}/{meta['version']}",
        "images": images,
        "errors": errors,
    }


@app.task(name="models.propose_images", queue=QUEUE, acks_late=True)
def propose_images_task(
    image_paths: dict[str, str] | None = None,
    kind: str = "sharpmask",
    top_n: int = 100,
    image_urls: dict[str, str] | None = None,
) -> dict[str, Any]:
    return propose_images(image_paths=image_paths, image_urls=image_urls, kind=kind, top_n=top_n)


@app.task(name="models.ping", queue=QUEUE)
def ping() -> dict[str, Any]:
    """What the web app's status check asks: which versions are promoted."""
    root = checkpoint_root()
    return {
        kind: (version.name if (version := promoted_version(root, kind)) else None)
        for kind in ("sharpmask", "fpn")
    }


@app.task(name="models.train", queue=QUEUE, acks_late=False)
def train_task(model: str, config: str, snapshot: str, snapshot_id: str) -> dict[str, Any]:
    """Train on a snapshot the web app wrote under MEDIA_ROOT; the summary (version,
    held-out metrics, promoted) is the result. Several GPUs: run models_zoo.train under
    torchrun by hand instead (docs/admin/models.md)."""
    media = default_media_root()
    config_path = config if config in ("full", "tiny") else str(media / config)
    run = run_config(model, config_path)
    dataset, records = load_coco_folder(media / snapshot, media_root=media)
    summary = train_and_promote(
        run=run,
        dataset=dataset,
        records=records,
        checkpoints=checkpoint_root(),
        snapshot_id=snapshot_id,
        progress=False,
    )
    return summary or {}
