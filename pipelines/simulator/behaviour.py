"""Seeded models of simulated workers, one function per kind of answer (no Django, no HTTP).

Every random draw comes from `rng_for(seed, ...)` keyed by WHAT is answered (the worker's
index, the ground-truth image, category or instance, the grid's masks), never by database
ids or by the order of calls, so the same seed gives the same answers on any database.

Thinking time (seconds per action, the base of the simulated worker-hours), a stated model
fitted to COCO's reported effort (thesis §2.4, PIPELINE.md):
- labeling: 5 s + 0.8 s per super-category asked + 4 s per icon placed
  (COCO: ~20k hours for 8 answers on ~328k images, about 27 s per answer);
- spotting: 4 s + 2.5 s per cross ("there is none": 4 s);
- segmentation and training: 8 s + 1.2 s per polygon vertex (COCO: 22 hours per 1,000
  segmentations, about 79 s each); "no such object" / "all segmented" / "crowd": 6 s;
- verification: 20 s + 0.7 s per grid cell (a 64-cell grid: about 65 s);
- crowd painting: 30 s + 1 s per 2,000 painted pixels.
Each time is multiplied by a log-normal factor (sigma 0.3); spammers take a quarter of it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageFilter
from pycocotools import mask as mask_utils
from shapely.geometry import Point, Polygon

from annotation.geometry import OutlineShape
from pipelines.simulator.groundtruth import GtImage, GtInstance

# How far a shaded outline may pass from a spot for "already outlined" (the segmentation
# stage's SPOT_TOLERANCE_PX; annotation/stages/segmentation.py).
SPOT_TOLERANCE_PX = 10.0

SPOT_TOLERANCE_PX = 10.0
# Workers zoom in on small objects (docs/annotator/segmentation.md): an object smaller than
# this on screen is enlarged to it, so its vertices stray less in image pixels.
ZOOM_SPAN_PX = 40.0  # the segmentation stage's: an outline may miss its spot by this much


@dataclass(frozen=True)
class Behaviour:
    """Worker quality per stage. Rates are probabilities, distances image pixels."""

    labeling_recall: float = 0.5  # each present category is reported with this probability
    labeling_false_positive: float = 0.002  # per absent category and answer
    spotting_recall: float = 0.8  # each instance gets a cross with this probability
    click_jitter_px: float = 2.0  # sd of a cross around a point inside the object
    vertex_jitter_px: float = 2.0  # sd of each polygon vertex (at ZOOM_SPAN_PX or larger)
    simplify_px: float = 0.5  # Douglas-Peucker tolerance applied to the true outline first
    sloppy_rate: float = 0.0  # share of outlines drawn as a loose hull instead
    sloppy_px: float = 6.0  # how far a sloppy outline strays outside the object
    verify_good_iou: float = 0.75  # a mask this close to its object looks good
    verify_false_accept: float = 0.05  # a poor mask judged good
    verify_false_reject: float = 0.05  # a good mask judged poor
    crowd_noise_px: int = 2  # painting grows or shrinks the true region by up to this
    spammer_share: float = 0.1  # workers answering at random

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class SimWorker:
    index: int
    username: str
    token: str
    spammer: bool
    qualified: set[int] = field(default_factory=set)  # category ids passed
    tried: dict[int, int] = field(default_factory=dict)  # training tries per category


def rng_for(seed: int, *parts: Any) -> np.random.Generator:
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def thinking_seconds(rng: np.random.Generator, base: float, spammer: bool) -> float:
    seconds = base * math.exp(rng.normal(0.0, 0.3))
    return round(seconds / 4 if spammer else seconds, 2)


# Geometry helpers ---------------------------------------------------------------------------


def interior_point(
    rng: np.random.Generator, image: GtImage, inst: GtInstance
) -> tuple[float, float]:
    """A random point inside the instance (drawn in its box until it falls inside)."""
    shape = inst.shape()
    x, y, w, h = inst.bbox_xywh
    if shape is not None and not shape.is_empty:
        for _ in range(60):
            px, py = x + rng.random() * w, y + rng.random() * h
            if shape.contains(Point(px, py)):
                return px, py
        point = shape.representative_point()
        return point.x, point.y
    mask = inst.mask(image.height, image.width)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return x + w / 2, y + h / 2
    pick = int(rng.integers(len(xs)))
    return float(xs[pick]) + 0.5, float(ys[pick]) + 0.5


def clip_point(x: float, y: float, image: GtImage) -> dict[str, float]:
    return {
        "x": round(min(max(x, 0.0), image.width), 2),
        "y": round(min(max(y, 0.0), image.height), 2),
    }


def polygons_iou(a: list[list[float]], b_rle: dict, height: int, width: int) -> float:
    if not a:
        return 0.0
    a_rle = mask_utils.merge(mask_utils.frPyObjects(a, height, width))
    return float(mask_utils.iou([a_rle], [b_rle], [0])[0][0])


def instance_at(image: GtImage, category_id: int, x: float, y: float) -> GtInstance | None:
    """The non-crowd instance of the category under (x, y), or the nearest within the
    segmentation stage's spot tolerance."""
    best, best_distance = None, SPOT_TOLERANCE_PX
    point = Point(x, y)
    for inst in image.of_category(category_id, crowd=False):
        shape = inst.shape()
        if shape is None:
            mask = inst.mask(image.height, image.width)
            xi, yi = int(x), int(y)
            if 0 <= yi < image.height and 0 <= xi < image.width and mask[yi, xi]:
                return inst
            continue
        if shape.contains(point):
            return inst
        distance = shape.distance(point)
        if distance < best_distance:
            best, best_distance = inst, distance
    return best


