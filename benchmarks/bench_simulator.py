"""Wall time of the crowd simulator against the number of images (issue 12).

Each run gets a fresh PostgreSQL database (migrated here), runs `manage.py simulate_crowd`
in a subprocess and prints one Markdown row: images, instances, answers, worker-hours, the
fidelity figures and the wall time. Celery runs in-process unless --redis is given (then a
real `celery worker` on a queue of its own serves the run).

    .venv/bin/python benchmarks/bench_simulator.py \
        --gt tests/fixtures/coco_tiny/instances_val2017.json --replicate 1 --replicate 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql://postgres@127.0.0.1:5432"


def fresh_database(name: str) -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def run(gt: Path, replicate: int, extra: list[str], redis: str | None) -> dict:
    name = f"cocoforge_simbench_{uuid.uuid4().hex[:8]}"
    var = tempfile.mkdtemp(prefix="simbench-")
    env = {**os.environ, "DATABASE_URL": fresh_database(name), "COCOFORGE_VAR_DIR": var,
           "DJANGO_SETTINGS_MODULE": "config.settings.base", "SECRET_KEY": "bench"}  # fmt: skip
    worker = None
    if redis:
        queue = f"simbench-{uuid.uuid4().hex[:8]}"
        env.update(REDIS_URL=redis, CELERY_TASK_ALWAYS_EAGER="0", COCOFORGE_TEST_QUEUE=queue,
                   DJANGO_SETTINGS_MODULE="tests.pipelines.simulator.queue_settings")  # fmt: skip
    else:
        env.update(REDIS_URL="", CELERY_TASK_ALWAYS_EAGER="1")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    if redis:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
             "--pool=solo", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
            cwd=ROOT, env=env,
        )  # fmt: skip
    out = Path(var) / "report.json"
    started = time.monotonic()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        subprocess.run(
            [*manage, "simulate_crowd", "--gt", str(gt), "--replicate", str(replicate),
             "--json", str(out), *extra],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
    report = json.loads(out.read_text())
    report["bench_wall_seconds"] = round(time.monotonic() - started, 1)
    # CPU seconds of the simulator, the site (gunicorn) and the Celery worker together
    # (PostgreSQL and Redis aside): what the run costs whatever else the machine does. On
    # an idle machine the wall time is about this, as the requests go one after another.
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report["cpu_seconds"] = round(
        (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime), 1
    )
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
    return report


def row(report: dict) -> str:
    answers = sum(report["answers_per_stage"].values())
    return (
        f"| {report['images']} | {report['gt_instances']} | {answers} "
        f"| {report['worker_hours']['total']:.1f} | {report['category_recall']:.3f} "
        f"| {report['crowd_aware_instance_recall']:.3f} | {report['median_mask_iou']:.3f} "
        f"| {report['ap']:.3f} | {report['lost_answers']} | {report['duplicate_annotations']} "
        f"| {report['wall_seconds']:.0f} | {report['cpu_seconds']:.0f} | {report['http_requests']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gt", type=Path, required=True)
    parser.add_argument("--replicate", type=int, action="append", default=[])
    parser.add_argument("--redis", help="e.g. redis://127.0.0.1:6379/13: a real Celery worker")
    parser.add_argument("--json", type=Path, help="append each report here (JSON lines)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="more simulate_crowd options")
    args = parser.parse_args()
    print("| images | instances | answers | worker-h | cat. recall | crowd-aware inst. recall "
          "| median IoU | AP | lost | dup. ann. | wall s | CPU s | HTTP requests |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    extra = [a for a in args.rest if a != "--"]
    for copies in args.replicate or [1]:
        report = run(args.gt, copies, extra, args.redis)
        print(row(report), flush=True)
        if args.json:
            with args.json.open("a") as handle:
                handle.write(json.dumps(report, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
