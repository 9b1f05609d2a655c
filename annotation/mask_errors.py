"""The mistakes real segmenters make, applied to a good outline to make gold (known-bad)
verification cells that look like real work (shapely; no ORM).

Each function takes COCO polygon lists and returns COCO polygon lists, or None when the
mistake cannot be made clearly enough from this outline (too small to erode, no neighbour).
A made mistake overlaps the good outline by at most `max_iou` (a shapely area IoU), so a
careful verifier judges it poor; the outlines are simplified to the vertex density of a
hand-drawn polygon (a buffer's round arcs would give them away).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from shapely.affinity import translate
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.ops import unary_union

MAX_IOU = 0.6  # a gold mask overlaps the good one by at most this
MIN_IOU = 0.2  # ... and at least this: it must still be about the same object

Polygons = list[list[float]]


def _shape(polygons: Sequence[Sequence[float]]) -> Polygon | MultiPolygon:
    parts = [
        Polygon(list(zip(p[0::2], p[1::2], strict=True))).buffer(0) for p in polygons if len(p) >= 6
    ]
    return unary_union(parts)


def _coco(shape: object, *, width: float, height: float) -> Polygons | None:
    """COCO polygons of a shape clipped to the image, simplified like a hand-drawn outline
    (a vertex every few pixels along the border, not a buffer's dense arcs)."""
    clipped = shape.intersection(box(0, 0, width, height))  # type: ignore[attr-defined]
    pieces = [clipped] if isinstance(clipped, Polygon) else list(getattr(clipped, "geoms", []))
    pieces = [p for p in pieces if isinstance(p, Polygon) and p.area >= 4]
    if not pieces:
        return None
    out = []
    for piece in sorted(pieces, key=lambda p: -p.area):
        tolerance = max(0.5, math.sqrt(piece.area) / 40)
        ring = Polygon(piece.exterior).simplify(tolerance, preserve_topology=True).exterior
        coords = list(ring.coords)[:-1]
        if len(coords) >= 3:
            out.append([round(float(v), 2) for xy in coords for v in xy])
    return out or None


def _iou(a: object, b: object) -> float:
    union = a.union(b).area  # type: ignore[attr-defined]
    return a.intersection(b).area / union if union else 0.0  # type: ignore[attr-defined]


def _fits(good: object, bad: object, max_iou: float) -> bool:
    return MIN_IOU <= _iou(good, bad) <= max_iou


def shifted(
    polygons: Polygons, *, width: float, height: float, rng: random.Random, max_iou: float = MAX_IOU
) -> Polygons | None:
    """The outline slid off the object, as a worker who drew on a zoomed or panned view."""
    good = _shape(polygons)
    if good.is_empty:
        return None
    size = math.sqrt(good.area)
    angle = rng.uniform(0, 2 * math.pi)
    for step in (0.25, 0.35, 0.45, 0.6, 0.8):
        distance = step * size
        bad = translate(good, math.cos(angle) * distance, math.sin(angle) * distance)
        bad = bad.intersection(box(0, 0, width, height))
        if _fits(good, bad, max_iou):
            return _coco(bad, width=width, height=height)
    return None


def _buffered(
    polygons: Polygons,
    *,
    width: float,
    height: float,
    rng: random.Random,
    max_iou: float,
    sign: int,
) -> Polygons | None:
    good = _shape(polygons)
    if good.is_empty:
        return None
    target = rng.uniform(max(MIN_IOU + 0.1, max_iou - 0.25), max_iou - 0.05)
    low, high = 0.0, math.sqrt(good.area)  # buffer distance in px, bisected to the target
    best = None
    for _ in range(24):
        middle = (low + high) / 2
        bad = good.buffer(sign * middle, join_style="mitre" if sign > 0 else "round")
        bad = bad.intersection(box(0, 0, width, height))
        iou = _iou(good, bad) if not bad.is_empty else 0.0
        if iou > target:
            low = middle
        else:
            high = middle
            if _fits(good, bad, max_iou):
                best = bad
    return _coco(best, width=width, height=height) if best is not None else None


def eroded(
    polygons: Polygons, *, width: float, height: float, rng: random.Random, max_iou: float = MAX_IOU
) -> Polygons | None:
    """An outline drawn well inside the border: legs, tails and edges cut off."""
    return _buffered(polygons, width=width, height=height, rng=rng, max_iou=max_iou, sign=-1)


def dilated(
    polygons: Polygons, *, width: float, height: float, rng: random.Random, max_iou: float = MAX_IOU
) -> Polygons | None:
    """A loose outline around the object, with a band of background."""
    return _buffered(polygons, width=width, height=height, rng=rng, max_iou=max_iou, sign=1)


def neighbour(
    polygons: Polygons,
    others: Sequence[Polygons],
    *,
    width: float,
    height: float,
    rng: random.Random,
    max_iou: float = MAX_IOU,
) -> Polygons | None:
    """A good outline of a neighbouring object of another category, shown as this category:
    the worker outlined the wrong thing. `others` are those neighbours' outlines."""
    good = _shape(polygons)
    candidates = [
        _shape(other) for other in others if _iou(good, _shape(other)) <= min(max_iou, 0.3)
    ]
    candidates = [c for c in candidates if not c.is_empty]
    if not candidates:
        return None
    # The nearest one: a worker confuses objects that touch or sit side by side.
    candidates.sort(key=lambda c: c.distance(good))
    return _coco(candidates[0], width=width, height=height)


def loose(
    polygons: Polygons,
    same_category: Sequence[Polygons],
    *,
    width: float,
    height: float,
    rng: random.Random,
    max_iou: float = MAX_IOU,
) -> Polygons | None:
    """One loose polygon around this object and its nearest neighbours of the same category,
    as a worker who outlines a group instead of one instance."""
    good = _shape(polygons)
    others = sorted(
        (_shape(other) for other in same_category), key=lambda other: other.distance(good)
    )
    for count in range(1, len(others) + 1):
        group = unary_union([good, *others[:count]]).convex_hull
        group = group.buffer(math.sqrt(good.area) * rng.uniform(0.02, 0.06), join_style="mitre")
        if _iou(good, group) <= max_iou:
            return _coco(group, width=width, height=height) if _iou(good, group) > 0 else None
    return None