def in_crowd(image: GtImage, category_id: int, x: float, y: float) -> bool:
    """(x, y) lies in a ground-truth crowd region of the category."""
    xi, yi = int(x), int(y)
    if not (0 <= yi < image.height and 0 <= xi < image.width):
        return False
    return any(
        bool(crowd.mask(image.height, image.width)[yi, xi])
        for crowd in image.of_category(category_id, crowd=True)
    )


def random_triangle(
    rng: np.random.Generator, image: GtImage, x: float, y: float
) -> list[list[float]]:
    size = float(rng.uniform(8, 40))
    points = []
    for angle in (0.0, 2.1, 4.2):
        points += [
            min(max(x + size * math.cos(angle), 0), image.width),
            min(max(y + size * math.sin(angle), 0), image.height),
        ]
    return [points]


def outline_of(
    rng: np.random.Generator, image: GtImage, inst: GtInstance, b: Behaviour
) -> list[list[float]]:
    """The true outline, simplified, its vertices jittered; or a sloppy hull."""
    parts = inst.polygons()
    if not parts:  # an RLE-only object: its box as the outline
        x, y, w, h = inst.bbox_xywh
        parts = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    sloppy = rng.random() < b.sloppy_rate
    span = math.sqrt(max(inst.area, 1.0))
    jitter = b.vertex_jitter_px * min(1.0, span / ZOOM_SPAN_PX)
    drawn = []
    for part in parts:
        ring = Polygon(np.asarray(part, dtype=float).reshape(-1, 2))
        if not ring.is_valid:
            ring = ring.buffer(0)
        if ring.is_empty:
            continue
        if sloppy:
            ring = ring.convex_hull.buffer(b.sloppy_px * float(rng.uniform(0.5, 1.5)), join_style=2)
        elif b.simplify_px > 0:
            ring = ring.simplify(b.simplify_px, preserve_topology=True)
        geoms = getattr(ring, "geoms", [ring])
        for geom in geoms:
            coords = np.asarray(geom.exterior.coords)[:-1]
            if len(coords) < 3:
                continue
            coords = coords + rng.normal(0.0, jitter, coords.shape)
            coords[:, 0] = np.clip(coords[:, 0], 0, image.width)
            coords[:, 1] = np.clip(coords[:, 1], 0, image.height)
            drawn.append([round(float(v), 2) for v in coords.reshape(-1)])
    return drawn


# Answers --------------------------------------------------------------------------------------


def labeling_answer(
    *,
    seed: int,
    worker: SimWorker,
    image: GtImage,
    supercategory_of: dict[int, str],
    b: Behaviour,
) -> tuple[dict, float]:
    """Per super-category yes/no and one icon per reported category, with its thinking time."""
    rng = rng_for(seed, "labeling", worker.index, image.id)
    placed: list[dict] = []
    present = set(image.category_ids)
    if worker.spammer:
        for category_id in rng.choice(
            sorted(supercategory_of), size=int(rng.integers(0, 4)), replace=False
        ):
            placed.append(
                {
                    "id": int(category_id),
                    **clip_point(rng.uniform(0, image.width), rng.uniform(0, image.height), image),
                }
            )
    else:
        for category_id in sorted(supercategory_of):
            if category_id in present:
                if rng.random() < b.labeling_recall:
                    instances = image.of_category(category_id)
                    inst = instances[int(rng.integers(len(instances)))]
                    x, y = interior_point(rng, image, inst)
                    placed.append({"id": category_id, **clip_point(x, y, image)})
            elif rng.random() < b.labeling_false_positive:
                placed.append(
                    {
                        "id": category_id,
                        **clip_point(
                            rng.uniform(0, image.width), rng.uniform(0, image.height), image
                        ),
                    }
                )
    said = {name: False for name in dict.fromkeys(supercategory_of.values())}
    for icon in placed:
        said[supercategory_of[icon["id"]]] = True
    seconds = thinking_seconds(rng, 5 + 0.8 * len(said) + 4 * len(placed), worker.spammer)
    return {"supercategories": said, "categories": placed}, seconds


