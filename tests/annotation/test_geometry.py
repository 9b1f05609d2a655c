"""Polygon validation and normalisation, COCO area/bbox on real samples, masks and IoU."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask
from shapely.geometry import Polygon

from annotation import geometry
from annotation.geometry import PolygonInvalid, normalise_polygons

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "segmentation"
SAMPLES = ["instances_val2014_100_polygons.json", "coco_tiny_val2017_polygons.json"]


def sample_annotations():  # type: ignore[no-untyped-def]
    for name in SAMPLES:
        doc = json.loads((FIXTURES / name).read_text())
        images = {i["id"]: i for i in doc["images"]}
        for ann in doc["annotations"]:
            yield name, ann, images[ann["image_id"]]


# The released files' convention ------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_stored_area_and_bbox_follow_the_released_files(name):
    """Our area is the parts' polygon areas summed and our bbox the tight float box: both
    equal what the released COCO files store, to floating-point precision."""
    count = 0
    for sample, ann, _image in sample_annotations():
        if sample != name:
            continue
        area, bbox = geometry.coco_area_and_bbox(ann["segmentation"])
        assert area == pytest.approx(ann["area"], rel=1e-9, abs=1e-6), ann["id"]
        assert bbox == pytest.approx(ann["bbox"], abs=1e-9), ann["id"]
        count += 1
    assert count >= 40


def test_the_rasterised_mask_area_is_not_the_stored_convention():
    """The stored area is not pycocotools' mask area: on the samples they differ by whole
    pixels, which is why the polygon convention is used for polygons."""
    worst = 0.0
    for _name, ann, image in sample_annotations():
        rle = geometry.polygons_to_rle(
            ann["segmentation"], height=image["height"], width=image["width"]
        )
        worst = max(worst, abs(geometry.rle_area(rle) - ann["area"]))
    assert worst > 10


def test_overlapping_parts_are_summed_in_the_released_files():
    """Some released annotations have overlapping parts; their area is the plain sum, so
    normalisation merges a worker's overlapping parts before the area is taken."""
    found = 0
    for _name, ann, _image in sample_annotations():
        parts = [Polygon(np.reshape(p, (-1, 2))).buffer(0) for p in ann["segmentation"]]
        union = parts[0].union(parts[1]) if len(parts) > 1 else parts[0]
        for p in parts[2:]:
            union = union.union(p)
        if len(parts) > 1 and sum(p.area for p in parts) - union.area > 1:
            found += 1
            assert geometry.coco_area_and_bbox(ann["segmentation"])[0] == pytest.approx(ann["area"])
    assert found >= 1


def test_a_released_outline_survives_normalisation_with_its_area():
    """Valid real outlines with disjoint parts come out of normalisation with the same area
    (up to the two-decimal rounding they already have)."""
    checked = 0
    for _name, ann, image in sample_annotations():
        parts = [Polygon(np.reshape(p, (-1, 2))) for p in ann["segmentation"]]
        if not all(p.is_valid for p in parts) or any(
            a.intersects(b) for i, a in enumerate(parts) for b in parts[i + 1 :]
        ):
            continue
        result = normalise_polygons(
            ann["segmentation"], width=image["width"], height=image["height"]
        )
        assert result.area == pytest.approx(ann["area"], rel=1e-3, abs=1.0), ann["id"]
        checked += 1
    assert checked >= 30


# Normalisation ------------------------------------------------------------------------------


def test_a_square_is_kept_as_it_is():
    result = normalise_polygons([[10, 10, 50, 10, 50, 40, 10, 40]], width=100, height=80)
    assert result.area == 1200
    assert result.bbox_xywh == [10, 10, 40, 30]
    assert result.vertices == 4
    assert result.repairs == []


def test_a_bow_tie_becomes_its_two_triangles():
    """A self-intersecting outline is repaired into two triangles whose areas add up."""
    result = normalise_polygons([[0, 0, 20, 20, 20, 0, 0, 20]], width=100, height=100)
    assert len(result.polygons) == 2
    assert result.area == pytest.approx(200)
    assert "self-intersections repaired" in result.repairs
    for part in result.polygons:
        assert Polygon(np.reshape(part, (-1, 2))).is_valid


def test_points_outside_the_image_are_clipped():
    result = normalise_polygons([[-10, -10, 50, -10, 50, 30, -10, 30]], width=40, height=20)
    assert result.bbox_xywh == [0, 0, 40, 20]
    assert result.area == 800
    assert "clipped to the image" in result.repairs


def test_an_outline_entirely_outside_the_image_is_refused():
    with pytest.raises(PolygonInvalid, match="no area inside the photo"):
        normalise_polygons([[200, 200, 300, 200, 300, 300]], width=100, height=100)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([[0, 0, 10, float("nan"), 10, 10]], "not a finite number"),
        ([[0, 0, 10, float("inf"), 10, 10]], "not a finite number"),
        ([[0, 0, 10, "5", 10, 10]], "not a finite number"),
        ([[0, 0, 10, True, 10, 10]], "not a finite number"),
        ([[0, 0, 10, 0]], "at least 3 different points"),
        ([[0, 0, 10, 0, 10, 0, 0, 0]], "at least 3 different points"),
        ([[0, 0, 10, 0, 10]], "odd count"),
        ([], "list of polygons"),
        ("0 0 1 1", "list of polygons"),
        ([[0, 0, 1, 0, 0, 1]], "too small"),
        ([[0, 0, 10, 0, 20, 0]], "no area"),
    ],
)
def test_bad_outlines_are_refused_with_a_reason(raw, reason):
    with pytest.raises(PolygonInvalid, match=reason):
        normalise_polygons(raw, width=100, height=100)


