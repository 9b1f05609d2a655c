"""Polygons, masks and boxes for instance segmentation: shapely and pycocotools, no ORM.

Coordinates are image pixels after EXIF orientation, x to the right, y down; a polygon is a
COCO flat list [x1, y1, x2, y2, ...] (first vertex not repeated) and an object is a list of
such parts (several parts for an object split by occlusion, thesis §2.4.3).

The area and box convention follows the released COCO files, checked on real samples
(tests/fixtures/segmentation/, copied from ../shared/coco-samples):
    instances_val2014_100.json (830 polygon annotations) and coco_tiny/instances_val2017.json
    (804): the stored `area` equals the SUM of the parts' polygon (shoelace) areas to within
    3.2e-9 px² (relative 7.7e-12), while pycocotools' rasterised mask area differs by up to
    428 px² (15 %); the stored `bbox` equals the tight floating-point box of all vertices to
    within 1.2e-13 px, while toBbox of the mask differs by up to 10.2 px.
    Overlapping parts are summed, not unioned (4 annotations in each file); so that the sum is
    the object's true area, normalisation unions a worker's parts into disjoint polygons.
Masks (IoU for qualification, coverage) are rasterised with pycocotools, as the evaluator does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np
import shapely
from pycocotools import mask as coco_mask
from shapely.geometry import MultiPolygon, Point, Polygon, box
from shapely.ops import unary_union
from shapely.prepared import prep

from annotation.errors import AnswerInvalid
from pipelines.coco.export import rle_runs_checked

# Defaults; the stage passes the project's settings.
MAX_VERTICES = 2000  # per object, all parts together: a careful outline has 20-200
MIN_AREA_PX = 2.0  # smaller than this is a click, not an outline
COORD_DECIMALS = 2  # the released COCO files keep two decimals
# Slivers left by clipping or repairing a bow-tie are dropped below this area (px²).
SLIVER_AREA_PX = 0.5


class PolygonInvalid(AnswerInvalid):
    """A polygon that cannot be made into a valid outline; the reason is for the worker."""


@dataclass(frozen=True)
class NormalisedPolygons:
    """An object's outline as it is stored and exported."""

    polygons: list[list[float]]  # COCO parts, disjoint, inside the image
    area: float  # sum of the parts' polygon areas (COCO convention)
    bbox_xywh: list[float]  # tight float box of all vertices (COCO convention)
    vertices: int
    repairs: list[str] = field(default_factory=list)  # what normalisation changed, for people


# Parsing ----------------------------------------------------------------------------------


