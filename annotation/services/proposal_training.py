"""Training snapshots for the model service: the project's accepted annotations written
through the COCO exporter into media storage, with each image's media path, so the models
worker (another environment) reads them without Django."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.text import slugify

from annotation.errors import DomainError
from annotation.models import Image, Project
from annotation.services.coco_export import instances_export

SNAPSHOTS = "models/snapshots"


@dataclass
class Snapshot:
    snapshot_id: str
    folder: Path  # absolute
    relative: str  # under MEDIA_ROOT, as the models worker is told
    images: int
    annotations: int


def training_snapshot_create(*, project: Project) -> Snapshot:
    """Export the project's accepted annotations (all splits: the trainer holds out its own
    fixed set of images) to ``MEDIA_ROOT/models/snapshots/<id>/annotations.json``."""
    if settings.MEDIA_STORAGE != "local":
        raise DomainError(
            "training snapshots need MEDIA_STORAGE=local (the models worker reads MEDIA_ROOT)"
        )
    snapshot_id = f"{slugify(project.name) or project.id}-{time.strftime('%Y%m%dT%H%M%S')}"
    relative = f"{SNAPSHOTS}/{snapshot_id}"
    folder = Path(settings.MEDIA_ROOT) / relative
    folder.mkdir(parents=True, exist_ok=False)
    exported = folder / "instances.json"
    instances_export(project=project, split=None, out=exported, rle_form="compressed")
    dataset = json.loads(exported.read_text())
    paths = dict(
        Image.objects.filter(project=project, coco_id__isnull=False).values_list("coco_id", "file")
    )
    for entry in dataset["images"]:
        entry["path"] = paths.get(entry["id"], "")
    dataset["images"] = [entry for entry in dataset["images"] if entry["path"]]
    if not dataset["annotations"]:
        raise DomainError(f"project {project.name!r} has no accepted annotations to train on")
    partial = folder / "annotations.json.part"
    partial.write_text(json.dumps(dataset))
    os.replace(partial, folder / "annotations.json")
    return Snapshot(
        snapshot_id=snapshot_id,
        folder=folder,
        relative=relative,
        images=len(dataset["images"]),
        annotations=len(dataset["annotations"]),
    )
