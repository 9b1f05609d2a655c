"""FCN semantic segmentation metrics, against the paper's formulas written out by hand."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipelines.coco.semantic import SemanticConfusion, evaluate_label_folders, read_label_map

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coco_samples" / "panoptic"


def fcn_by_the_formulas(gt, pred, n_classes, ignore=255):
    """Long et al. section 5, straight from n_ij, t_i with plain loops."""
    n = [[0] * n_classes for _ in range(n_classes)]
    for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist(), strict=True):
        if g == ignore or not 0 <= g < n_classes:
            continue
        n[g][p] += 1
    t = [sum(row) for row in n]
    column = [sum(n[j][i] for j in range(n_classes)) for i in range(n_classes)]
    accuracies = [n[i][i] / t[i] for i in range(n_classes) if t[i]]
    ius = [n[i][i] / (t[i] + column[i] - n[i][i]) for i in range(n_classes) if t[i] + column[i]]
    total = sum(t)
    return {
        "pixel_accuracy": sum(n[i][i] for i in range(n_classes)) / total,
        "mean_accuracy": sum(accuracies) / len(accuracies),
        "mean_iu": sum(ius) / len(ius),
        "frequency_weighted_iu": sum(
            t[i] * n[i][i] / (t[i] + column[i] - n[i][i]) for i in range(n_classes) if t[i]
        )
        / total,
    }


def test_hand_computed_example():
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 255], [2, 2, 2, 2]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 0, 3], [2, 2, 2, 3]])
    confusion = SemanticConfusion(n_classes=4, ignore_label=255)
    confusion.update(gt, pred)
    metrics = confusion.metrics()
    # 11 counted pixels, 8 correct.  Class 0: 3/4, IU 3/5; class 1: 2/3, IU 2/4; class 2: 3/4,
    # IU 3/4; class 3 absent from the ground truth but predicted once: IU 0, no accuracy.
    assert metrics["pixel_accuracy"] == pytest.approx(8 / 11)
    assert metrics["mean_accuracy"] == pytest.approx((3 / 4 + 2 / 3 + 3 / 4) / 3)
    assert metrics["mean_iu"] == pytest.approx((3 / 5 + 2 / 4 + 3 / 4 + 0) / 4)
    assert metrics["frequency_weighted_iu"] == pytest.approx(
        (4 * 3 / 5 + 3 * 2 / 4 + 4 * 3 / 4) / 11
    )


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    n_classes=st.integers(1, 6),
)
def test_generated_label_maps_match_the_formulas(data, shape, n_classes):
    labels = st.sampled_from([*range(n_classes), 255])
    gt = data.draw(hnp.arrays(np.int64, shape, elements=labels))
    pred = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, n_classes - 1)))
    confusion = SemanticConfusion(n_classes)
    half = shape[0] // 2
    confusion.update(gt[:half], pred[:half])  # accumulating over two "images"
    confusion.update(gt[half:], pred[half:])
    metrics = confusion.metrics()
    if (gt != 255).sum() == 0:
        assert metrics["pixels"] == 0 and metrics["pixel_accuracy"] is None
        return
    expected = fcn_by_the_formulas(gt, pred, n_classes)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-12), name


def test_prediction_outside_the_classes_is_an_error():
    confusion = SemanticConfusion(n_classes=3)
    with pytest.raises(ValueError, match="predicted label 7 is outside"):
        confusion.update(np.zeros((2, 2), int), np.full((2, 2), 7))


def test_label_folders_from_panopticapi_two_channel_pngs(tmp_path):
    from PIL import Image

    gt_dir = FIXTURES / "panoptic_examples_2ch_format"
    # Prediction: the ground truth with the top 40 rows relabelled as class 3 (a wrong class).
    truth = {}
    for path in sorted(gt_dir.glob("*.png")):
        labels = read_label_map(path)
        truth[path.name] = labels
        predicted = labels.copy()
        predicted[:40] = 3
        Image.fromarray(predicted.astype(np.uint8)).save(tmp_path / path.name)
    metrics = evaluate_label_folders(gt_dir, tmp_path, n_classes=201)
    gt_all = np.concatenate([labels.ravel() for labels in truth.values()])
    pred_all = np.concatenate([read_label_map(tmp_path / name).ravel() for name in truth])
    expected = fcn_by_the_formulas(gt_all, pred_all, 201)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-12)
    assert 0.5 < metrics["pixel_accuracy"] < 1
