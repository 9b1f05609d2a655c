"""Scoring an export against the ground truth it started from (no Django), and the table.

- category recall / precision: image-level (image, category) pairs with at least one
  exported annotation, against the pairs with at least one ground-truth annotation;
- instance recall: ground-truth non-crowd instances matched one-to-one (greedy by mask IoU,
  IoU >= 0.5) by exported non-crowd annotations of the same image and category;
- crowd-aware instance recall: also counting an unmatched instance found when at least half
  of it lies inside an exported crowd region of its category;
- mask IoU of the matched instances (median, mean);
- AP: the export's non-crowd annotations as detections (score 1) scored with cocoforge's
  evaluator (pipelines/coco/cocoeval.py, segm), the ground truth as is;
- double_outlined: exported annotations matching (IoU >= 0.5) an object already matched;
- crowd regions found: ground-truth crowd regions at least half inside an exported crowd
  region of their category (beside `gt_crowd_regions`).
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from pipelines.coco.cocoeval import evaluate_coco
from pipelines.simulator.groundtruth import GroundTruth, to_rle

MATCH_IOU = 0.5
# COCO's reported effort (thesis §2.4, PIPELINE.md): ~328k images, 2.5M instances.
COCO_IMAGES = 328_000
COCO_HOURS = {"labeling": 20_000, "spotting": 10_000, "total": 70_000}
COCO_HOURS_PER_SEGMENTATION = 22 / 1000


def coco_effort(*, images: int, instances: int) -> dict[str, float]:
    """COCO's worker-hours scaled to this many images (segmentation: to these instances)."""
    share = images / COCO_IMAGES
    return {
        "labeling": round(COCO_HOURS["labeling"] * share, 3),
        "spotting": round(COCO_HOURS["spotting"] * share, 3),
        "segmentation": round(COCO_HOURS_PER_SEGMENTATION * instances, 3),
        "total": round(COCO_HOURS["total"] * share, 3),
    }


