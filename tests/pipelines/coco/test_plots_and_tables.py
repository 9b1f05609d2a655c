"""Per-category AP tables and precision-recall curves."""

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.coco.cocoeval import category_table, evaluate_coco
from pipelines.coco.plots import plot_category_ap, plot_precision_recall, precision_recall_curve

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coco_samples"


@pytest.fixture(scope="module")
def result():
    return evaluate_coco(
        json.loads((FIXTURES / "instances_val2014_100.json").read_text()),
        json.loads((FIXTURES / "instances_val2014_fakebbox100_results.json").read_text()),
        "bbox",
    )


def test_category_table_rows_are_means_of_the_precision_array(result):
    rows = {row["category_id"]: row for row in category_table(result)}
    assert len(rows) == 80
    k = result.category_ids.index(1)
    person = result.precision[:, :, k, 0, 2]
    assert rows[1]["AP"] == pytest.approx(person.mean(), abs=1e-12)
    assert rows[1]["AP50"] == pytest.approx(person[0].mean(), abs=1e-12)
    # The mean of the per-category APs is the summary AP (all categories have GT here or are None).
    known = [row["AP"] for row in rows.values() if row["AP"] is not None]
    assert np.mean(known) == pytest.approx(result.stats[0], abs=1e-12)
    without_gt = [
        c
        for c in result.category_ids
        if (result.precision[:, :, result.category_ids.index(c), 0, 2] == -1).all()
    ]
    assert all(rows[c]["AP"] is None for c in without_gt)


def test_precision_recall_curve_averages_categories_with_ground_truth(result):
    curve = precision_recall_curve(result)
    assert curve.shape == (10, 101)
    precision = result.precision[0, 50, :, 0, -1]
    assert curve[0, 50] == pytest.approx(precision[precision > -1].mean(), abs=1e-12)
    one = precision_recall_curve(result, category_id=1)
    assert one[0, 50] == result.precision[0, 50, result.category_ids.index(1), 0, -1]


def test_pngs_are_written(result, tmp_path):
    for path in (
        plot_precision_recall(result, tmp_path / "pr.png"),
        plot_precision_recall(result, tmp_path / "pr_person.png", category_id=1),
        plot_category_ap(result, tmp_path / "ap.png"),
    ):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
