"""Reading a COCO-format ground truth for the simulator (no Django).

Any COCO instances file works: a missing `supercategory` reads as none (the project then uses
the category's own name, as `create_project` does), a missing `iscrowd` as 0. Masks are
decoded lazily with pycocotools and kept per instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union


class GroundTruthError(ValueError):
    """The file is not a usable COCO instances ground truth (the message says why)."""


@dataclass
class GtInstance:
    id: int
    image_id: int
    category_id: int
    iscrowd: bool
    segmentation: Any
    bbox_xywh: list[float]
    area: float
    _rle: dict | None = field(default=None, repr=False)
    _shape: BaseGeometry | None = field(default=None, repr=False)

    def rle(self, height: int, width: int) -> dict:
        if self._rle is None:
            self._rle = to_rle(self.segmentation, height, width)
        return self._rle

    def mask(self, height: int, width: int) -> np.ndarray:
        return mask_utils.decode(self.rle(height, width)).astype(bool)

    def shape(self) -> BaseGeometry | None:
        """The polygons as one shapely shape (None for an RLE-only instance)."""
        if self._shape is None and self.polygons():
            parts = [Polygon(np.asarray(part).reshape(-1, 2)).buffer(0) for part in self.polygons()]
            self._shape = unary_union(parts)
        return self._shape

    def polygons(self) -> list[list[float]]:
        """The polygon parts (empty for an RLE-only instance)."""
        if isinstance(self.segmentation, list):
            return [list(map(float, part)) for part in self.segmentation if len(part) >= 6]
        return []


@dataclass
class GtImage:
    id: int
    file_name: str
    width: int
    height: int
    instances: list[GtInstance] = field(default_factory=list)

    def of_category(self, category_id: int, *, crowd: bool | None = None) -> list[GtInstance]:
        return [
            i
            for i in self.instances
            if i.category_id == category_id and (crowd is None or i.iscrowd == crowd)
        ]

    @property
    def category_ids(self) -> list[int]:
        return sorted({i.category_id for i in self.instances})


@dataclass
class GtCategory:
    id: int
    name: str
    supercategory: str | None


@dataclass
class GroundTruth:
    images: list[GtImage]
    categories: list[GtCategory]
    raw: dict

    @property
    def instance_count(self) -> int:
        return sum(len(image.instances) for image in self.images)

    def image(self, image_id: int) -> GtImage:
        return self._by_id[image_id]

    def __post_init__(self) -> None:
        self._by_id = {image.id: image for image in self.images}

    def as_coco(self) -> dict:
        """The file's content with the defaults filled in (for the evaluator)."""
        annotations = []
        for image in self.images:
            for inst in image.instances:
                annotations.append(
                    {
                        "id": inst.id,
                        "image_id": image.id,
                        "category_id": inst.category_id,
                        "iscrowd": int(inst.iscrowd),
                        "segmentation": inst.segmentation,
                        "bbox": inst.bbox_xywh,
                        "area": inst.area,
                    }
                )
        return {
            "images": [
                {"id": i.id, "file_name": i.file_name, "width": i.width, "height": i.height}
                for i in self.images
            ],
            "annotations": annotations,
            "categories": [
                {"id": c.id, "name": c.name, "supercategory": c.supercategory or c.name}
                for c in self.categories
            ],
        }


def to_rle(segmentation: Any, height: int, width: int) -> dict:
    """Polygons, uncompressed or compressed RLE -> one compressed RLE."""
    if isinstance(segmentation, list):
        parts = [p for p in segmentation if len(p) >= 6]
        if not parts:
            return mask_utils.encode(np.zeros((height, width), dtype=np.uint8, order="F"))
        return mask_utils.merge(mask_utils.frPyObjects(parts, height, width))
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        return mask_utils.frPyObjects(segmentation, height, width)
    if isinstance(segmentation, dict):
        counts = segmentation["counts"]
        return {
            "size": list(segmentation["size"]),
            "counts": counts.encode() if isinstance(counts, str) else counts,
        }
    raise GroundTruthError(f"unreadable segmentation: {type(segmentation).__name__}")


