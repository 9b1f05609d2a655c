"""Command line for the COCO evaluator.

    python -m pipelines.coco.evaluate --gt gt.json --dt results.json --iou-type segm [--json out.json]
        [--per-category] [--plots DIR]
    python -m pipelines.coco.evaluate proposals --gt gt.json --dt proposals.json [--iou-type bbox] [--json out.json]
    python -m pipelines.coco.evaluate semantic --gt-dir GT_PNGS --pred-dir PRED_PNGS --num-classes N
        [--ignore-label 255] [--json out.json]
    python -m pipelines.coco.evaluate panoptic --gt-json gt.json --gt-dir GT_PNGS --pred-json pred.json
        --pred-dir PRED_PNGS [--json out.json]

Detection evaluation prints pycocotools' 12-line summary.  Inputs that cannot be evaluated
(unknown image or category ids, malformed boxes or masks, missing scores, unreadable files)
end with one line naming the problem on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipelines.coco.cocoeval import (
    IOU_TYPES,
    STAT_NAMES,
    Detections,
    GroundTruth,
    ResultsFormatError,
    category_table,
    evaluate,
    load_ground_truth,
    load_results_file,
)
from pipelines.coco.panoptic import PanopticFormatError, evaluate_panoptic, summary_lines
from pipelines.coco.proposal_recall import evaluate_proposals
from pipelines.coco.semantic import evaluate_label_folders

SUBCOMMANDS = ("detection", "proposals", "semantic", "panoptic")
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """An input problem reported as one line with exit code 2."""


def _read_json(path: str, what: str) -> Any:
    try:
        with open(path) as handle:
            return json.load(handle)
    except OSError as error:
        raise InputError(f"{what} {path}: {error.strerror or error}") from error
    except json.JSONDecodeError as error:
        raise InputError(f"{what} {path}: not valid JSON ({error})") from error


def _read_results(ground_truth: GroundTruth, path: str, iou_type: str) -> Detections:
    """A results file read as it streams, one entry at a time: a file of millions of
    detections never exists as Python objects (memory grows with the detections' arrays)."""
    try:
        with open(path, "rb") as handle:
            return load_results_file(ground_truth, handle, iou_type)
    except OSError as error:
        raise InputError(f"results {path}: {error.strerror or error}") from error


def _write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")


def run_detection(args: argparse.Namespace) -> int:
    ground_truth = load_ground_truth(_read_json(args.gt, "ground truth"))
    detections = _read_results(ground_truth, args.dt, args.iou_type)
    result = evaluate(ground_truth, detections, args.iou_type)
    print("\n".join(result.summary_lines()))
    table = category_table(result)
    if args.per_category:
        print()
        print(_format_category_table(table))
    payload = {
        "iou_type": args.iou_type,
        "stats": [float(v) for v in result.stats],
        "stat_names": STAT_NAMES,
        "per_category": table,
        "images": len(result.image_ids),
        "detections": len(detections.score),
    }
    if args.plots:
        from pipelines.coco.plots import write_plots  # matplotlib loads only for --plots (no cycle)

        payload["plots"] = [str(path) for path in write_plots(result, Path(args.plots))]
    _write_json(args.json, payload)
    return 0


def _format_category_table(rows: list[dict]) -> str:
    columns = [c for c in ("AP", "AP50", "AP75", "APs", "APm", "APl") if rows and c in rows[0]]
    width = max([len("category"), *(len(str(row["name"])) for row in rows)])
    lines = [f"{'category':<{width}} " + " ".join(f"{c:>6}" for c in columns)]
    for row in rows:
        values = " ".join(f"{'-':>6}" if row[c] is None else f"{row[c]:6.3f}" for c in columns)
        lines.append(f"{row['name']:<{width}} {values}")
    return "\n".join(lines)


def run_proposals(args: argparse.Namespace) -> int:

    ground_truth = load_ground_truth(_read_json(args.gt, "ground truth"))
    recall = evaluate_proposals(ground_truth, _read_json(args.dt, "proposals"), args.iou_type)
    print("\n".join(recall.summary_lines()))
    _write_json(args.json, {"iou_type": args.iou_type, "metrics": recall.metrics})
    return 0


def run_semantic(args: argparse.Namespace) -> int:

    try:
        metrics = evaluate_label_folders(
            Path(args.gt_dir), Path(args.pred_dir), args.num_classes, args.ignore_label
        )
    except (ValueError, OSError) as error:
        raise InputError(str(error)) from error
    for name in ("pixel_accuracy", "mean_accuracy", "mean_iu", "frequency_weighted_iu"):
        value = metrics[name]
        print(f" {name:<22} = {'-' if value is None else f'{value:0.4f}'}")
    _write_json(args.json, metrics)
    return 0


def run_panoptic(args: argparse.Namespace) -> int:

    try:
        results = evaluate_panoptic(
            Path(args.gt_json), Path(args.gt_dir), Path(args.pred_json), Path(args.pred_dir)
        )
    except (PanopticFormatError, OSError, KeyError, json.JSONDecodeError) as error:
        raise InputError(str(error)) from error
    print("\n".join(summary_lines(results)))
    payload = {name: results[name] for name in ("All", "Things", "Stuff")}
    payload["per_class"] = {str(k): v for k, v in results["per_class"].items()}
    _write_json(args.json, payload)
    return 0


def build_parser(command: str) -> argparse.ArgumentParser:
    prog = "python -m pipelines.coco.evaluate" + ("" if command == "detection" else f" {command}")
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    if command in ("detection", "proposals"):
        parser.add_argument("--gt", required=True, help="COCO instances JSON (ground truth)")
        parser.add_argument("--dt", required=True, help="COCO results JSON (a list of detections)")
        parser.add_argument("--iou-type", choices=IOU_TYPES, default="bbox")
    if command == "detection":
        parser.add_argument(
            "--per-category", action="store_true", help="print the per-category AP table"
        )
        parser.add_argument(
            "--plots", help="write precision-recall and per-category AP PNGs to this folder"
        )
    if command == "semantic":
        parser.add_argument("--gt-dir", required=True, help="folder of ground-truth label PNGs")
        parser.add_argument(
            "--pred-dir", required=True, help="folder of predicted label PNGs (same names)"
        )
        parser.add_argument("--num-classes", type=int, required=True)
        parser.add_argument("--ignore-label", type=int, default=255)
    if command == "panoptic":
        parser.add_argument("--gt-json", required=True)
        parser.add_argument("--gt-dir", required=True)
        parser.add_argument("--pred-json", required=True)
        parser.add_argument("--pred-dir", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in SUBCOMMANDS else "detection"
    args = build_parser(command).parse_args(argv)
    runner = {
        "detection": run_detection,
        "proposals": run_proposals,
        "semantic": run_semantic,
        "panoptic": run_panoptic,
    }
    try:
        return runner[command](args)
    except (InputError, ResultsFormatError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