def score(*, gt: GroundTruth, export: dict) -> dict[str, Any]:
    by_name = {image.file_name: image for image in gt.images}
    image_of = {}
    for entry in export.get("images", []):
        if entry["file_name"] in by_name:
            image_of[entry["id"]] = by_name[entry["file_name"]]
    exported: dict[tuple[int, int], list[dict]] = {}
    for ann in export.get("annotations", []):
        image = image_of.get(ann["image_id"])
        if image is not None:
            exported.setdefault((image.id, ann["category_id"]), []).append(ann)
    truth_pairs = {(image.id, c) for image in gt.images for c in image.category_ids}
    found_pairs = set(exported)
    hit = truth_pairs & found_pairs

    ious: list[float] = []
    gt_total = matched = crowd_found = double = gt_crowds = crowds_found = 0
    results = []
    for image in gt.images:
        h, w = image.height, image.width
        for category_id in sorted({c for (i, c) in found_pairs | truth_pairs if i == image.id}):
            truth = image.of_category(category_id, crowd=False)
            anns = exported.get((image.id, category_id), [])
            dts = [a for a in anns if not a.get("iscrowd")]
            crowds = [a for a in anns if a.get("iscrowd")]
            results += [
                {"image_id": image.id, "category_id": category_id,
                 "segmentation": a["segmentation"], "score": 1.0}
                for a in dts
            ]  # fmt: skip
            gt_total += len(truth)
            region = np.zeros((h, w), dtype=bool)
            for a in crowds:
                region |= mask_utils.decode(to_rle(a["segmentation"], h, w)).astype(bool)
            for crowd in image.of_category(category_id, crowd=True):
                gt_crowds += 1
                crowds_found += _half_inside(crowd.mask(h, w), region)
            if not truth:
                continue
            gt_rles = [inst.rle(h, w) for inst in truth]
            taken_gt: set[int] = set()
            if dts:
                dt_rles = [to_rle(a["segmentation"], h, w) for a in dts]
                matrix = np.asarray(mask_utils.iou(dt_rles, gt_rles, [0] * len(gt_rles)))
                order = sorted(
                    ((matrix[d, g], d, g) for d in range(len(dts)) for g in range(len(truth))),
                    reverse=True,
                )
                taken_dt: set[int] = set()
                for iou, d, g in order:
                    if iou < MATCH_IOU:
                        break
                    if d in taken_dt or g in taken_gt:
                        continue
                    taken_dt.add(d)
                    taken_gt.add(g)
                    ious.append(float(iou))
                double += sum(
                    1 for d in range(len(dts)) if d not in taken_dt and matrix[d].max() >= MATCH_IOU
                )
            matched += len(taken_gt)
            if crowds:
                crowd_found += sum(
                    _half_inside(inst.mask(h, w), region)
                    for g, inst in enumerate(truth)
                    if g not in taken_gt
                )
    ap = ap50 = 0.0
    if results:
        evaluated = evaluate_coco(gt.as_coco(), results, "segm")
        ap, ap50 = float(evaluated.stats[0]), float(evaluated.stats[1])
    return {
        "category_recall": _ratio(len(hit), len(truth_pairs)),
        "category_precision": _ratio(len(hit), len(found_pairs)),
        "instance_recall": _ratio(matched, gt_total),
        "crowd_aware_instance_recall": _ratio(matched + crowd_found, gt_total),
        "median_mask_iou": round(statistics.median(ious), 4) if ious else 0.0,
        "mean_mask_iou": round(statistics.fmean(ious), 4) if ious else 0.0,
        "ap": round(ap, 4),
        "ap50": round(ap50, 4),
        "exported_images": len(image_of),
        "exported_instances": sum(
            len([a for a in v if not a.get("iscrowd")]) for v in exported.values()
        ),
        "exported_crowd_regions": sum(
            len([a for a in v if a.get("iscrowd")]) for v in exported.values()
        ),
        "double_outlined": double,
        "gt_crowd_regions": gt_crowds,
        "crowd_regions_found": crowds_found,
    }


def _half_inside(mask: np.ndarray, region: np.ndarray) -> bool:
    area = int(mask.sum())
    return area > 0 and int((mask & region).sum()) >= 0.5 * area


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


HEADLINE = [
    "category_recall", "category_precision", "instance_recall", "crowd_aware_instance_recall",
    "median_mask_iou", "mean_mask_iou", "ap", "ap50", "exported_instances",
    "exported_crowd_regions", "gt_crowd_regions", "crowd_regions_found", "double_outlined", "lost_answers", "duplicate_tasks",
    "duplicate_annotations", "blocked_workers", "wall_seconds",
]  # fmt: skip


def table(report: dict[str, Any]) -> str:
    """The report as aligned text: the headline figures, then effort per stage."""
    lines = [
        f"simulated crowd: {report['images']} images, {report['gt_instances']} instances, "
        f"{report['workers']} workers ({report['spammers']} spammers), seed {report['seed']}",
        "",
    ]
    lines += [f"  {name:<30} {report.get(name)}" for name in HEADLINE]
    lines += ["", f"  {'stage':<14} {'answers':>8} {'worker-h':>10} {'COCO-scaled h':>14}"]
    effort = report.get("coco_effort", {})
    for stage, answers in report["answers_per_stage"].items():
        hours = report["worker_hours"].get(stage, 0.0)
        lines.append(f"  {stage:<14} {answers:>8} {hours:>10.2f} {effort.get(stage, ''):>14}")
    lines.append(
        f"  {'total':<14} {sum(report['answers_per_stage'].values()):>8} "
        f"{report['worker_hours'].get('total', 0.0):>10.2f} {effort.get('total', ''):>14}"
    )
    extras = ["refused_answers", "segmenter_saw", "admin_nudges", "open_tasks_left"]
    lines += [""] + [f"  {name:<18} {report.get(name)}" for name in extras]
    return "\n".join(lines)
