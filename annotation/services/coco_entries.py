"""COCO entries as the released instances files write them: images, annotations, RLE, info.

Crowd regions are stored as compressed RLE and written in the form the released instances
files use: uncompressed counts (a list of run lengths), with integer area and box (pixel
counts). An imported file's uncompressed RLE therefore comes back out exactly as it went in.
Polygon areas and boxes are written as stored (floats, Python repr).
"""

from __future__ import annotations

import tomllib
from datetime import UTC
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from pycocotools import mask as coco_mask

from annotation.models import Project
from pipelines.coco.export import rle_counts_from_string

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # the released files' date_captured
RLE_FORMS = ("uncompressed", "compressed")


def software_version() -> str:
    try:
        with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _integral(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def rle_for_export(rle: dict, form: str = "uncompressed") -> dict:
    """A stored RLE (compressed counts string) in the export's form."""
    counts = rle["counts"]
    if form == "compressed":
        if isinstance(counts, list):
            height, width = rle["size"]
            counts = coco_mask.frPyObjects(rle, height, width)["counts"].decode("ascii")
        return {"size": list(rle["size"]), "counts": counts}
    if isinstance(counts, str):
        counts = rle_counts_from_string(counts)
    return {"size": list(rle["size"]), "counts": counts}


def image_entry(row: dict, licenses: dict[tuple[str, str], int]) -> dict:
    entry: dict[str, Any] = {}
    license_id = licenses.get((row["license_name"], row["license_url"]))
    if license_id is not None:
        entry["license"] = license_id
    entry["file_name"] = row["file_name"]
    entry["height"] = row["height"]
    entry["width"] = row["width"]
    if row["date_taken"] is not None:
        entry["date_captured"] = row["date_taken"].astimezone(UTC).strftime(DATE_FORMAT)
    if row["original_url"]:
        entry["flickr_url"] = row["original_url"]
    entry["id"] = row["coco_id"]
    entry["_split"] = row["split"] or "unassigned"
    return entry


def annotation_entry(row: tuple, rle_form: str = "uncompressed") -> dict:
    coco_id, image_id, category_id, segmentation, area, bbox, iscrowd = row
    if isinstance(segmentation, dict):
        segmentation = rle_for_export(segmentation, rle_form)
        # Mask regions are counted in pixels: the released files store ints.
        area = _integral(area)
        bbox = [_integral(v) for v in bbox]
    return {
        "segmentation": segmentation,
        "area": area,
        "iscrowd": int(iscrowd),
        "image_id": image_id,
        "bbox": bbox,
        "category_id": category_id,
        "id": coco_id,
    }


def info_entry(project: Project) -> dict:
    now = timezone.now()
    return {
        "description": project.description or project.name,
        "url": "",
        "version": software_version(),
        "year": now.year,
        "contributor": project.name,
        "date_created": now.strftime("%Y/%m/%d"),
    }
