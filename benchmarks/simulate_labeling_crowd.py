"""Simulate a labeling crowd of known accuracy and measure it the way cocoforge does.

Each image holds 1-6 of 80 categories (COCO averages 3.5 per image). A worker misses each
present category with probability `miss` and, per image, adds one absent category with
probability `add`. So a worker's true recall is 1 - miss and true precision is about
n(1 - miss) / (n(1 - miss) + add) for n present categories.

The measurement is cocoforge's own (annotation/services/worker_quality.py): leave-one-out
against the union of the other workers (thesis Fig. 2.4b), and the union of k workers
against ground truth (Fig. 2.4a, with the truth as the single "expert").

    .venv/bin/python benchmarks/simulate_labeling_crowd.py [--images 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

CATEGORIES = list(range(1, 81))


@dataclass(frozen=True)
class CrowdWorker:
    name: str
    miss: float  # probability of missing each present category
    add: float  # probability of adding one absent category per image


def default_crowd() -> list[CrowdWorker]:
    return [
        CrowdWorker("expert-like", 0.05, 0.01),
        CrowdWorker("careful-1", 0.15, 0.03),
        CrowdWorker("careful-2", 0.15, 0.03),
        CrowdWorker("average-1", 0.30, 0.10),
        CrowdWorker("average-2", 0.30, 0.10),
        CrowdWorker("hasty", 0.50, 0.10),
        CrowdWorker("sloppy", 0.40, 0.50),
        CrowdWorker("spammer", 0.80, 1.00),
        CrowdWorker("average-3", 0.30, 0.10),
        CrowdWorker("careful-3", 0.15, 0.03),
    ]


def simulate(
    crowd: list[CrowdWorker], images: int = 400, per_image: int = 8, seed: int = 0
) -> dict:
    """Label `images` synthetic images with `per_image` random workers of the crowd each."""
    from annotation.services.worker_quality import (
        Counts,
        LabelingAnswer,
        leave_one_out_scores,
        union_of_k_curve,
    )

    rng = random.Random(seed)
    answers: list[LabelingAnswer] = []
    truth_answers: list[LabelingAnswer] = []
    true_counts = {w.name: Counts() for w in crowd}
    union_counts = Counts()
    by_id = dict(enumerate(crowd))
    for image in range(images):
        truth = frozenset(rng.sample(CATEGORIES, rng.randint(1, 6)))
        truth_answers.append(LabelingAnswer(-image - 1, image, -1, truth))
        union: set[int] = set()
        for worker_id in rng.sample(list(by_id), min(per_image, len(crowd))):
            worker = by_id[worker_id]
            labels = {c for c in truth if rng.random() >= worker.miss}
            if rng.random() < worker.add:
                labels.add(rng.choice([c for c in CATEGORIES if c not in truth]))
            answers.append(LabelingAnswer(len(answers), image, worker_id, frozenset(labels)))
            true_counts[worker.name].add(frozenset(labels), truth)
            union |= labels
        union_counts.add(frozenset(union), truth)

    loo = leave_one_out_scores(answers)
    rows = []
    for worker_id, worker in by_id.items():
        score = loo.get(worker_id)
        true = true_counts[worker.name]
        rows.append(
            {
                "name": worker.name,
                "miss": worker.miss,
                "add": worker.add,
                "jobs": score.jobs if score else 0,
                "given_recall": 1 - worker.miss,
                "true_precision": true.precision,
                "true_recall": true.recall,
                "precision": score.precision if score else None,
                "recall": score.recall if score else None,
            }
        )
    curve = union_of_k_curve(answers, truth_answers, max_k=per_image, seed=seed)
    return {
        "workers": rows,
        "union_precision": union_counts.precision,
        "union_recall": union_counts.recall,
        "union_of_k": curve,
    }


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--per-image", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    result = simulate(default_crowd(), images=args.images, per_image=args.per_image, seed=args.seed)
    print(f"{args.images} images, {args.per_image} workers each, seed {args.seed}\n")
    print("worker        miss  add   jobs  true P  true R  | leave-one-out P  R")
    for r in result["workers"]:
        print(
            f"{r['name']:<12} {r['miss']:.2f}  {r['add']:.2f}  {r['jobs']:>4}  "
            f"{_fmt(r['true_precision'])}   {_fmt(r['true_recall'])}  |  "
            f"{_fmt(r['precision'])}          {_fmt(r['recall'])}"
        )
    print(
        f"\nunion of all workers per image vs truth: precision {_fmt(result['union_precision'])}, "
        f"recall {_fmt(result['union_recall'])}"
    )
    print("union of k workers vs truth (Fig. 2.4a):")
    for point in result["union_of_k"]:
        print(
            f"  k={point['k']}: precision {_fmt(point['precision'])}  recall {_fmt(point['recall'])}"
        )


if __name__ == "__main__":
    main()
