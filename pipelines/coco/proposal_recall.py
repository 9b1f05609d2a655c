"""Average recall of object proposals, as in DeepMask / SharpMask (Pinheiro et al. 2015, 2016).

Proposals are judged without categories (COCOeval with ``useCats=0``, "as in proposal
scoring"), crowd ground truth is ignored (neither found nor missed), and a ground truth counts
as found at IoU t if the greedy COCO matching pairs it with one of an image's top-n proposals.

* ``AR@n``: recall averaged over IoU 0.50:0.05:0.95 with the top n proposals per image
  (n = 10, 100, 1000).
* ``AR_small/medium/large@1000``: the same over ground truths of COCO's area ranges
  (< 32², 32²-96², > 96²), at 1000 proposals.
* ``AUC``: the area under AR(n) for n from 1 to 1000 with n on a log axis, normalised to
  [0, 1], i.e. the mean of AR over log10(n) (trapezoid rule over 31 log-spaced counts);
  ``AUC_small/medium/large`` likewise per size.

Boxes (``iou_type="bbox"``) and masks (``"segm"``) work alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.coco.cocoeval import (
    DEFAULT_AREA_LABELS,
    DEFAULT_AREA_RANGES,
    EvalParams,
    GroundTruth,
    evaluate,
    load_results,
)

REPORTED_COUNTS = (10, 100, 1000)
SIZE_COUNT = 1000  # AR by size is reported at 1000 proposals
AUC_COUNTS = tuple(int(n) for n in np.unique(np.round(np.logspace(0, 3, 31))))  # 1 .. 1000


@dataclass
class ProposalRecall:
    iou_type: str
    counts: list[int]  # proposal counts n of the recall arrays
    area_labels: list[str]
    recall: np.ndarray  # [T, A, N]: recall at each IoU threshold, area range and count
    metrics: dict[str, float]

    def average_recall(self, count: int, area: str = "all") -> float:
        return float(
            np.mean(self.recall[:, self.area_labels.index(area), self.counts.index(count)])
        )

    def summary_lines(self) -> list[str]:
        return [f" {name:<20} = {value:0.3f}" for name, value in self.metrics.items()]


def load_proposals(ground_truth: GroundTruth, proposals: list, iou_type: str = "bbox"):
    """Proposals may omit ``category_id``; unknown or missing ones are given a placeholder."""
    placeholder = ground_truth.category_ids[0] if ground_truth.category_ids else 1
    known = set(ground_truth.category_ids)
    normalised = [
        proposal
        if isinstance(proposal, dict) and proposal.get("category_id") in known
        else {**proposal, "category_id": placeholder}
        if isinstance(proposal, dict)
        else proposal
        for proposal in proposals
    ]
    return load_results(ground_truth, normalised, iou_type)


def evaluate_proposals(
    ground_truth: GroundTruth, proposals: Any, iou_type: str = "bbox"
) -> ProposalRecall:
    """AR@10/100/1000, AR by size at 1000 and AUC for a proposals results list."""
    detections = load_proposals(ground_truth, proposals, iou_type)
    counts = sorted(set(REPORTED_COUNTS) | set(AUC_COUNTS))
    params = EvalParams(
        use_categories=False,
        max_detections=counts,
        area_ranges=DEFAULT_AREA_RANGES,
        area_labels=DEFAULT_AREA_LABELS,
    )
    result = evaluate(ground_truth, detections, iou_type, params)
    recall = result.recall[:, 0, :, :]  # K = 1 without categories
    recall = np.where(recall < 0, np.nan, recall)  # -1: no ground truth in that size range
    labels = list(DEFAULT_AREA_LABELS)

    def ar(count: int, area: str = "all") -> float:
        return float(np.mean(recall[:, labels.index(area), counts.index(count)]))

    def auc(area: str = "all") -> float:
        curve = [ar(n, area) for n in AUC_COUNTS]
        x = np.log10(AUC_COUNTS)
        return float(np.trapezoid(curve, x) / (x[-1] - x[0]))

    metrics = {f"AR@{n}": ar(n) for n in REPORTED_COUNTS}
    for area in ("small", "medium", "large"):
        metrics[f"AR_{area}@{SIZE_COUNT}"] = ar(SIZE_COUNT, area)
    metrics["AUC"] = auc()
    for area in ("small", "medium", "large"):
        metrics[f"AUC_{area}"] = auc(area)
    return ProposalRecall(
        iou_type=iou_type, counts=counts, area_labels=labels, recall=recall, metrics=metrics
    )
