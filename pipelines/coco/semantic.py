"""Semantic segmentation metrics of FCN (Long, Shelhamer, Darrell 2015, section 5).

With n_ij the number of pixels of class i predicted as class j and t_i = sum_j n_ij:

* pixel accuracy           sum_i n_ii / sum_i t_i
* mean accuracy            (1/n_cl) sum_i n_ii / t_i
* mean IU                  (1/n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)
* frequency weighted IU    (sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)

computed as the authors' ``score.py`` does: classes whose ratio is 0/0 (absent from both the
ground truth and the prediction, or from the ground truth for accuracy) are left out of the
means (``np.nanmean``).  Ground-truth pixels equal to the ignore label (255 by default) or
outside [0, n_classes) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_IGNORE_LABEL = 255


@dataclass
class SemanticConfusion:
    """Accumulates the confusion matrix n_ij over image pairs."""

    n_classes: int
    ignore_label: int | None = DEFAULT_IGNORE_LABEL
    matrix: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.matrix = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)

    def update(self, ground_truth: np.ndarray, prediction: np.ndarray, name: str = "") -> None:
        ground_truth = np.asarray(ground_truth)
        prediction = np.asarray(prediction)
        where = f"{name}: " if name else ""
        if ground_truth.shape != prediction.shape:
            raise ValueError(
                f"{where}prediction shape {prediction.shape} != ground truth {ground_truth.shape}"
            )
        counted = (ground_truth >= 0) & (ground_truth < self.n_classes)
        if self.ignore_label is not None:
            counted &= ground_truth != self.ignore_label
        predicted = prediction[counted].astype(np.int64)
        if predicted.size and (predicted.min() < 0 or predicted.max() >= self.n_classes):
            bad = predicted[(predicted < 0) | (predicted >= self.n_classes)][0]
            raise ValueError(f"{where}predicted label {bad} is outside [0, {self.n_classes})")
        actual = ground_truth[counted].astype(np.int64)
        self.matrix += np.bincount(
            actual * self.n_classes + predicted, minlength=self.n_classes**2
        ).reshape(self.n_classes, self.n_classes)

    def metrics(self) -> dict:
        hist = self.matrix.astype(np.float64)
        correct = np.diag(hist)
        per_gt_class = hist.sum(axis=1)  # t_i
        per_predicted_class = hist.sum(axis=0)  # sum_j n_ji
        with np.errstate(divide="ignore", invalid="ignore"):
            class_accuracy = correct / per_gt_class
            iu = correct / (per_gt_class + per_predicted_class - correct)
            pixel_accuracy = correct.sum() / hist.sum()
        frequency = per_gt_class / hist.sum() if hist.sum() else per_gt_class
        present = frequency > 0
        return {
            "pixel_accuracy": _float(pixel_accuracy),
            "mean_accuracy": _nanmean(class_accuracy),
            "mean_iu": _nanmean(iu),
            "frequency_weighted_iu": _float((frequency[present] * iu[present]).sum())
            if hist.sum()
            else None,
            "per_class_iu": [_float(v) for v in iu],
            "per_class_accuracy": [_float(v) for v in class_accuracy],
            "pixels": int(hist.sum()),
        }


def _float(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _nanmean(values: np.ndarray) -> float | None:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else None


def read_label_map(path: Path) -> np.ndarray:
    """A label PNG: single channel, or the first channel of a multi-channel image (such as
    panopticapi's 2-channel format, whose channel 0 is the category id)."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image)
    return array if array.ndim == 2 else array[..., 0]


def evaluate_label_folders(
    gt_dir: Path, pred_dir: Path, n_classes: int, ignore_label: int | None = DEFAULT_IGNORE_LABEL
) -> dict:
    """Every PNG in gt_dir against the PNG of the same name in pred_dir."""
    gt_paths = sorted(Path(gt_dir).glob("*.png"))
    if not gt_paths:
        raise ValueError(f"no PNG label maps in {gt_dir}")
    confusion = SemanticConfusion(n_classes, ignore_label)
    for gt_path in gt_paths:
        pred_path = Path(pred_dir) / gt_path.name
        if not pred_path.exists():
            raise ValueError(f"{gt_path.name}: no prediction {pred_path}")
        confusion.update(read_label_map(gt_path), read_label_map(pred_path), gt_path.name)
    return confusion.metrics()
