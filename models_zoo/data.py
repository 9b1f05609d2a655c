"""Training data: COCO instances (as cocoforge's exporter writes them) or generated images
of simple shapes with exact masks, and DeepMask/SharpMask window sampling.

Window sampling follows DeepMask (Pinheiro et al. 2015, sec. 3.1) and the reference
DataSampler: a positive window has an object centred within ``shift`` px (at the window's
scale) and its longest side within ``2^(+-scale_jitter)`` of ``object_size``; a negative is
at least ``2 * shift`` px from every object centre or more than an octave off in scale.
Crowds and objects under ``min_area`` px (or ``min_side`` px wide) are never sampled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSING = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "pixels": "RGB/255"}
MAX_IMAGE_PIXELS = 40_000_000


@dataclass
class ImageRecord:
    image_id: int
    image: Tensor  # [3, H, W], normalised
    objects: list[dict[str, Any]] = field(default_factory=list)  # mask, bbox_xywh, iscrowd


def normalise(pixels: np.ndarray) -> Tensor:
    """uint8 [H, W, 3] RGB -> float [3, H, W] with ImageNet statistics."""
    tensor = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return (tensor - mean) / std


def read_image(path: Path | BinaryIO) -> np.ndarray:
    with Image.open(path) as image:
        if image.width * image.height > MAX_IMAGE_PIXELS:
            name = path if isinstance(path, Path) else "the photo"
            raise ValueError(f"{name}: {image.width}x{image.height} is too large to decode")
        return np.asarray(image.convert("RGB"))


def annotation_mask(annotation: dict, height: int, width: int) -> np.ndarray:
    segmentation = annotation["segmentation"]
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool)


def records_from_coco(dataset: dict, *, pixels: dict[int, np.ndarray]) -> list[ImageRecord]:
    """COCO instances + decoded pixels per image id -> records (images without pixels skipped)."""
    by_image: dict[int, list[dict]] = {}
    for annotation in dataset.get("annotations", []):
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    records = []
    for info in dataset.get("images", []):
        if info["id"] not in pixels:
            continue
        array = pixels[info["id"]]
        height, width = array.shape[:2]
        objects = [
            {
                "mask": annotation_mask(a, height, width),
                "bbox_xywh": list(a["bbox"]),
                "iscrowd": bool(a.get("iscrowd", 0)),
            }
            for a in by_image.get(info["id"], [])
            if a.get("segmentation")
        ]
        records.append(ImageRecord(image_id=info["id"], image=normalise(array), objects=objects))
    return records


def load_coco_folder(
    folder: Path, *, media_root: Path | None = None
) -> tuple[dict, list[ImageRecord]]:
    """A folder with ``annotations.json``; each image is ``images/<file_name>`` in it, or,
    when the entry has a ``path`` (cocoforge's training snapshots), ``media_root / path``."""
    dataset = json.loads((folder / "annotations.json").read_text())
    pixels = {}
    for info in dataset.get("images", []):
        if info.get("path") and media_root is not None:
            path = media_root / info["path"]
        else:
            path = folder / "images" / info["file_name"]
        if path.is_file():
            pixels[info["id"]] = read_image(path)
    return dataset, records_from_coco(dataset, pixels=pixels)


# -- generated shapes -------------------------------------------------------------------


def generate_shapes(
    *,
    images: int,
    size: int,
    seed: int,
    min_object: int = 10,
    max_object: int = 40,
    max_objects: int = 3,
    first_id: int = 1,
) -> tuple[dict, dict[int, np.ndarray]]:
    """Images of filled rectangles, ellipses and triangles on a noisy background, with exact
    masks (each shape's mask is the pixels it painted, minus what later shapes covered).
    Returns a COCO instances dict (RLE segmentations) and the pixels by image id."""
    rng = np.random.default_rng(seed)
    dataset: dict[str, Any] = {
        "images": [],
        "annotations": [],
        "categories": [{"id": 1, "name": "shape", "supercategory": "shape"}],
    }
    pixels = {}
    annotation_id = first_id * 1000
    for image_id in range(first_id, first_id + images):
        background = rng.integers(60, 120, size=3)
        canvas = np.clip(
            background[None, None, :] + rng.normal(0, 12, (size, size, 3)), 0, 255
        ).astype(np.uint8)
        image = Image.fromarray(canvas)
        masks: list[np.ndarray] = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            side_w = int(rng.integers(min_object, max_object + 1))
            side_h = int(np.clip(side_w * rng.uniform(0.6, 1.4), min_object, max_object))
            x0 = int(rng.integers(0, max(1, size - side_w)))
            y0 = int(rng.integers(0, max(1, size - side_h)))
            box = (x0, y0, x0 + side_w - 1, y0 + side_h - 1)
            layer = Image.new("L", (size, size), 0)
            draw = ImageDraw.Draw(layer)
            kind = int(rng.integers(0, 3))
            if kind == 0:
                draw.rectangle(box, fill=255)
            elif kind == 1:
                draw.ellipse(box, fill=255)
            else:
                draw.polygon([(x0, box[3]), (box[2], box[3]), ((x0 + box[2]) / 2, y0)], fill=255)
            colour = tuple(int(v) for v in rng.integers(150, 256, size=3))
            image.paste(colour, mask=layer)
            new = np.asarray(layer) > 0
            masks = [m & ~new for m in masks]
            masks.append(new)
        pixels[image_id] = np.asarray(image)
        dataset["images"].append(
            {"id": image_id, "file_name": f"{image_id}.png", "width": size, "height": size}
        )
        for mask in masks:
            if mask.sum() == 0:
                continue
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            annotation_id += 1
            dataset["annotations"].append(
                {
                    "id": annotation_id,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": {"size": list(rle["size"]), "counts": rle["counts"].decode()},
                    "area": float(mask_utils.area(rle)),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": 0,
                }
            )
    return dataset, pixels


# -- SharpMask windows ------------------------------------------------------------------


@dataclass
class WindowSampling:
    window: int
    context: int
    object_size: int
    mask_size: int
    shift: float  # px at the window's scale (16 in DeepMask for 128 px objects)
    scale_jitter: float = 0.25  # octaves
    min_area: float = 16.0
    min_side: float = 4.0
    positive_fraction: float = 0.5


def sample_square(image: Tensor, *, x0: float, y0: float, side: float, size: int) -> Tensor:
    """[C, H, W] -> [C, size, size]: the square image region resampled (zeros outside)."""
    _, height, width = image.shape
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size * side
    xs = (x0 + coords) / width * 2 - 1
    ys = (y0 + coords) / height * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]
    return F.grid_sample(image[None], grid, mode="bilinear", align_corners=False)[0]