def spotting_answer(
    *, seed: int, worker: SimWorker, image: GtImage, category_id: int, max_spots: int, b: Behaviour
) -> tuple[dict, float]:
    """A cross near a point inside each instance found, at most the cap; or 'there is none'."""
    rng = rng_for(seed, "spotting", worker.index, image.id, category_id)
    if worker.spammer:
        spots = [
            clip_point(rng.uniform(0, image.width), rng.uniform(0, image.height), image)
            for _ in range(int(rng.integers(1, 4)))
        ]
        return {"spots": spots}, thinking_seconds(rng, 4 + 2.5 * len(spots), True)
    instances = image.of_category(category_id, crowd=False)
    crowds = image.of_category(category_id, crowd=True)
    if not instances:
        if not crowds:
            return {"none": True}, thinking_seconds(rng, 4, False)
        instances, crowds = crowds, []  # only a crowd: the worker marks people in it
    found = [inst for inst in instances if rng.random() < b.spotting_recall]
    if not found:
        found = [instances[int(rng.integers(len(instances)))]]
    order = rng.permutation(len(found))
    spots = []
    for position in order[:max_spots]:
        x, y = interior_point(rng, image, found[int(position)])
        spots.append(
            clip_point(
                x + rng.normal(0, b.click_jitter_px), y + rng.normal(0, b.click_jitter_px), image
            )
        )
    # A crowd beside separate objects gets a cross of its own when there is room (drawn from
    # a stream of its own, so the crosses on the objects stay as they were).
    crowd_rng = rng_for(seed, "spotting-crowd", worker.index, image.id, category_id)
    for crowd in crowds:
        if len(spots) < max_spots and crowd_rng.random() < b.spotting_recall:
            x, y = interior_point(crowd_rng, image, crowd)
            spots.append(clip_point(x, y, image))
    return {"spots": spots}, thinking_seconds(rng, 4 + 2.5 * len(spots), False)


