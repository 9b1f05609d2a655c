"""Panoptic quality (Kirillov et al. 2019) for the COCO panoptic format, as panopticapi's pq_compute.

The rules, in the order panopticapi applies them per image:

* segment ids are read from the PNGs as id = R + 256*G + 256²*B; id 0 is VOID;
* a predicted id must be in the prediction JSON and vice versa, with a known category;
* a ground-truth and a predicted segment of the same category match when their IoU > 0.5,
  where the union leaves out the predicted segment's pixels on VOID; crowd ground truths
  never match.  Ground-truth areas are the JSON ``area`` fields, predicted areas are counted;
* unmatched non-crowd ground truths are false negatives;
* an unmatched predicted segment is a false positive unless more than half of it lies on VOID
  or on the crowd region of its own category;
* per category: PQ = sum IoU / (TP + FP/2 + FN/2), SQ = sum IoU / TP, RQ = TP / (TP + FP/2 + FN/2);
  categories without any TP, FP or FN are left out; All / Things / Stuff average over categories.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VOID = 0
OFFSET = 256 * 256 * 256


class PanopticFormatError(ValueError):
    """Prediction JSON and PNGs that do not agree; the message names the image and segment."""


def rgb_to_id(color: np.ndarray) -> np.ndarray:
    color = np.asarray(color)
    if color.ndim == 3:
        color = color.astype(np.int64)
        return color[..., 0] + 256 * color[..., 1] + 256 * 256 * color[..., 2]
    return color.astype(np.int64)


@dataclass
class CategoryCounts:
    iou: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0


@dataclass
class PanopticQuality:
    categories: dict[int, dict]
    per_category: dict[int, CategoryCounts] = field(
        default_factory=lambda: defaultdict(CategoryCounts)
    )

    def add_image(
        self,
        image_id: object,
        gt_ids: np.ndarray,
        gt_segments: list[dict],
        pred_ids: np.ndarray,
        pred_segments: list[dict],
    ) -> None:
        """pq_compute_single_core for one image: id maps and their segments_info lists."""
        if gt_ids.shape != pred_ids.shape:
            raise PanopticFormatError(
                f"image {image_id}: prediction size {pred_ids.shape} != ground truth {gt_ids.shape}"
            )
        gt_by_id = {segment["id"]: segment for segment in gt_segments}
        pred_by_id = {segment["id"]: dict(segment) for segment in pred_segments}

        # Predicted areas from the PNG, and the JSON/PNG consistency checks.
        unseen = set(pred_by_id)
        labels, counts = np.unique(pred_ids, return_counts=True)
        for label, count in zip(labels.tolist(), counts.tolist(), strict=True):
            if label not in pred_by_id:
                if label == VOID:
                    continue
                raise PanopticFormatError(
                    f"image {image_id}: segment {label} is in the PNG but not in the JSON"
                )
            pred_by_id[label]["area"] = count
            unseen.discard(label)
            if pred_by_id[label]["category_id"] not in self.categories:
                raise PanopticFormatError(
                    f"image {image_id}: segment {label} has unknown category_id {pred_by_id[label]['category_id']}"
                )
        if unseen:
            raise PanopticFormatError(
                f"image {image_id}: segments {sorted(unseen)} are in the JSON but not in the PNG"
            )

        # Pixel counts of every (gt id, predicted id) pair.
        pairs = gt_ids.astype(np.uint64) * OFFSET + pred_ids.astype(np.uint64)
        pair_labels, pair_counts = np.unique(pairs, return_counts=True)
        intersection = {
            (int(label // OFFSET), int(label % OFFSET)): int(count)
            for label, count in zip(pair_labels.tolist(), pair_counts.tolist(), strict=True)
        }

        gt_matched, pred_matched = set(), set()
        for (gt_label, pred_label), overlap in intersection.items():
            if gt_label not in gt_by_id or pred_label not in pred_by_id:
                continue
            gt_segment, pred_segment = gt_by_id[gt_label], pred_by_id[pred_label]
            if gt_segment.get("iscrowd", 0) == 1:
                continue
            if gt_segment["category_id"] != pred_segment["category_id"]:
                continue
            union = (
                pred_segment["area"]
                + gt_segment["area"]
                - overlap
                - intersection.get((VOID, pred_label), 0)
            )
            iou = overlap / union
            if iou > 0.5:
                counts_of = self.per_category[gt_segment["category_id"]]
                counts_of.tp += 1
                counts_of.iou += iou
                gt_matched.add(gt_label)
                pred_matched.add(pred_label)

        crowd_by_category = {}
        for gt_label, gt_segment in gt_by_id.items():
            if gt_label in gt_matched:
                continue
            if gt_segment.get("iscrowd", 0) == 1:
                crowd_by_category[gt_segment["category_id"]] = gt_label
                continue
            self.per_category[gt_segment["category_id"]].fn += 1

        for pred_label, pred_segment in pred_by_id.items():
            if pred_label in pred_matched:
                continue
            ignored = intersection.get((VOID, pred_label), 0)
            if pred_segment["category_id"] in crowd_by_category:
                ignored += intersection.get(
                    (crowd_by_category[pred_segment["category_id"]], pred_label), 0
                )
            if ignored / pred_segment["area"] > 0.5:
                continue
            self.per_category[pred_segment["category_id"]].fp += 1

    def average(self, isthing: bool | None = None) -> tuple[dict, dict[int, dict]]:
        """pq_average: over all categories (None), things (True) or stuff (False)."""
        pq = sq = rq = 0.0
        n = 0
        per_class = {}
        for category_id, category in self.categories.items():
            if isthing is not None and (category.get("isthing") == 1) != isthing:
                continue
            counts = self.per_category.get(category_id, CategoryCounts())
            if counts.tp + counts.fp + counts.fn == 0:
                per_class[category_id] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
                continue
            n += 1
            denominator = counts.tp + 0.5 * counts.fp + 0.5 * counts.fn
            pq_class = counts.iou / denominator
            sq_class = counts.iou / counts.tp if counts.tp != 0 else 0
            rq_class = counts.tp / denominator
            per_class[category_id] = {"pq": pq_class, "sq": sq_class, "rq": rq_class}
            pq += pq_class
            sq += sq_class
            rq += rq_class
        if n == 0:
            return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}, per_class
        return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}, per_class

    def results(self) -> dict:
        summary = {}
        for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
            summary[name], per_class = self.average(isthing)
            if name == "All":
                summary["per_class"] = per_class
        return summary


def summary_lines(results: dict) -> list[str]:
    """The table pq_compute prints."""
    lines = [f"{'':10s}| {'PQ':>5s} {'SQ':>5s} {'RQ':>5s} {'N':>5s}", "-" * 41]
    for name in ("All", "Things", "Stuff"):
        row = results[name]
        lines.append(
            f"{name:10s}| {100 * row['pq']:5.1f} {100 * row['sq']:5.1f} {100 * row['rq']:5.1f} {row['n']:5d}"
        )
    return lines


def _read_ids(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return rgb_to_id(np.asarray(image.convert("RGB")))


def evaluate_panoptic(gt_json: Path, gt_folder: Path, pred_json: Path, pred_folder: Path) -> dict:
    """pq_compute(gt_json_file, pred_json_file, gt_folder, pred_folder)."""
    gt_data = json.loads(Path(gt_json).read_text())
    pred_data = json.loads(Path(pred_json).read_text())
    categories = {category["id"]: category for category in gt_data["categories"]}
    predictions = {annotation["image_id"]: annotation for annotation in pred_data["annotations"]}
    quality = PanopticQuality(categories)
    for gt_annotation in gt_data["annotations"]:
        image_id = gt_annotation["image_id"]
        if image_id not in predictions:
            raise PanopticFormatError(f"no prediction for image {image_id}")
        pred_annotation = predictions[image_id]
        quality.add_image(
            image_id,
            _read_ids(Path(gt_folder) / gt_annotation["file_name"]),
            gt_annotation["segments_info"],
            _read_ids(Path(pred_folder) / pred_annotation["file_name"]),
            pred_annotation["segments_info"],
        )
    return quality.results()