def test_a_hundred_thousand_vertices_are_refused_before_any_geometry():
    angles = np.linspace(0, 2 * math.pi, 100_000, endpoint=False)
    ring = np.column_stack([50 + 40 * np.cos(angles), 50 + 40 * np.sin(angles)])
    with pytest.raises(PolygonInvalid, match="at most 2000 points"):
        normalise_polygons([ring.reshape(-1).tolist()], width=100, height=100)


def test_the_vertex_cap_is_configurable():
    square = [[10, 10, 50, 10, 50, 40, 10, 40]]
    with pytest.raises(PolygonInvalid, match="at most 3 points"):
        normalise_polygons(square, width=100, height=100, max_vertices=3)


def test_overlapping_parts_are_merged_and_separate_parts_kept():
    overlapping = [[0, 0, 20, 0, 20, 20, 0, 20], [10, 10, 30, 10, 30, 30, 10, 30]]
    merged = normalise_polygons(overlapping, width=100, height=100)
    assert len(merged.polygons) == 1
    assert merged.area == pytest.approx(700)
    apart = [[0, 0, 10, 0, 10, 10, 0, 10], [50, 50, 70, 50, 70, 60, 50, 60]]
    kept = normalise_polygons(apart, width=100, height=100)
    assert len(kept.polygons) == 2
    assert min(kept.polygons[0][0::2]) == 50, "the largest part comes first"
    assert kept.area == 300


def test_repeated_points_and_a_closing_point_are_dropped():
    result = normalise_polygons(
        [[10, 10, 10, 10, 50, 10, 50, 40, 10, 40, 10, 10]], width=100, height=100
    )
    assert result.vertices == 4


# Property tests -------------------------------------------------------------------------------

coordinate = st.floats(min_value=-50, max_value=150, allow_nan=False, allow_infinity=False)
outline = st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(outline, min_size=1, max_size=3))
# Found by this test: denormal coordinates made GEOS's make_valid raise.
@example(
    parts=[
        [
            (0.0, 3.9e-230),
            (-1.0, 0.0),
            (3.0, 0.0),
            (0.0, 1.0),
            (1.0, 1.0),
            (0.0, 0.0),
            (2.0, 1.0),
            (0.0, 1.6e-29),
            (2.0, 0.0),
            (0.0, 1.0),
        ]
    ]
)
def test_any_outline_is_refused_or_normalised_into_valid_disjoint_parts(parts):
    """Whatever a worker sends, the result is valid COCO inside the image, and its stored area
    and box agree with the exporter's formula."""
    raw = [[v for point in part for v in point] for part in parts]
    try:
        result = normalise_polygons(raw, width=100, height=80)
    except PolygonInvalid:
        return
    shapes = [Polygon(np.reshape(p, (-1, 2))) for p in result.polygons]
    assert all(len(p) >= 6 and len(p) % 2 == 0 for p in result.polygons)
    assert all(0 <= v <= 100 for p in result.polygons for v in p[0::2])
    assert all(0 <= v <= 80 for p in result.polygons for v in p[1::2])
    assert result.area >= geometry.MIN_AREA_PX
    assert (result.area, result.bbox_xywh) == geometry.coco_area_and_bbox(result.polygons)
    assert result.vertices <= geometry.MAX_VERTICES
    # Parts are disjoint up to the two-decimal rounding.
    for i, a in enumerate(shapes):
        for b in shapes[i + 1 :]:
            assert a.buffer(0).intersection(b.buffer(0)).area < 1.0


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(coordinate, st.just(float("nan")), st.just(float("inf"))), min_size=6)
)
def test_non_finite_numbers_are_always_refused(values):
    if all(math.isfinite(v) for v in values):
        values = [*values[:-1], float("nan")]
    with pytest.raises(PolygonInvalid):
        normalise_polygons([values], width=100, height=100)


# Masks ---------------------------------------------------------------------------------------


def test_mask_iou_of_identical_and_shifted_squares():
    square = [[10, 10, 30, 10, 30, 30, 10, 30]]
    shifted = [[20, 10, 40, 10, 40, 30, 20, 30]]
    assert geometry.mask_iou(square, square, height=50, width=50) == 1.0
    iou = geometry.mask_iou(square, shifted, height=50, width=50)
    assert 0.25 < iou < 0.45  # about 1/3 at pixel resolution
    assert geometry.mask_iou(square, [[40, 40, 49, 40, 49, 49]], height=50, width=50) == 0.0


def test_rle_area_and_box_come_from_pycocotools():
    rle = geometry.polygons_to_rle([[10, 10, 30, 10, 30, 30, 10, 30]], height=50, width=50)
    assert geometry.rle_area(rle) == int(coco_mask.area(rle))
    assert geometry.rle_bbox_xywh(rle) == [float(v) for v in coco_mask.toBbox(rle)]
    assert 350 <= geometry.rle_area(rle) <= 450


def test_covers_point_includes_the_border():
    square = [[10, 10, 30, 10, 30, 30, 10, 30]]
    assert geometry.covers_point(square, 20, 20)
    assert geometry.covers_point(square, 10, 20)
    assert not geometry.covers_point(square, 31, 20)