def segmentation_answer(
    *,
    seed: int,
    worker: SimWorker,
    image: GtImage,
    category_id: int,
    spot: dict,
    outlined: list[list[list[float]]],
    attempt: int,
    b: Behaviour,
) -> tuple[dict, float, str]:
    """An outline of the object under the spot, 'crowd' when the spot is in a crowd region
    with no single object near, 'no such object' or 'all segmented'.
    Returns the answer, the thinking time and what the worker saw (for the report)."""
    rng = rng_for(
        seed,
        "segmentation",
        worker.index,
        image.id,
        category_id,
        round(spot["x"], 1),
        round(spot["y"], 1),
        attempt,
    )
    if worker.spammer:
        polygons = random_triangle(rng, image, spot["x"], spot["y"])
        return (
            {"polygons": polygons, "vertices": 3, "edits": 0},
            thinking_seconds(rng, 12, True),
            "spam",
        )
    inst = instance_at(image, category_id, spot["x"], spot["y"])
    if inst is None:
        if in_crowd(image, category_id, spot["x"], spot["y"]):
            return {"crowd": True}, thinking_seconds(rng, 6, False), "crowd_at_spot"
        return {"no_such_object": True}, thinking_seconds(rng, 6, False), "no_object_at_spot"
    done = [rle for rle in (_rle(p, image) for p in outlined) if rle is not None]

    def is_outlined(candidate: GtInstance) -> bool:
        target = candidate.rle(image.height, image.width)
        return any(float(mask_utils.iou([m], [target], [0])[0][0]) >= 0.5 for m in done)

    if is_outlined(inst):
        if all(is_outlined(other) for other in image.of_category(category_id, crowd=False)):
            return {"all_segmented": True}, thinking_seconds(rng, 6, False), "all_outlined"
        # The spot's object is already shaded, others are not: "already outlined" (the
        # site accepts it when a shaded outline passes near the spot; otherwise the worker
        # says there is no (new) object here).
        if any(_near(p, spot["x"], spot["y"]) for p in outlined):
            return {"already_outlined": True}, thinking_seconds(rng, 5, False), "already_outlined"
        return {"no_such_object": True}, thinking_seconds(rng, 6, False), "spot_on_outlined_object"
    polygons = outline_of(rng, image, inst, b)
    vertices = sum(len(p) // 2 for p in polygons)
    return (
        {"polygons": polygons, "vertices": vertices, "edits": 0},
        thinking_seconds(rng, 8 + 1.2 * vertices, False),
        "outlined",
    )


def _near(polygons: list[list[float]], x: float, y: float) -> bool:
    """The site's own test for "already outlined" (a shaded outline near the spot)."""
    return OutlineShape(polygons).near(x, y, SPOT_TOLERANCE_PX)


def training_answer(
    *,
    seed: int,
    worker: SimWorker,
    image: GtImage,
    category_id: int,
    spot: dict,
    attempt: int,
    b: Behaviour,
) -> tuple[list[list[float]], float]:
    rng = rng_for(seed, "training", worker.index, image.id, category_id, attempt)
    inst = None if worker.spammer else instance_at(image, category_id, spot["x"], spot["y"])
    if inst is None:
        return random_triangle(rng, image, spot["x"], spot["y"]), thinking_seconds(
            rng, 12, worker.spammer
        )
    polygons = outline_of(rng, image, inst, b)
    vertices = sum(len(p) // 2 for p in polygons)
    return polygons, thinking_seconds(rng, 8 + 1.2 * vertices, False)


def _rle(polygons: list[list[float]], image: GtImage) -> dict | None:
    parts = [p for p in polygons if len(p) >= 6]
    if not parts:
        return None
    return mask_utils.merge(mask_utils.frPyObjects(parts, image.height, image.width))


def mask_looks_good(
    image: GtImage, category_id: int, polygons: list[list[float]], b: Behaviour
) -> bool:
    """What a careful verifier sees: the outline fits one object of its category."""
    rle = _rle(polygons, image)
    if rle is None:
        return False
    targets = [
        inst.rle(image.height, image.width) for inst in image.of_category(category_id, crowd=False)
    ]
    if not targets:
        return False
    return float(mask_utils.iou([rle], targets, [0] * len(targets)).max()) >= b.verify_good_iou


def verification_answer(
    *, seed: int, worker: SimWorker, cells: list[tuple[str, str, bool]], b: Behaviour
) -> tuple[dict, float]:
    """`cells`: (cell id, a stable key of what it shows, whether it truly looks good).
    The poor cells, with false accepts and rejects drawn per (worker, mask)."""
    poor = []
    for cell_id, key, good in cells:
        rng = rng_for(seed, "verification", worker.index, key)
        if worker.spammer:
            judged_good = rng.random() < 0.5
        elif good:
            judged_good = rng.random() >= b.verify_false_reject
        else:
            judged_good = rng.random() < b.verify_false_accept
        if not judged_good:
            poor.append(cell_id)
    rng = rng_for(seed, "verification-time", worker.index, tuple(sorted(k for _, k, _ in cells)))
    return {"poor": sorted(poor)}, thinking_seconds(rng, 20 + 0.7 * len(cells), worker.spammer)


def crowd_answer(
    *,
    seed: int,
    worker: SimWorker,
    image: GtImage,
    category_id: int,
    outlined: list[list[list[float]]],
    b: Behaviour,
) -> tuple[dict, float]:
    """Paint the category's true pixels not yet covered by an outline, grown or shrunk by
    up to `crowd_noise_px`; 'none left' when less than 20 pixels remain."""
    rng = rng_for(seed, "crowd", worker.index, image.id, category_id)
    h, w = image.height, image.width
    truth = np.zeros((h, w), dtype=bool)
    for inst in image.of_category(category_id):
        truth |= inst.mask(h, w)
    if worker.spammer:
        truth = np.zeros((h, w), dtype=bool)
        x0, y0 = int(rng.integers(0, max(1, w - 20))), int(rng.integers(0, max(1, h - 20)))
        truth[y0 : y0 + 20, x0 : x0 + 20] = True
    for polygons in outlined:
        rle = _rle(polygons, image)
        if rle is not None:
            truth &= ~mask_utils.decode(rle).astype(bool)
    noise = int(rng.integers(-b.crowd_noise_px, b.crowd_noise_px + 1)) if b.crowd_noise_px else 0
    painted = _grow(truth, noise)
    area = int(painted.sum())
    if area < 20:
        return {"none_left": True}, thinking_seconds(rng, 30, worker.spammer)
    rle = mask_utils.encode(np.asfortranarray(painted.astype(np.uint8)))
    answer = {"rle": {"size": [h, w], "counts": rle["counts"].decode()}}
    return answer, thinking_seconds(rng, 30 + area / 2000, worker.spammer)


def _grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (< 0) a mask by a square of that radius."""
    if pixels == 0:
        return mask
    picture = PILImage.fromarray(mask.astype(np.uint8) * 255)
    size = 2 * abs(pixels) + 1
    kernel = ImageFilter.MaxFilter(size) if pixels > 0 else ImageFilter.MinFilter(size)
    return np.asarray(picture.filter(kernel)) > 127