def read_ground_truth(path: Path | str) -> GroundTruth:
    """Read and check a COCO instances file; GroundTruthError names the first problem."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as error:
        raise GroundTruthError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise GroundTruthError(f"{path} is not JSON: {error}") from None
    return ground_truth_from_dict(data, where=str(path))


def ground_truth_from_dict(data: Any, *, where: str = "ground truth") -> GroundTruth:
    if not isinstance(data, dict):
        raise GroundTruthError(f"{where}: expected a COCO object with images and annotations")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise GroundTruthError(f"{where}: the {key!r} list is missing")
    categories = []
    for entry in data["categories"]:
        try:
            categories.append(
                GtCategory(
                    id=int(entry["id"]),
                    name=str(entry["name"]),
                    supercategory=entry.get("supercategory") or None,
                )
            )
        except (KeyError, TypeError, ValueError):
            raise GroundTruthError(
                f"{where}: a category lacks an id or a name: {entry!r}"
            ) from None
    known_categories = {c.id for c in categories}
    images: dict[int, GtImage] = {}
    for entry in data["images"]:
        try:
            image = GtImage(
                id=int(entry["id"]),
                file_name=str(entry.get("file_name") or f"{entry['id']}.jpg"),
                width=int(entry["width"]),
                height=int(entry["height"]),
            )
        except (KeyError, TypeError, ValueError):
            raise GroundTruthError(
                f"{where}: an image lacks id, width or height: {entry!r}"
            ) from None
        if image.width < 1 or image.height < 1:
            raise GroundTruthError(
                f"{where}: image {image.id} has no size ({image.width}x{image.height})"
            )
        images[image.id] = image
    for entry in data["annotations"]:
        try:
            image = images[int(entry["image_id"])]
            category_id = int(entry["category_id"])
        except (KeyError, TypeError, ValueError):
            raise GroundTruthError(
                f"{where}: annotation {entry.get('id')!r} names no known image"
            ) from None
        if category_id not in known_categories:
            raise GroundTruthError(
                f"{where}: annotation {entry.get('id')!r} has unknown category {category_id}"
            )
        segmentation = entry.get("segmentation")
        if not segmentation:
            continue  # box-only annotations cannot be segmented against; skipped
        instance = GtInstance(
            id=int(entry["id"]),
            image_id=image.id,
            category_id=category_id,
            iscrowd=bool(entry.get("iscrowd", 0)),
            segmentation=segmentation,
            bbox_xywh=[float(v) for v in entry.get("bbox") or [0, 0, 0, 0]],
            area=float(entry.get("area") or 0.0),
        )
        if not instance.area or not any(instance.bbox_xywh[2:]):
            rle = instance.rle(image.height, image.width)
            instance.area = float(mask_utils.area(rle))
            instance.bbox_xywh = [float(v) for v in mask_utils.toBbox(rle)]
        image.instances.append(instance)
    return GroundTruth(
        images=sorted(images.values(), key=lambda i: i.id), categories=categories, raw=data
    )


def replicate(gt: GroundTruth, copies: int) -> GroundTruth:
    """The ground truth repeated `copies` times (new image and annotation ids, file names
    prefixed), for benchmarks on more images than a sample has."""
    data = gt.as_coco()
    images, annotations = [], []
    image_step = max(i["id"] for i in data["images"]) + 1
    ann_step = max((a["id"] for a in data["annotations"]), default=0) + 1
    for copy in range(copies):
        for image in data["images"]:
            images.append(
                {
                    **image,
                    "id": image["id"] + copy * image_step,
                    "file_name": f"r{copy}_{image['file_name']}",
                }
            )
        for ann in data["annotations"]:
            annotations.append(
                {
                    **ann,
                    "id": ann["id"] + copy * ann_step,
                    "image_id": ann["image_id"] + copy * image_step,
                }
            )
    return ground_truth_from_dict(
        {"images": images, "annotations": annotations, "categories": data["categories"]}
    )
