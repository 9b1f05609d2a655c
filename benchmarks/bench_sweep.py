"""Benchmark: what the periodic sweep (pipelines/sweep.py) costs when nothing is wrong, on a
PostgreSQL database holding a finished pipeline (issue 12: "cheap when nothing is wrong").

    .venv/bin/python benchmarks/bench_sweep.py                  # 10,000 images
    .venv/bin/python benchmarks/bench_sweep.py --images 2000

Seeds a scratch database (cocoforge_bench_sweep on 127.0.0.1:5432, dropped at the end) with
bulk_create, per image: 1 labeling task (1 answer), 3 present categories each with a spotting
task (8 answers, 8 spots), a finished segmentation pair (one task, one accepted mask). Every
task is complete with its result, every pair done: the sweep finds nothing. Reports the
sweep's query count and its median wall time over 5 runs after ANALYZE.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "cocoforge_bench_sweep"
PER_IMAGE = 3  # present categories
SPOTTERS = 8


def _admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(statement)


def seed(images: int) -> float:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from annotation.models import Assignment, Image, Instance, Stage, Task
    from annotation.models.labeling import Spot
    from annotation.models.segmentation import Segmentation, SegmentationProgress
    from annotation.services.projects import project_create

    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    project = project_create(name="bench sweep", template="coco")
    categories = list(project.taxonomy.categories.order_by("id").values_list("id", flat=True))
    workers = User.objects.bulk_create(User(username=f"w{n}") for n in range(SPOTTERS))
    done = timezone.now() - timedelta(days=1)
    batch = 500
    for first in range(0, images, batch):
        numbers = range(first, min(first + batch, images))
        rows = Image.objects.bulk_create(
            Image(project=project, coco_id=i + 1, file_name=f"{i}.jpg", width=640, height=480,
                  checksum_sha256=f"{i:064x}", source="coco", split="train")
            for i in numbers
        )  # fmt: skip
        pairs = [
            (image, categories[(n + k) % len(categories)])
            for n, image in zip(numbers, rows, strict=True)
            for k in range(PER_IMAGE)
        ]

        def tasks(stage: str, items: list, result: dict) -> list[Task]:
            return Task.objects.bulk_create(
                Task(project=project, stage=stage, image=image, category_id=category,
                     answers_needed=1, status="complete", completed_at=done, result=result)
                for image, category in items
            )  # fmt: skip

        labeling = tasks(Stage.LABELING, [(image, None) for image in rows], {"present": []})
        spotting = tasks(Stage.SPOTTING, pairs, {"spots": SPOTTERS})
        segmenting = tasks(Stage.SEGMENTATION, pairs, {"outcome": "segmented"})
        answer = {"status": "submitted", "submitted_at": done, "answer": {}}
        slots = Assignment.objects.bulk_create(
            [Assignment(task=task, worker=workers[0], **answer) for task in labeling]
            + [Assignment(task=task, worker=w, **answer) for task in spotting for w in workers]
            + [Assignment(task=task, worker=workers[0], **answer) for task in segmenting]
        )
        spot_slots = slots[len(labeling) : len(labeling) + len(spotting) * SPOTTERS]
        Spot.objects.bulk_create(
            Spot(task_id=slot.task_id, assignment=slot, image=task.image,
                 category=task.category, worker=slot.worker, x=10.0, y=10.0)
            for slot, task in zip(
                spot_slots, (t for t in spotting for _ in workers), strict=True
            )
        )  # fmt: skip
        SegmentationProgress.objects.bulk_create(
            SegmentationProgress(image=image, category_id=category, state="done")
            for image, category in pairs
        )
        instances = Instance.objects.bulk_create(
            Instance(image=image, category_id=category) for image, category in pairs
        )
        seg_slots = slots[len(labeling) + len(spotting) * SPOTTERS :]
        Segmentation.objects.bulk_create(
            Segmentation(task=task, assignment=slot, instance=instance, image=task.image,
                         category_id=instance.category_id, worker=workers[0],
                         polygons=[[0, 0, 10, 0, 10, 10]], area=50.0,
                         bbox_xywh=[0, 0, 10, 10], status="accepted")
            for task, slot, instance in zip(segmenting, seg_slots, instances, strict=True)
        )  # fmt: skip
    return time.perf_counter() - start


def measure() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotation.models import Assignment, Task
    from annotation.models.labeling import Spot
    from pipelines.sweep import pipeline_sweep

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        report = pipeline_sweep()
    assert report.repairs == 0 and report.leases_released == 0, report.lines()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        pipeline_sweep()
        times.append(time.perf_counter() - start)
    slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
    return {
        "slowest_query_ms": round(float(slowest["time"]) * 1000, 1),
        "slowest_query": slowest["sql"][:120],
        "tasks": Task.objects.count(), "answers": Assignment.objects.count(),
        "spots": Spot.objects.count(), "queries": len(queries),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    _admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    _admin_sql(f"CREATE DATABASE {BENCH_DB}")
    try:
        sys.path.insert(0, str(REPO_ROOT))
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
        import django

        django.setup()
        seconds = seed(args.images)
        print(json.dumps({"images": args.images, "seed_seconds": round(seconds, 1), **measure()}))
    finally:
        from django.db import connections

        connections.close_all()
        _admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
