"""PNG figures of an evaluation: precision-recall curves and the per-category AP table.

Drawn with the site's one charting module, pipelines/coco/charts.py (matplotlib, Agg).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.coco import charts
from pipelines.coco.cocoeval import EvalResult, category_table


def precision_recall_curve(
    result: EvalResult, category_id: int | None = None, area: str = "all"
) -> np.ndarray:
    """[T, R] interpolated precision at the largest maxDets: one category, or the mean over
    the categories that have ground truth (NaN where none has)."""
    area_index = list(result.area_labels).index(area)
    precision = result.precision[:, :, :, area_index, -1]
    if category_id is not None:
        precision = precision[:, :, [result.category_ids.index(category_id)]]
    precision = np.where(precision > -1, precision, np.nan)
    with np.errstate(invalid="ignore"):
        counted = (~np.isnan(precision)).sum(axis=2)
        total = np.nansum(precision, axis=2)
        return np.where(counted > 0, total / np.maximum(counted, 1), np.nan)


def plot_precision_recall(
    result: EvalResult, path: Path, category_id: int | None = None, area: str = "all"
) -> Path:
    """One curve per IoU threshold, as pycocotools' demo draws them."""
    curves = precision_recall_curve(result, category_id, area)
    figure, axes = charts.figure(6, 5)
    for threshold, curve in zip(result.iou_thresholds, curves, strict=True):
        axes.plot(result.recall_thresholds, curve, label=f"IoU={threshold:0.2f}")
    name = (
        "all categories"
        if category_id is None
        else result.category_names.get(category_id, str(category_id))
    )
    axes.set_title(
        f"Precision-recall ({result.iou_type}, {name}, area={area}, maxDets={result.max_detections[-1]})"
    )
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.grid(True)
    axes.legend(loc="lower left", fontsize="small")
    return charts.save_png(figure, path)


def plot_category_ap(result: EvalResult, path: Path) -> Path:
    """Horizontal bars of AP@[.5:.95] per category (categories without ground truth left out)."""
    rows = [row for row in category_table(result) if row.get("AP") is not None]
    rows.sort(key=lambda row: row["AP"])
    figure, axes = charts.figure(7, max(2.5, 0.22 * len(rows) + 1))
    axes.barh([row["name"] for row in rows], [row["AP"] for row in rows], color="#4c72b0")
    axes.set_xlim(0, 1)
    axes.set_xlabel("AP @[IoU=0.50:0.95]")
    axes.set_title(f"Per-category AP ({result.iou_type})")
    axes.tick_params(axis="y", labelsize="small")
    return charts.save_png(figure, path)


def write_plots(result: EvalResult, folder: Path) -> list[Path]:
    """The overall PR curves, the per-category AP bars, and one PR figure per category."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        plot_precision_recall(result, folder / f"pr_{result.iou_type}_all.png"),
        plot_category_ap(result, folder / f"ap_per_category_{result.iou_type}.png"),
    ]
    for row in category_table(result):
        if row.get("AP") is not None and row["category_id"] != -1:
            written.append(
                plot_precision_recall(
                    result,
                    folder / f"pr_{result.iou_type}_cat{row['category_id']}.png",
                    row["category_id"],
                )
            )
    return written
