"""Panoptic quality against the panopticapi samples, a hand-computed case and an independent
mask-by-mask implementation of pq_compute's rules."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.coco.panoptic import (
    PanopticFormatError,
    PanopticQuality,
    evaluate_panoptic,
    rgb_to_id,
)

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "coco_samples" / "panoptic"
GT_JSON = SAMPLES / "panoptic_examples.json"
GT_DIR = SAMPLES / "panoptic_examples"


def id_to_rgb(ids):
    return np.stack([ids % 256, ids // 256 % 256, ids // 256**2], axis=-1).astype(np.uint8)


def test_examples_against_themselves_are_perfect():
    results = evaluate_panoptic(GT_JSON, GT_DIR, GT_JSON, GT_DIR)
    for name, n in (("All", 8), ("Things", 4), ("Stuff", 4)):
        assert results[name] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": n}


def test_hand_computed_two_by_four_image():
    categories = {1: {"id": 1, "isthing": 1}, 2: {"id": 2, "isthing": 0}}
    gt_ids = np.array([[1, 1, 2, 2], [1, 1, 2, 0]])
    pred_ids = np.array([[5, 5, 5, 6], [5, 5, 6, 6]])
    quality = PanopticQuality(categories)
    quality.add_image(
        1,
        gt_ids,
        [
            {"id": 1, "category_id": 1, "iscrowd": 0, "area": 4},
            {"id": 2, "category_id": 2, "iscrowd": 0, "area": 3},
        ],
        pred_ids,
        [{"id": 5, "category_id": 1}, {"id": 6, "category_id": 2}],
    )
    results = quality.results()
    # Thing: IoU 4 / (5 + 4 - 4) = 0.8.  Stuff: 2 / (3 + 3 - 2 - 1 pixel on VOID) = 2/3.
    assert results["Things"]["pq"] == pytest.approx(0.8)
    assert results["Stuff"]["pq"] == pytest.approx(2 / 3)
    assert results["All"]["pq"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert results["All"]["rq"] == 1.0


def reference_pq(gt_data, pred_data, gt_maps, pred_maps):
    """The rules of pq_compute, written mask by mask with booleans."""
    categories = {c["id"]: c for c in gt_data["categories"]}
    counts = {c: {"tp": 0, "fp": 0, "fn": 0, "iou": 0.0} for c in categories}
    predictions = {a["image_id"]: a for a in pred_data["annotations"]}
    for gt_annotation in gt_data["annotations"]:
        gt_map = gt_maps[gt_annotation["file_name"]]
        pred_annotation = predictions[gt_annotation["image_id"]]
        pred_map = pred_maps[pred_annotation["file_name"]]
        void = gt_map == 0
        gt_segments = gt_annotation["segments_info"]
        pred_segments = pred_annotation["segments_info"]
        matched_gt, matched_pred = set(), set()
        for g in gt_segments:
            if g["iscrowd"]:
                continue
            gt_mask = gt_map == g["id"]
            for p in pred_segments:
                if p["category_id"] != g["category_id"]:
                    continue
                pred_mask = pred_map == p["id"]
                overlap = np.sum(gt_mask & pred_mask)
                union = g["area"] + pred_mask.sum() - overlap - np.sum(pred_mask & void)
                if overlap / union > 0.5:
                    counts[g["category_id"]]["tp"] += 1
                    counts[g["category_id"]]["iou"] += overlap / union
                    matched_gt.add(g["id"])
                    matched_pred.add(p["id"])
        for g in gt_segments:
            if not g["iscrowd"] and g["id"] not in matched_gt:
                counts[g["category_id"]]["fn"] += 1
        for p in pred_segments:
            if p["id"] in matched_pred:
                continue
            pred_mask = pred_map == p["id"]
            # pq_compute keeps one crowd region per category (the last one listed).
            crowds = [
                g for g in gt_segments if g["iscrowd"] and g["category_id"] == p["category_id"]
            ]
            ignored_region = void | (gt_map == crowds[-1]["id"]) if crowds else void
            if np.sum(pred_mask & ignored_region) / pred_mask.sum() <= 0.5:
                counts[p["category_id"]]["fp"] += 1
    summary = {}
    for name, isthing in (("All", None), ("Things", 1), ("Stuff", 0)):
        pqs, sqs, rqs = [], [], []
        for c, info in categories.items():
            if isthing is not None and info["isthing"] != isthing:
                continue
            k = counts[c]
            if k["tp"] + k["fp"] + k["fn"] == 0:
                continue
            pqs.append(k["iou"] / (k["tp"] + 0.5 * k["fp"] + 0.5 * k["fn"]))
            sqs.append(k["iou"] / k["tp"] if k["tp"] else 0)
            rqs.append(k["tp"] / (k["tp"] + 0.5 * k["fp"] + 0.5 * k["fn"]))
        summary[name] = {"pq": np.mean(pqs), "sq": np.mean(sqs), "rq": np.mean(rqs), "n": len(pqs)}
    return summary, counts


def load_maps(folder):
    return {
        path.name: rgb_to_id(np.asarray(Image.open(path).convert("RGB")))
        for path in folder.glob("*.png")
    }


def perturbed_prediction(tmp_path):
    """Hand-made mistakes on image 142238; image 439180 gets a shifted segment."""
    gt_data = json.loads(GT_JSON.read_text())
    pred_data = copy.deepcopy(gt_data)
    maps = load_maps(GT_DIR)
    first = maps["000000142238.png"].copy()
    segments = {s["id"]: s for s in pred_data["annotations"][0]["segments_info"]}
    # 1. Erode person 3937500 to its top 30%: IoU < 0.5, so a miss and a false positive.
    rows = np.nonzero(first == 3937500)[0]
    cut = rows.min() + int(0.3 * (rows.max() - rows.min()))
    first[(first == 3937500) & (np.arange(first.shape[0])[:, None] > cut)] = 0
    # 2. Merge person 2628072 into person 2822390: IoU about 0.503, still a match; one miss.
    first[first == 2628072] = 2822390
    del segments[2628072]
    # 3. Stuff 11829830 predicted with the wrong category (193 instead of 187).
    segments[11829830]["category_id"] = 193
    # 4. A new person segment on VOID pixels only: ignored, not a false positive.
    void_pixels = np.argwhere(maps["000000142238.png"] == 0)[:200]
    first[void_pixels[:, 0], void_pixels[:, 1]] = 7777
    segments[7777] = {"id": 7777, "category_id": 1, "iscrowd": 0}
    # 5. A new person segment inside the person crowd region: ignored too.
    crowd_pixels = np.argwhere(maps["000000142238.png"] == 3153362)[:300]
    first[crowd_pixels[:, 0], crowd_pixels[:, 1]] = 8888
    segments[8888] = {"id": 8888, "category_id": 1, "iscrowd": 0}
    pred_data["annotations"][0]["segments_info"] = list(segments.values())
    second = maps["000000439180.png"].copy()
    moved = second == 4587520
    second[moved] = 0
    second[np.roll(moved, 15, axis=1) & (second == 0)] = 4587520
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    Image.fromarray(id_to_rgb(first)).save(pred_dir / "000000142238.png")
    Image.fromarray(id_to_rgb(second)).save(pred_dir / "000000439180.png")
    pred_json = tmp_path / "pred.json"
    pred_json.write_text(json.dumps(pred_data))
    return gt_data, pred_data, maps, pred_json, pred_dir


def test_perturbed_prediction_matches_an_independent_implementation(tmp_path):
    gt_data, pred_data, gt_maps, pred_json, pred_dir = perturbed_prediction(tmp_path)
    ours = evaluate_panoptic(GT_JSON, GT_DIR, pred_json, pred_dir)
    expected, counts = reference_pq(gt_data, pred_data, gt_maps, load_maps(pred_dir))
    for name in ("All", "Things", "Stuff"):
        for metric in ("pq", "sq", "rq", "n"):
            assert ours[name][metric] == pytest.approx(expected[name][metric], abs=1e-12), (
                name,
                metric,
            )
    # The mistakes show up as planned: person misses the eroded and the merged segment and gets
    # one false positive (the eroded remainder); the VOID and crowd segments are not counted.
    assert (counts[1]["fn"], counts[1]["fp"]) == (2, 1)
    assert (counts[187]["fn"], counts[193]["fp"]) == (1, 1)
    assert ours["All"]["pq"] < 1.0


def test_prediction_json_and_png_must_agree(tmp_path):
    pred_data = json.loads(GT_JSON.read_text())
    pred_data["annotations"][0]["segments_info"].pop(0)
    pred_json = tmp_path / "pred.json"
    pred_json.write_text(json.dumps(pred_data))
    with pytest.raises(
        PanopticFormatError, match="image 142238: segment 3937500 is in the PNG but not in the JSON"
    ):
        evaluate_panoptic(GT_JSON, GT_DIR, pred_json, GT_DIR)
