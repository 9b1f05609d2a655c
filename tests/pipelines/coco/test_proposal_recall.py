"""Proposal average recall: against pycocotools with useCats=0, and small hand-made cases."""

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pipelines.coco.cocoeval import load_ground_truth
from pipelines.coco.proposal_recall import AUC_COUNTS, evaluate_proposals

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coco_samples"


def pycocotools_recall(ground_truth, proposals, iou_type, max_dets):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(ground_truth)
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(proposals)), iou_type)
        coco_eval.params.useCats = 0
        coco_eval.params.maxDets = list(max_dets)
        coco_eval.evaluate()
        coco_eval.accumulate()
    return coco_eval.eval["recall"][:, 0]  # [T, A, M]


@pytest.mark.parametrize(
    ("results_name", "iou_type"),
    [
        ("instances_val2014_fakebbox100_results.json", "bbox"),
        ("instances_val2014_fakesegm100_results.json", "segm"),
    ],
)
def test_average_recall_equals_category_agnostic_cocoeval(results_name, iou_type):
    ground_truth = json.loads((FIXTURES / "instances_val2014_100.json").read_text())
    proposals = json.loads((FIXTURES / results_name).read_text())
    ours = evaluate_proposals(load_ground_truth(ground_truth), proposals, iou_type)
    reference = pycocotools_recall(ground_truth, proposals, iou_type, [10, 100, 1000])
    for m, count in enumerate([10, 100, 1000]):
        assert ours.metrics[f"AR@{count}"] == pytest.approx(np.mean(reference[:, 0, m]), abs=1e-12)
    for a, area in enumerate(["small", "medium", "large"], start=1):
        assert ours.metrics[f"AR_{area}@1000"] == pytest.approx(
            np.mean(reference[:, a, 2]), abs=1e-12
        )
    # AUC: the mean of AR over log10(n), trapezoid rule on the AUC_COUNTS grid.
    grid = pycocotools_recall(ground_truth, proposals, iou_type, AUC_COUNTS)
    curve = grid[:, 0, :].mean(axis=0)
    x = np.log10(AUC_COUNTS)
    expected_auc = (
        sum((x[i + 1] - x[i]) * (curve[i] + curve[i + 1]) / 2 for i in range(len(x) - 1)) / 3
    )
    assert ours.metrics["AUC"] == pytest.approx(expected_auc, abs=1e-12)


def one_image(annotations):
    return {
        "images": [{"id": 1, "width": 400, "height": 400}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "annotations": annotations,
    }


def box(annotation_id, xywh, category=1, crowd=0):
    return {
        "id": annotation_id,
        "image_id": 1,
        "category_id": category,
        "bbox": xywh,
        "area": xywh[2] * xywh[3],
        "iscrowd": crowd,
    }


def test_recall_is_category_agnostic_ignores_crowds_and_counts_proposals_by_score():
    ground_truth = load_ground_truth(
        one_image(
            [
                box(1, [0, 0, 100, 100]),
                box(2, [200, 200, 100, 100], category=2),
                box(3, [0, 200, 50, 50], crowd=1),
            ]
        )
    )
    # No category_id: proposals are class-agnostic.  Scores decide which are the top n.
    proposals = [{"image_id": 1, "bbox": [0, 0, 100, 100], "score": 0.9}]
    proposals += [{"image_id": 1, "bbox": [300, 0, 10, 10], "score": 0.8} for _ in range(20)]
    proposals += [{"image_id": 1, "bbox": [200, 200, 100, 100], "score": 0.1}]
    proposals += [
        {"image_id": 1, "bbox": [0, 200, 50, 50], "score": 0.95}
    ]  # on the crowd: neither hit nor miss
    metrics = evaluate_proposals(ground_truth, proposals).metrics
    assert metrics["AR@10"] == pytest.approx(0.5)  # one of the two non-crowd objects
    assert metrics["AR@100"] == pytest.approx(1.0)
    assert metrics["AR@1000"] == pytest.approx(1.0)
    assert metrics["AR_large@1000"] == pytest.approx(1.0)
    assert np.isnan(metrics["AR_small@1000"])  # no small non-crowd object
    assert 0.5 < metrics["AUC"] < 1.0


def test_recall_averages_over_iou_thresholds():
    ground_truth = load_ground_truth(one_image([box(1, [0, 0, 100, 100])]))
    # IoU 0.8: found at thresholds 0.50 ... 0.80, i.e. 7 of 10.
    proposals = [{"image_id": 1, "bbox": [0, 0, 100, 80], "score": 1.0}]
    assert evaluate_proposals(ground_truth, proposals).metrics["AR@10"] == pytest.approx(0.7)