def usable_objects(record: ImageRecord, sampling: WindowSampling) -> list[dict[str, Any]]:
    return [
        obj
        for obj in record.objects
        if not obj.get("iscrowd")
        and float(obj["mask"].sum()) >= sampling.min_area
        and min(obj["bbox_xywh"][2], obj["bbox_xywh"][3]) >= sampling.min_side
    ]


def sample_window(
    record: ImageRecord, sampling: WindowSampling, *, positive: bool, rng: np.random.Generator
) -> dict[str, Tensor] | None:
    """One training triplet: input [3, S, S] (S = window + 2 context), label, masks at the
    coarse (``mask_size``) and full (``window``) resolution. None if none can be drawn."""
    s = sampling
    objects = usable_objects(record, s)
    _, height, width = record.image.shape
    input_size = s.window + 2 * s.context
    if positive:
        if not objects:
            return None
        obj = objects[int(rng.integers(len(objects)))]
        x, y, bw, bh = obj["bbox_xywh"]
        scale = math.log2(max(bw, bh) / s.object_size) + rng.uniform(
            -s.scale_jitter, s.scale_jitter
        )
        factor = 2**scale  # image px per window px
        cx = x + bw / 2 + rng.uniform(-s.shift, s.shift) * factor
        cy = y + bh / 2 + rng.uniform(-s.shift, s.shift) * factor
    else:
        for _ in range(50):
            scale = rng.uniform(-2.0, 1.0) + math.log2(max(8.0, min(height, width)) / s.window)
            factor = 2**scale
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            if all(_far(obj, cx, cy, factor, s) for obj in record.objects):
                break
        else:
            return None
    x0, y0, side = cx - input_size * factor / 2, cy - input_size * factor / 2, input_size * factor
    window = sample_square(record.image, x0=x0, y0=y0, side=side, size=input_size)
    inner = s.window * factor
    wx0, wy0 = cx - inner / 2, cy - inner / 2
    if positive:
        full = torch.from_numpy(obj["mask"].astype(np.float32))[None]
        refined = sample_square(full, x0=wx0, y0=wy0, side=inner, size=s.window)[0] > 0.5
        coarse = sample_square(full, x0=wx0, y0=wy0, side=inner, size=s.mask_size)[0] > 0.5
    else:
        refined = torch.zeros(s.window, s.window, dtype=torch.bool)
        coarse = torch.zeros(s.mask_size, s.mask_size, dtype=torch.bool)
    return {
        "input": window,
        "label": torch.tensor(1.0 if positive else 0.0),
        "mask": coarse.float(),
        "refined": refined.float(),
    }


def _far(obj: dict[str, Any], cx: float, cy: float, factor: float, s: WindowSampling) -> bool:
    """A negative window (centre cx, cy; ``factor`` image px per window px) for ``obj``:
    its centre is more than 2 shifts away, or the object is over an octave off in scale."""
    x, y, bw, bh = obj["bbox_xywh"]
    if obj.get("iscrowd"):
        return not (x <= cx <= x + bw and y <= cy <= y + bh)
    off_scale = abs(math.log2(max(max(bw, bh), 1e-3) / (s.object_size * factor))) > 1.0
    distance = max(abs(x + bw / 2 - cx), abs(y + bh / 2 - cy)) / factor
    return off_scale or distance > 2 * s.shift


def sample_batch(
    records: list[ImageRecord], sampling: WindowSampling, *, size: int, rng: np.random.Generator
) -> dict[str, Tensor]:
    """``size`` windows, half positive (DeepMask samples positives and negatives equally)."""
    items: list[dict[str, Tensor]] = []
    attempts = 0
    while len(items) < size and attempts < size * 20:
        attempts += 1
        record = records[int(rng.integers(len(records)))]
        positive = rng.uniform() < sampling.positive_fraction
        item = sample_window(record, sampling, positive=positive, rng=rng)
        if item is not None:
            items.append(item)
    if not items:
        raise ValueError("no training window could be sampled: no usable objects")
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}
