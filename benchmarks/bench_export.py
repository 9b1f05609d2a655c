"""Benchmark: COCO export at COCO scale (issue 7: 330k images, 2.5M instances, 1% crowds;
target under 2 minutes and under 2 GB on the 2-core machine).

    python benchmarks/bench_export.py writer                  # full scale, streaming writer
    python benchmarks/bench_export.py writer --images 33000 --instances 250000
    python benchmarks/bench_export.py db                      # PostgreSQL path, 33k / 250k
    python benchmarks/bench_export.py db --images 3300 --instances 25000

`writer` feeds pipelines/coco/export.py with generated entries, built one at a time as the
database path builds them (a fresh dict per entry): polygons and crowd RLEs are the real ones
of COCO val2014 (tests/fixtures/coco_samples/instances_val2014_100.json: 830 polygons, 9
uncompressed crowd RLEs), cycled, so the file has the released files' text per instance.
It times generation + writing (+ checksum, fsync, rename) and reports the process's peak RSS
(resource.getrusage ru_maxrss), which includes the interpreter and numpy/pycocotools imports.

`db` seeds a scratch PostgreSQL database (cocoforge_bench_export on 127.0.0.1:5432, dropped at
the end) with bulk_create (not annotation_record: seeding 250k rows one by one would take the
benchmark's time, not the export's), then exports in a fresh child process through
annotation.services.coco_export.instances_export (selectors with .iterator(chunk_size) -> writer)
and reports that child's wall time and peak RSS. Extrapolate to full scale linearly (the
export is one pass over both tables in id order; memory does not grow with the row count).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = REPO_ROOT / "tests" / "fixtures" / "coco_samples" / "instances_val2014_100.json"
BENCH_DB = "cocoforge_bench_export"
CROWD_EVERY = 100  # 1% crowds


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def sample_shapes() -> tuple[list[dict], list[dict]]:
    data = json.loads(SAMPLE.read_text())
    polygons = [a for a in data["annotations"] if not a["iscrowd"]]
    crowds = [a for a in data["annotations"] if a["iscrowd"]]
    return polygons, crowds


def run_writer(images: int, instances: int, out_dir: Path) -> dict:
    sys.path.insert(0, str(REPO_ROOT))
    from pipelines.coco.export import write_coco

    polygons, crowds = sample_shapes()
    categories = json.loads(SAMPLE.read_text())["categories"]
    category_ids = [c["id"] for c in categories]
    splits = ("train", "val", "test")

    def image_entries():  # type: ignore[no-untyped-def]
        for image_id in range(1, images + 1):
            yield {
                "license": image_id % 8 + 1, "file_name": f"COCO_{image_id:012d}.jpg",
                "height": 480, "width": 640, "date_captured": "2013-11-15 11:55:43",
                "flickr_url": f"http://farm3.staticflickr.com/2145/{image_id}_z.jpg",
                "id": image_id, "_split": splits[image_id % 3],
            }  # fmt: skip

    polygon_cycle = itertools.cycle(polygons)
    crowd_cycle = itertools.cycle(crowds)

    def annotation_entries():  # type: ignore[no-untyped-def]
        for annotation_id in range(1, instances + 1):
            crowd = annotation_id % CROWD_EVERY == 0
            shape = next(crowd_cycle) if crowd else next(polygon_cycle)
            yield {
                "segmentation": shape["segmentation"], "area": shape["area"],
                "iscrowd": int(crowd), "image_id": (annotation_id * 7919) % images + 1,
                "bbox": list(shape["bbox"]),
                "category_id": category_ids[annotation_id % len(category_ids)],
                "id": annotation_id,
            }  # fmt: skip

    out = out_dir / "instances_bench.json"
    start = time.perf_counter()
    cpu = time.process_time()
    result = write_coco(
        out, info={"description": "benchmark"},
        licenses=[{"url": "", "id": i, "name": f"license {i}"} for i in range(1, 9)],
        images=image_entries(), annotations=annotation_entries(), categories=categories,
    )  # fmt: skip
    return {
        "mode": "writer", "images": images, "instances": instances,
        "crowds": result.counts.get("crowd"), "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1), "peak_rss_mib": round(peak_rss_mib()),
        "file_mib": round(result.bytes / 2**20),
    }  # fmt: skip


def _django(database: str) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def run_db_seed(images: int, instances: int) -> dict:
    _django(BENCH_DB)
    from django.core.management import call_command

    from annotation.models import Annotation, Image
    from annotation.services.projects import project_create

    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    project = project_create(name="bench export", template="coco")
    categories = {c.coco_id: c.id for c in project.taxonomy.categories.all()}
    polygons, crowds = sample_shapes()
    splits = ("train", "val", "test")
    batch = 5000
    for first in range(1, images + 1, batch):
        Image.objects.bulk_create(
            Image(project=project, coco_id=i, file_name=f"COCO_{i:012d}.jpg", width=640,
                  height=480, checksum_sha256=f"{i:064x}", source="coco",
                  original_url=f"http://farm3.staticflickr.com/2145/{i}_z.jpg",
                  license_name="Attribution License",
                  license_url="http://creativecommons.org/licenses/by/2.0/",
                  split=splits[i % 3])
            for i in range(first, min(first + batch, images + 1))
        )  # fmt: skip
    image_pks = list(
        Image.objects.filter(project=project).order_by("coco_id").values_list("id", flat=True)
    )
    from pycocotools import mask as coco_mask

    compressed = []
    for crowd in crowds:
        height, width = crowd["segmentation"]["size"]
        rle = coco_mask.frPyObjects(crowd["segmentation"], height, width)
        compressed.append({"size": [height, width], "counts": rle["counts"].decode()})
    polygon_cycle = itertools.cycle(polygons)
    crowd_cycle = itertools.cycle(zip(crowds, compressed, strict=True))
    for first in range(1, instances + 1, batch):
        rows = []
        for annotation_id in range(first, min(first + batch, instances + 1)):
            is_crowd = annotation_id % CROWD_EVERY == 0
            if is_crowd:
                shape, segmentation = next(crowd_cycle)
            else:
                shape = next(polygon_cycle)
                segmentation = shape["segmentation"]
            rows.append(Annotation(
                project=project, coco_id=annotation_id,
                image_id=image_pks[(annotation_id * 7919) % images],
                category_id=categories[shape["category_id"]], iscrowd=is_crowd,
                segmentation=segmentation, area=float(shape["area"]), bbox_xywh=shape["bbox"],
                origin="import",
            ))  # fmt: skip
        Annotation.objects.bulk_create(rows)
    return {"mode": "db-seed", "seconds": round(time.perf_counter() - start, 1)}


def run_db_export(out_dir: Path) -> dict:
    _django(BENCH_DB)
    from annotation.models import Project
    from annotation.services.coco_export import instances_export

    project = Project.objects.get(name="bench export")
    start = time.perf_counter()
    cpu = time.process_time()
    result = instances_export(project=project, split=None, out=out_dir / "instances_db.json")
    return {
        "mode": "db", "images": result.counts["images"], "instances": result.counts["annotations"],
        "crowds": result.counts["crowd"], "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1), "peak_rss_mib": round(peak_rss_mib()),
        "file_mib": round(result.bytes / 2**20),
    }  # fmt: skip


def _admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(statement)


def child(arguments: list[str]) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, *arguments], capture_output=True, text=True, check=False
    )
    if completed.returncode:
        sys.stderr.write(completed.stderr)
        raise SystemExit(completed.returncode)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["writer", "db", "_db-seed", "_db-export"])
    parser.add_argument("--images", type=int)
    parser.add_argument("--instances", type=int)
    parser.add_argument("--out-dir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the written file")
    args = parser.parse_args()
    if args.mode == "_db-seed":
        print(json.dumps(run_db_seed(args.images, args.instances)))
        return
    if args.mode == "_db-export":
        print(json.dumps(run_db_export(args.out_dir)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        out_dir = args.out_dir or Path(scratch)
        if args.mode == "writer":
            report = run_writer(args.images or 330_000, args.instances or 2_500_000, out_dir)
            if not args.keep:
                (out_dir / "instances_bench.json").unlink()
        else:
            images, instances = args.images or 33_000, args.instances or 250_000
            _admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            _admin_sql(f"CREATE DATABASE {BENCH_DB}")
            try:
                seed = child(["_db-seed", "--images", str(images), "--instances", str(instances)])
                report = child(["_db-export", "--out-dir", str(out_dir)])
                report["seed_seconds"] = seed["seconds"]
            finally:
                _admin_sql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
