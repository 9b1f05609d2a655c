"""The command line: summary text, --json, and one-line errors with exit code 2."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pipelines.coco.evaluate import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coco_samples"
GT = FIXTURES / "instances_val2014_100.json"
SEGM_RESULTS = FIXTURES / "instances_val2014_fakesegm100_results.json"
BBOX_RESULTS = FIXTURES / "instances_val2014_fakebbox100_results.json"


def pycocotools_summary(iou_type, results_path):
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        coco_gt = COCO(str(GT))
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(str(results_path)), iou_type)
        coco_eval.evaluate()
        coco_eval.accumulate()
        start = len(printed.getvalue())
        coco_eval.summarize()
    return printed.getvalue()[start:], coco_eval.stats


def test_cli_prints_pycocotools_summary_and_writes_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    code = main(
        ["--gt", str(GT), "--dt", str(SEGM_RESULTS), "--iou-type", "segm", "--json", str(out)]
    )
    assert code == 0
    expected_text, expected_stats = pycocotools_summary("segm", SEGM_RESULTS)
    assert capsys.readouterr().out == expected_text
    payload = json.loads(out.read_text())
    assert payload["stats"] == pytest.approx(list(expected_stats), abs=1e-12)
    person = next(row for row in payload["per_category"] if row["category_id"] == 1)
    assert person["name"] == "person"
    assert 0 < person["AP"] < 1


def test_cli_runs_as_a_module(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.coco.evaluate",
            "--gt",
            str(GT),
            "--dt",
            str(BBOX_RESULTS),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == pycocotools_summary("bbox", BBOX_RESULTS)[0]


def test_cli_per_category_table_and_plots(tmp_path, capsys):
    code = main(
        ["--gt", str(GT), "--dt", str(BBOX_RESULTS), "--per-category", "--plots", str(tmp_path)]
    )
    assert code == 0
    output = capsys.readouterr().out
    assert "category" in output and "person" in output
    pngs = sorted(tmp_path.glob("*.png"))
    assert (tmp_path / "pr_bbox_all.png") in pngs and (
        tmp_path / "ap_per_category_bbox.png"
    ) in pngs
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in pngs)


GOOD = {"image_id": 999, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.5}
# A real mask of image 999 (a 10 x 10 square): its runs cover all 347 x 640 pixels.
RLE_999 = {"size": [347, 640], "counts": "h\\3:a:00000000000000000jRb6"}


@pytest.mark.parametrize(
    ("bad_entry", "iou_type", "message"),
    [
        (
            {**GOOD, "image_id": 123456789},
            "bbox",
            "results[1]: image_id 123456789 is not in the ground truth",
        ),
        (
            {**GOOD, "category_id": 1000},
            "bbox",
            "results[1]: category_id 1000 is not in the ground truth",
        ),
        ({**GOOD, "bbox": [1, 2, -3, 4]}, "bbox", "results[1]: bbox must be"),
        ({**GOOD, "bbox": [1, 2, 3]}, "bbox", "results[1]: bbox must be"),
        ({**GOOD, "bbox": [1, 2, "x", 4]}, "bbox", "results[1]: bbox must be"),
        ({k: v for k, v in GOOD.items() if k != "bbox"}, "bbox", "results[1]: missing bbox"),
        ({k: v for k, v in GOOD.items() if k != "score"}, "bbox", "results[1]: missing score"),
        ({**GOOD, "score": "high"}, "bbox", "results[1]: score must be a finite number"),
        ({**GOOD, "score": None}, "bbox", "results[1]: score must be a finite number"),
        (
            {**GOOD, "segmentation": {"size": [10, 10], "counts": "0"}},
            "segm",
            "results[1]: segmentation size [10, 10]",
        ),
        (
            {**GOOD, "segmentation": {"size": [347, 640], "counts": [5, 3]}},
            "segm",
            "results[1]: segmentation RLE runs cover 8 pixels",
        ),
        ({**GOOD, "segmentation": "mask"}, "segm", "results[1]: segmentation must be"),
        ("not an object", "bbox", "results[1]: expected an object"),
    ],
)
def test_malformed_results_name_the_entry_and_exit_2(
    tmp_path, capsys, bad_entry, iou_type, message
):
    first = {**GOOD, "segmentation": RLE_999} if iou_type == "segm" else GOOD
    results = tmp_path / "results.json"
    results.write_text(json.dumps([first, bad_entry]))
    code = main(["--gt", str(GT), "--dt", str(results), "--iou-type", iou_type])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error: " + message), captured.err
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_segmentation_only_results_must_have_sizes_that_fit(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            [
                {
                    "image_id": 999,
                    "category_id": 1,
                    "segmentation": {"size": [3, 3], "counts": "0"},
                    "score": 1,
                }
            ]
        )
    )
    assert main(["--gt", str(GT), "--dt", str(results), "--iou-type", "bbox"]) == 2
    assert (
        "results[0]: segmentation size [3, 3] does not match image 999 (347x640)"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize("content", ["not json", '{"annotations": []}'])
def test_unreadable_results_file_exits_2(tmp_path, capsys, content):
    results = tmp_path / "results.json"
    results.write_text(content)
    assert main(["--gt", str(GT), "--dt", str(results)]) == 2
    assert capsys.readouterr().err.startswith("error: results")


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["--gt", str(tmp_path / "nope.json"), "--dt", str(BBOX_RESULTS)]) == 2
    assert "ground truth" in capsys.readouterr().err


def test_panoptic_and_semantic_subcommands(tmp_path, capsys):
    panoptic = FIXTURES / "panoptic"
    out = tmp_path / "pq.json"
    code = main(
        [
            "panoptic",
            "--gt-json", str(panoptic / "panoptic_examples.json"),
            "--gt-dir", str(panoptic / "panoptic_examples"),
            "--pred-json", str(panoptic / "panoptic_examples.json"),
            "--pred-dir", str(panoptic / "panoptic_examples"),
            "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    assert json.loads(out.read_text())["All"]["pq"] == 1.0
    assert "All" in capsys.readouterr().out
    labels = str(panoptic / "panoptic_examples_2ch_format")
    assert main(["semantic", "--gt-dir", labels, "--pred-dir", labels, "--num-classes", "201"]) == 0
    assert "mean_iu                = 1.0000" in capsys.readouterr().out
    assert (
        main(["semantic", "--gt-dir", labels, "--pred-dir", str(tmp_path), "--num-classes", "201"])
        == 2
    )
    assert "000000142238.png: no prediction" in capsys.readouterr().err
