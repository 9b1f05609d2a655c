"""Benchmark: our COCO evaluator vs pycocotools vs faster-coco-eval, on the same files.

    python benchmarks/bench_evaluator.py                 # the full val2017-sized case
    python benchmarks/bench_evaluator.py --images 500    # a quick run

The script generates the synthetic case deterministically (benchmarks/synthetic_coco.py, seeded),
writes ``gt.json`` and ``results.json`` once, then runs each evaluator in its own subprocess,
one after the other, on those files.  A child imports its library first, then times from
reading the JSON files to having the 12 summary numbers (load + evaluate + accumulate +
summarize), the CPU time of that span (``time.process_time``, all threads: less sensitive than
wall time to other load on the machine, and it shows multi-threading), and its peak resident
memory from ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (so it includes the interpreter and
the parsed JSON, for every evaluator alike).  The parent
checks that all evaluators print the same 12 numbers and prints a Markdown table.

Needs requirements-bench.txt (faster-coco-eval); an evaluator whose package is missing is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EVALUATORS = ("ours", "pycocotools", "faster-coco-eval")
IOU_TYPES = ("bbox", "segm")


def run_child(evaluator: str, gt_path: str, results_path: str, iou_type: str) -> dict:
    """Evaluate once in this process and return wall seconds, peak RSS and the stats."""
    sys.path.insert(0, str(REPO_ROOT))
    if evaluator == "ours":
        from pipelines.coco.cocoeval import evaluate, load_ground_truth, load_results

        started, cpu_started = time.perf_counter(), time.process_time()
        with open(gt_path) as gt_file:
            ground_truth = load_ground_truth(json.load(gt_file))
        with open(results_path) as results_file:
            detections = load_results(ground_truth, json.load(results_file), iou_type)
        stats = evaluate(ground_truth, detections, iou_type).stats
    else:
        if evaluator == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval as Evaluator
        else:
            from faster_coco_eval import COCO
            from faster_coco_eval import COCOeval_faster as Evaluator
        started, cpu_started = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO(gt_path)
            coco_dt = coco_gt.loadRes(results_path)
            coco_eval = Evaluator(coco_gt, coco_dt, iou_type)
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        stats = coco_eval.stats
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # all threads of this process
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mib": peak_kib / 1024,
        "stats": [float(v) for v in stats],
    }


def available(evaluator: str) -> bool:
    module = {
        "ours": "pycocotools",
        "pycocotools": "pycocotools",
        "faster-coco-eval": "faster_coco_eval",
    }
    try:
        __import__(module[evaluator])
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--images", type=int, default=5000, help="images in the synthetic case (default 5000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iou-types", nargs="+", choices=IOU_TYPES, default=list(IOU_TYPES))
    parser.add_argument("--evaluators", nargs="+", choices=EVALUATORS, default=list(EVALUATORS))
    parser.add_argument(
        "--workdir", help="keep gt.json/results.json here (default: a temporary folder)"
    )
    parser.add_argument(
        "--child",
        nargs=4,
        metavar=("EVALUATOR", "GT", "RESULTS", "IOU_TYPE"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_child(*args.child)))
        return 0

    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(args.workdir or temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        gt_path, results_path = workdir / "gt.json", workdir / "results.json"
        sys.path.insert(0, str(REPO_ROOT))
        from benchmarks.synthetic_coco import make_case

        started = time.perf_counter()
        ground_truth, results = make_case(
            args.images, seed=args.seed, with_masks="segm" in args.iou_types
        )
        gt_path.write_text(json.dumps(ground_truth))
        results_path.write_text(json.dumps(results))
        print(
            f"# synthetic case: {len(ground_truth['images'])} images, {len(ground_truth['annotations'])} "
            f"ground-truth objects, {len(results)} detections, seed {args.seed} "
            f"(generated in {time.perf_counter() - started:.1f} s; results.json "
            f"{results_path.stat().st_size / 2**20:.0f} MiB)",
            flush=True,
        )
        del ground_truth, results

        rows = []
        for iou_type in args.iou_types:
            measured = {}
            for evaluator in args.evaluators:
                if not available(evaluator):
                    print(
                        f"# {evaluator}: not installed, skipped (pip install -r requirements-bench.txt)"
                    )
                    continue
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    evaluator,
                    str(gt_path),
                    str(results_path),
                    iou_type,
                ]
                completed = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PYTHONHASHSEED": "0"},
                )
                if completed.returncode != 0:
                    print(f"# {evaluator} {iou_type} failed:\n{completed.stderr}")
                    continue
                measured[evaluator] = json.loads(completed.stdout.strip().splitlines()[-1])
                print(
                    f"# {iou_type} {evaluator}: {measured[evaluator]['wall_s']:.2f} s, "
                    f"{measured[evaluator]['cpu_s']:.2f} s CPU, {measured[evaluator]['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
            reference = measured.get("pycocotools", {}).get("stats")
            for evaluator, figures in measured.items():
                difference = (
                    max(abs(a - b) for a, b in zip(figures["stats"], reference, strict=True))
                    if reference
                    else None
                )
                rows.append((iou_type, evaluator, figures, measured, difference))

        print()
        print(
            "| iou type | evaluator | wall s | CPU s | peak RSS MiB | speed-up vs pycocotools | max abs diff of stats vs pycocotools |"
        )
        print("|---|---|---:|---:|---:|---:|---:|")
        for iou_type, evaluator, figures, measured, difference in rows:
            base = measured.get("pycocotools")
            speedup = f"{base['wall_s'] / figures['wall_s']:.1f}x" if base else "-"
            diff_text = "-" if difference is None else f"{difference:.1e}"
            print(
                f"| {iou_type} | {evaluator} | {figures['wall_s']:.2f} | {figures['cpu_s']:.2f} "
                f"| {figures['peak_rss_mib']:.0f} | {speedup} | {diff_text} |"
            )
        print()
        for iou_type, evaluator, figures, _, _ in rows:
            print(f"# {iou_type} {evaluator} stats: {[round(v, 6) for v in figures['stats']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