def _finite_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number a float holds: not a bool, not NaN/inf, not an int beyond 1.8e308 (JSON
    allows 10**400; float() of it raises OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def parse_parts(raw: Any, *, max_vertices: int = MAX_VERTICES) -> list[np.ndarray]:
    """COCO polygon lists -> one (n, 2) float array per part. Checks shape, numbers and the
    vertex cap before any geometry runs, so a huge or malformed answer costs nothing."""
    if not isinstance(raw, list) or not raw:
        raise PolygonInvalid("the outline must be a list of polygons [[x1, y1, x2, y2, ...], ...]")
    total = 0
    for number, part in enumerate(raw, start=1):
        if not isinstance(part, list):
            raise PolygonInvalid(f"polygon #{number} must be a list of numbers x1, y1, x2, y2, ...")
        total += len(part) // 2
    if total > max_vertices:
        raise PolygonInvalid(
            f"an outline may have at most {max_vertices} points ({total} were sent): "
            "fewer, well-placed points are enough"
        )
    parts = []
    for number, part in enumerate(raw, start=1):
        if len(part) % 2:
            raise PolygonInvalid(f"polygon #{number} has an odd count of numbers: x, y pairs")
        if not all(_finite_number(v) for v in part):
            raise PolygonInvalid(f"polygon #{number} has a coordinate that is not a finite number")
        # Two decimals before any geometry: finer is meaningless for pixels, and GEOS can
        # fail on denormal coordinates (found by the property test).
        points = np.round(np.asarray(part, dtype=float).reshape(-1, 2), COORD_DECIMALS) + 0.0
        # Drop repeated consecutive points (double clicks) and a repeated closing point.
        keep = np.ones(len(points), dtype=bool)
        keep[1:] = np.any(np.diff(points, axis=0) != 0, axis=1)
        points = points[keep]
        if len(points) > 1 and np.array_equal(points[0], points[-1]):
            points = points[:-1]
        if len(points) < 3:
            raise PolygonInvalid(f"polygon #{number} needs at least 3 different points")
        parts.append(points)
    return parts


# Normalisation ----------------------------------------------------------------------------


def _polygonal(geometry: Any) -> list[Polygon]:
    """The polygonal pieces of any shapely geometry (make_valid may add lines and points)."""
    if geometry.is_empty:
        return []
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    if hasattr(geometry, "geoms"):
        return [p for g in geometry.geoms for p in _polygonal(g)]
    return []


def _repaired(polygon: Polygon) -> Any:
    """make_valid keeps every area of a self-crossing outline (a bow-tie gives both
    triangles); buffer(0) is the fallback for the rare input GEOS cannot overlay."""
    try:
        return shapely.make_valid(polygon)
    except shapely.errors.GEOSException:
        try:
            return polygon.buffer(0)
        except shapely.errors.GEOSException:
            raise PolygonInvalid(
                "the outline crosses itself in a way that cannot be repaired: redraw it"
            ) from None


def _ring_to_coco(ring: Any) -> list[float]:
    coords = np.asarray(ring.coords, dtype=float)[:-1]  # shapely repeats the first point
    coords = np.round(coords, COORD_DECIMALS)
    flat = [float(v) + 0.0 for v in coords.reshape(-1)]  # + 0.0 turns -0.0 into 0.0
    return flat


def normalise_polygons(
    raw: Any,
    *,
    width: float,
    height: float,
    max_vertices: int = MAX_VERTICES,
    min_area: float = MIN_AREA_PX,
) -> NormalisedPolygons:
    """Validate a worker's outline and make it what COCO stores: self-intersections repaired
    (a bow-tie becomes its two triangles), overlapping parts merged, clipped to the image,
    holes filled (COCO polygons have none), slivers dropped, two decimals."""
    parts = parse_parts(raw, max_vertices=max_vertices)
    repairs: list[str] = []
    pieces: list[Polygon] = []
    for points in parts:
        polygon = Polygon(points)
        if not polygon.is_valid:
            repairs.append("self-intersections repaired")
            pieces.extend(_polygonal(_repaired(polygon)))
        else:
            pieces.append(polygon)
    merged = unary_union(pieces) if pieces else Polygon()
    frame = box(0, 0, width, height)
    if not frame.contains(merged):
        repairs.append("clipped to the image")
        merged = merged.intersection(frame)
    polygons = _polygonal(merged)
    if any(p.interiors for p in polygons):
        repairs.append("holes filled")
        polygons = _polygonal(unary_union([Polygon(p.exterior) for p in polygons]))
    kept = [p for p in polygons if p.area >= SLIVER_AREA_PX]
    if len(kept) < len(polygons):
        repairs.append("slivers dropped")
    if not kept:
        raise PolygonInvalid(
            "the outline has no area inside the photo: trace around the object itself"
        )
    # Largest part first, so the stored order does not depend on the clicking order.
    kept.sort(key=lambda p: (-p.area, p.bounds))
    coco = [_ring_to_coco(p.exterior) for p in kept]
    vertices = sum(len(part) // 2 for part in coco)
    tolerance = 0.25
    while vertices > max_vertices:
        # make_valid can add vertices; simplify until the outline fits the cap again.
        repairs.append("simplified")
        coco = [
            _ring_to_coco(p.exterior)
            for p in _polygonal(unary_union([p.simplify(tolerance) for p in kept]))
        ]
        vertices = sum(len(part) // 2 for part in coco)
        tolerance *= 2
    coco = [part for part in coco if len(part) >= 6]
    area, bbox_xywh = coco_area_and_bbox(coco)
    if area < min_area:
        raise PolygonInvalid(
            f"the outline is too small ({area:.1f} px², at least {min_area:g}): zoom in and "
            "trace the object's border"
        )
    return NormalisedPolygons(
        polygons=coco,
        area=area,
        bbox_xywh=bbox_xywh,
        vertices=sum(len(part) // 2 for part in coco),
        repairs=sorted(set(repairs), key=repairs.index),
    )


# COCO area, box, masks ------------------------------------------------------------------


def polygon_area(part: Sequence[float]) -> float:
    """Shoelace area of one COCO part (absolute; an unrepaired bow-tie gives its net area,
    as the released files do)."""
    points = np.asarray(part, dtype=float).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def coco_area_and_bbox(polygons: Sequence[Sequence[float]]) -> tuple[float, list[float]]:
    """`area` and `bbox` [x, y, w, h] exactly as the released COCO files have them for a
    polygon annotation: the parts' polygon areas summed and the tight box of all vertices
    (see the module docstring for the evidence)."""
    if not polygons:
        raise PolygonInvalid("an outline needs at least one polygon")
    area = sum(polygon_area(part) for part in polygons)
    points = np.concatenate([np.asarray(p, dtype=float).reshape(-1, 2) for p in polygons])
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return float(area), [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def polygons_to_rle(polygons: Sequence[Sequence[float]], *, height: int, width: int) -> dict:
    """Rasterise an object's parts into one compressed RLE, as pycocotools' annToRLE does."""
    rles = coco_mask.frPyObjects([list(map(float, p)) for p in polygons], height, width)
    return coco_mask.merge(rles)


def rle_area(rle: dict) -> int:
    """Pixels of a mask (for crowd regions, whose `area` is the mask area)."""
    return int(coco_mask.area(rle))


def rle_bbox_xywh(rle: dict) -> list[float]:
    return [float(v) for v in coco_mask.toBbox(rle)]


def mask_to_rle(mask: np.ndarray) -> dict:
    """A boolean or 0/1 mask (height x width) as pycocotools' compressed RLE."""
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))


def rle_from_counts(counts: list[int], *, height: int, width: int) -> dict:
    """Uncompressed RLE counts (the released files' crowd form) as a compressed RLE; the
    counts must already be checked (`rle_checked`)."""
    return coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)


def rle_checked(counts: Any, *, height: int, width: int) -> dict:
    """An RLE's counts (list or compressed string) as a compressed RLE, checked BEFORE
    pycocotools sees them (run lengths >= 0 adding up to height * width, see
    `rle_runs_checked`); ValueError saying why not."""
    runs = rle_runs_checked(counts, height=height, width=width)
    return rle_from_counts(runs, height=height, width=width)


def rle_json(rle: dict) -> dict:
    """An RLE as JSON stores it: int size and str counts (as the released files write it)."""
    counts = rle["counts"]
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def mask_iou(
    polygons_a: Sequence[Sequence[float]],
    polygons_b: Sequence[Sequence[float]],
    *,
    height: int,
    width: int,
) -> float:
    """Intersection over union of two rasterised outlines (qualification, thesis §2.4.3)."""
    a = polygons_to_rle(polygons_a, height=height, width=width)
    b = polygons_to_rle(polygons_b, height=height, width=width)
    return float(coco_mask.iou([a], [b], [0])[0][0])


class OutlineShape:
    """An outline's parts as shapely geometry, built once: a task posting checks many spots
    against the same masks."""

    def __init__(self, polygons: Sequence[Sequence[float]]) -> None:
        parts = [np.asarray(p, dtype=float).reshape(-1, 2) for p in polygons if len(p) >= 6]
        self.rings = [Polygon(part) for part in parts]
        self.repaired = [prep(ring.buffer(0)) for ring in self.rings]

    def covers(self, x: float, y: float) -> bool:
        point = Point(x, y)
        return any(part.covers(point) for part in self.repaired)

    def near(self, x: float, y: float, tolerance: float) -> bool:
        """Covers the point, or an outline passes within `tolerance` pixels of it."""
        point = Point(x, y)
        return self.covers(x, y) or any(
            ring.exterior.distance(point) <= tolerance for ring in self.rings
        )


def covers_point(polygons: Sequence[Sequence[float]], x: float, y: float) -> bool:
    """True when the outline covers the point (boundary included): a spot inside an existing
    mask is an object already segmented."""
    return OutlineShape(polygons).covers(x, y)


def position_in_image(raw: dict, what: str, *, size: tuple[int, int] | None) -> tuple[float, float]:
    """A point {"x": px, "y": px} inside an image of `size` (width, height; None: the task
    has no image), rounded to 2 decimals, or AnswerInvalid saying why not (labeling's icons
    and spotting's crosses)."""
    if size is None:
        raise AnswerInvalid("this task has no image to place anything on")
    width, height = size
    values = []
    for axis in ("x", "y"):
        value = raw.get(axis)
        if not _finite_number(value):
            raise AnswerInvalid(f"{what}: {axis} must be a number of pixels")
        values.append(float(value))
    x, y = values
    if not (0 <= x <= width and 0 <= y <= height):
        raise AnswerInvalid(
            f"{what}: position ({x:g}, {y:g}) is outside the image ({width}x{height} pixels)"
        )
    return round(x, 2), round(y, 2)
