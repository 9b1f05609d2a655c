"""Our evaluator against pycocotools' COCOeval itself: fixtures and generated cases, to 1e-12."""

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pipelines.coco.cocoeval import EvalParams, evaluate_coco

# pycocotools' mask.decode trips a NumPy 2 deprecation warning (its own code, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coco_samples"
TOLERANCE = 1e-12


def load_fixture(name):
    return json.loads((FIXTURES / name).read_text())


def run_pycocotools(ground_truth, results, iou_type, configure=None):
    """The reference: COCO + loadRes + COCOeval, on deep copies (they mutate their input)."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(ground_truth)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        coco_eval = COCOeval(coco_gt, coco_dt, iou_type)
        if configure:
            configure(coco_eval.params)
        coco_eval.evaluate()
        coco_eval.accumulate()
        start = len(printed.getvalue())
        coco_eval.summarize()
    return coco_eval, printed.getvalue()[start:].splitlines()


def assert_same_as_pycocotools(reference, ours):
    for name, our_array in (
        ("precision", ours.precision),
        ("recall", ours.recall),
        ("scores", ours.scores),
    ):
        theirs = reference.eval[name]
        assert our_array.shape == theirs.shape, name
        np.testing.assert_allclose(our_array, theirs, rtol=0, atol=TOLERANCE, err_msg=name)
    np.testing.assert_allclose(ours.stats, reference.stats, rtol=0, atol=TOLERANCE)


FIXTURE_CASES = [
    ("instances_val2014_100.json", "instances_val2014_fakebbox100_results.json", "bbox"),
    ("instances_val2014_100.json", "instances_val2014_fakesegm100_results.json", "segm"),
    # Box results evaluated as masks: loadRes draws each box as a rectangle polygon.
    ("instances_val2014_100.json", "instances_val2014_fakebbox100_results.json", "segm"),
    # Mask results evaluated as boxes: loadRes gives each the box of its mask.
    ("instances_val2014_100.json", "instances_val2014_fakesegm100_results.json", "bbox"),
    # Results with both a box and a polygon: loadRes takes the area from the box.
    ("gt_dataset.json", "dt_dataset.json", "bbox"),
    ("gt_dataset.json", "dt_dataset.json", "segm"),
]


@pytest.mark.parametrize("use_categories", [True, False])
@pytest.mark.parametrize(("gt_name", "results_name", "iou_type"), FIXTURE_CASES)
def test_fixtures_match_pycocotools(gt_name, results_name, iou_type, use_categories):
    ground_truth, results = load_fixture(gt_name), load_fixture(results_name)
    reference, printed = run_pycocotools(
        ground_truth, results, iou_type, lambda p: setattr(p, "useCats", int(use_categories))
    )
    ours = evaluate_coco(ground_truth, results, iou_type, EvalParams(use_categories=use_categories))
    assert_same_as_pycocotools(reference, ours)
    assert ours.summary_lines() == printed


def test_val2014_fake_bbox_results_give_the_published_numbers():
    # The cocoapi demo's published AP for these fake results (pycocoEvalDemo.ipynb).
    ours = evaluate_coco(
        load_fixture("instances_val2014_100.json"),
        load_fixture("instances_val2014_fakebbox100_results.json"),
        "bbox",
    )
    assert ours.stats[0] == pytest.approx(0.505, abs=5e-4)
    assert ours.stats[1] == pytest.approx(0.697, abs=5e-4)


def test_ground_truth_with_id_zero_is_reproduced():
    # The toy example numbers its annotations from 0.  pycocotools stores the matched gt id and
    # treats 0 as "unmatched", so a detection matching annotation 0 becomes a false positive.
    ground_truth = load_fixture("toy_example_gt.json")
    results = load_fixture("toy_example_dets.json")["annotations"]
    assert any(ann["id"] == 0 for ann in ground_truth["annotations"])
    reference, _ = run_pycocotools(ground_truth, results, "bbox")
    ours = evaluate_coco(ground_truth, results, "bbox")
    assert_same_as_pycocotools(reference, ours)
    renumbered = copy.deepcopy(ground_truth)
    for ann in renumbered["annotations"]:
        ann["id"] += 1
    assert evaluate_coco(renumbered, results, "bbox").stats[0] > ours.stats[0]


def test_custom_parameters_match_pycocotools():
    ground_truth = load_fixture("instances_val2014_100.json")
    results = load_fixture("instances_val2014_fakebbox100_results.json")
    image_ids = sorted(image["id"] for image in ground_truth["images"])[::3]
    category_ids = [1, 3, 18, 44, 62, 90]

    def configure(p):
        p.imgIds = image_ids
        p.catIds = category_ids
        p.iouThrs = np.array([0.3, 0.5, 0.75, 0.9])
        p.recThrs = np.linspace(0, 1, 11)
        p.maxDets = [3, 20, 100]
        p.areaRng = [[0, 1e10], [0, 50**2], [50**2, 150**2], [150**2, 1e10]]

    reference, printed = run_pycocotools(ground_truth, results, "bbox", configure)
    params = EvalParams(
        image_ids=image_ids,
        category_ids=category_ids,
        iou_thresholds=[0.3, 0.5, 0.75, 0.9],
        recall_thresholds=np.linspace(0, 1, 11),
        max_detections=[3, 20, 100],
        area_ranges=[[0, 1e10], [0, 50**2], [50**2, 150**2], [150**2, 1e10]],
    )
    ours = evaluate_coco(ground_truth, results, "bbox", params)
    assert_same_as_pycocotools(reference, ours)
    assert ours.summary_lines() == printed


def test_ignore_field_is_overwritten_like_pycocotools_unless_asked():
    ground_truth = {
        "images": [{"id": 1, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 10, 10],
                "area": 100,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [50, 50, 10, 10],
                "area": 100,
                "iscrowd": 0,
                "ignore": 1,
            },
        ],
    }
    results = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]
    reference, _ = run_pycocotools(ground_truth, results, "bbox")
    ours = evaluate_coco(ground_truth, results, "bbox")
    assert_same_as_pycocotools(reference, ours)
    assert ours.stats[8] == pytest.approx(0.5)  # the "ignored" object still counts as missed
    honoured = evaluate_coco(ground_truth, results, "bbox", EvalParams(honour_ignore_field=True))
    assert honoured.stats[8] == pytest.approx(1.0)
    assert honoured.stats[0] == pytest.approx(1.0)


# ---- Generated cases ------------------------------------------------------------------------

SCALE = 8  # grid cell in pixels: boxes span the small, medium and large area ranges
IMAGE_WIDTH, IMAGE_HEIGHT = 24 * SCALE, 20 * SCALE
CATEGORY_IDS = [1, 2, 5, 7]  # 7 never gets ground truth below when the draw says so

coordinates = st.integers(0, 14).map(lambda v: v * SCALE / 2)
sizes = st.integers(1, 16).map(lambda v: v * SCALE / 2)


@st.composite
def coco_cases(draw, with_masks=False):
    n_images = draw(st.integers(1, 4))
    image_ids = draw(
        st.lists(st.integers(1, 50), min_size=n_images, max_size=n_images, unique=True)
    )
    images = [{"id": i, "width": IMAGE_WIDTH, "height": IMAGE_HEIGHT} for i in image_ids]
    gt_categories = draw(
        st.lists(st.sampled_from(CATEGORY_IDS), min_size=1, max_size=3, unique=True)
    )
    n_gt = draw(st.integers(0, 12))
    annotation_ids = draw(st.lists(st.integers(0, 400), min_size=n_gt, max_size=n_gt, unique=True))
    annotations = []
    for annotation_id in annotation_ids:
        box = [draw(coordinates), draw(coordinates), draw(sizes), draw(sizes)]
        crowd = draw(st.integers(0, 5)) == 0
        annotation = {
            "id": annotation_id,
            "image_id": draw(st.sampled_from(image_ids)),
            "category_id": draw(st.sampled_from(gt_categories)),
            "bbox": box,
            # GT area comes from the file, not from the box: draw it across the ranges.
            "area": draw(
                st.sampled_from([box[2] * box[3], 100.0, 1024.0, 2000.0, 9216.0, 12000.0])
            ),
            "iscrowd": int(crowd),
        }
        if draw(st.booleans()):
            annotation["ignore"] = draw(st.integers(0, 1))
        if with_masks:
            annotation["segmentation"] = _polygon_in(box, draw(st.booleans()))
            if crowd:
                rle = mask_utils.merge(
                    mask_utils.frPyObjects(annotation["segmentation"], IMAGE_HEIGHT, IMAGE_WIDTH)
                )
                annotation["segmentation"] = _uncompressed(rle)
        annotations.append(annotation)
    n_dt = draw(st.integers(1, 25))
    results = []
    for _ in range(n_dt):
        if annotations and draw(st.booleans()):
            # A copy or near copy of a ground truth: exact IoU ties and perfect matches.
            source = draw(st.sampled_from(annotations))
            box = [v + draw(st.sampled_from([0, 0, SCALE / 2])) for v in source["bbox"]]
        else:
            box = [draw(coordinates), draw(coordinates), draw(sizes), draw(sizes)]
        result = {
            "image_id": draw(st.sampled_from(image_ids)),
            "category_id": draw(st.sampled_from(CATEGORY_IDS)),
            "bbox": box,
            "score": draw(st.sampled_from([0.1, 0.5, 0.5, 0.9, 0.3333, 1.0])),
        }
        if with_masks:
            polygon = _polygon_in(box, draw(st.booleans()))
            result["segmentation"] = _compressed(polygon)
        results.append(result)
    if with_masks:
        # loadRes reads every result as the first one is: box + mask, mask only, or box only.
        form = draw(st.sampled_from(["both", "mask_only", "box_only"]))
        for result in results:
            if form == "mask_only":
                del result["bbox"]
            elif form == "box_only":
                del result["segmentation"]
    ground_truth = {
        "images": images,
        "categories": [{"id": c, "name": f"c{c}"} for c in CATEGORY_IDS],
        "annotations": annotations,
    }
    return ground_truth, results


def _polygon_in(box, triangle):
    x, y, w, h = box
    if triangle:
        return [[x, y, x + w, y, x, y + h]]
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _compressed(polygon):
    rle = mask_utils.merge(mask_utils.frPyObjects(polygon, IMAGE_HEIGHT, IMAGE_WIDTH))
    return {"size": [IMAGE_HEIGHT, IMAGE_WIDTH], "counts": rle["counts"].decode("ascii")}


def _uncompressed(rle):
    flat = mask_utils.decode(rle).flatten(order="F")
    boundaries = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.r_[0, boundaries, flat.size]).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": [IMAGE_HEIGHT, IMAGE_WIDTH], "counts": counts}


@st.composite
def parameter_choices(draw, ground_truth):
    image_ids = [image["id"] for image in ground_truth["images"]]
    choice = {
        "use_categories": draw(st.booleans()),
        "max_detections": sorted(
            draw(st.lists(st.integers(1, 12), min_size=3, max_size=3, unique=True))
        ),
    }
    if draw(st.booleans()):
        choice["max_detections"] = [1, 10, 100]
    if draw(st.booleans()):
        choice["iou_thresholds"] = sorted(
            draw(
                st.lists(
                    st.sampled_from([0.1, 0.3, 0.5, 0.6, 0.75, 0.99, 1.0]),
                    min_size=1,
                    max_size=4,
                    unique=True,
                )
            )
        )
    if draw(st.booleans()):
        choice["image_ids"] = draw(st.lists(st.sampled_from(image_ids), min_size=1, unique=True))
    if draw(st.booleans()):
        choice["category_ids"] = draw(
            st.lists(st.sampled_from(CATEGORY_IDS), min_size=1, unique=True)
        )
    if draw(st.booleans()):
        choice["area_ranges"] = [[0, 1e10], [0, 500], [500, 4000], [4000, 1e10]]
    return choice


def configure_pycocotools(choice):
    def configure(p):
        p.useCats = int(choice["use_categories"])
        p.maxDets = list(choice["max_detections"])
        if "iou_thresholds" in choice:
            p.iouThrs = np.array(choice["iou_thresholds"], dtype=np.float64)
        if "image_ids" in choice:
            p.imgIds = list(choice["image_ids"])
        if "category_ids" in choice:
            p.catIds = list(choice["category_ids"])
        if "area_ranges" in choice:
            p.areaRng = choice["area_ranges"]

    return configure


def our_params(choice):
    return EvalParams(
        use_categories=choice["use_categories"],
        max_detections=choice["max_detections"],
        iou_thresholds=choice.get("iou_thresholds"),
        image_ids=choice.get("image_ids"),
        category_ids=choice.get("category_ids"),
        area_ranges=choice.get("area_ranges", EvalParams().area_ranges),
    )


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_bbox_cases_match_pycocotools(data):
    ground_truth, results = data.draw(coco_cases())
    choice = data.draw(parameter_choices(ground_truth))
    reference, printed = run_pycocotools(
        ground_truth, results, "bbox", configure_pycocotools(choice)
    )
    ours = evaluate_coco(ground_truth, results, "bbox", our_params(choice))
    assert_same_as_pycocotools(reference, ours)
    assert ours.summary_lines() == printed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_segm_cases_match_pycocotools(data):
    ground_truth, results = data.draw(coco_cases(with_masks=True))
    choice = data.draw(parameter_choices(ground_truth))
    reference, printed = run_pycocotools(
        ground_truth, results, "segm", configure_pycocotools(choice)
    )
    ours = evaluate_coco(ground_truth, results, "segm", our_params(choice))
    assert_same_as_pycocotools(reference, ours)
    assert ours.summary_lines() == printed


def test_empty_results_score_zero_where_pycocotools_would_crash():
    # loadRes([]) raises IndexError in pycocotools; we evaluate it as "nothing detected".
    ours = evaluate_coco(load_fixture("instances_val2014_100.json"), [], "bbox")
    assert list(ours.stats) == [0.0] * 12
    assert (ours.precision[ours.precision > -1] == 0).all()
