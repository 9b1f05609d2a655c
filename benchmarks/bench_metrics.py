"""Benchmark (issue 17, operations): what a Prometheus scrape of /metrics costs on a busy
PostgreSQL database, and what the request-log and Prometheus middlewares add to a request.

    .venv/bin/python benchmarks/bench_metrics.py                  # 100,000 tasks
    .venv/bin/python benchmarks/bench_metrics.py --tasks 20000

Seeds a scratch database (cocoforge_bench_metrics on 127.0.0.1:5432, dropped at the end) with
bulk_create: tasks spread over the five stages, 80 % complete, each with one assignment; 2 % of
them leased (not expired). Reports the median wall time of GET /metrics (through Django's test
client, Redis broker included) over 9 scrapes after ANALYZE, and the median time of GET
/healthz over 300 requests with the ops middlewares (JSON request line formatted and written
to /dev/null) and without them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "cocoforge_bench_metrics"
OPS_MIDDLEWARE = (
    "ops.middleware.RequestLogMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
)


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(statement)


def seed(tasks: int) -> float:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from annotation.models import Assignment, Stage, Task
    from annotation.services.projects import project_create

    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    project = project_create(name="bench metrics", template="coco")
    worker = User.objects.create(username="w")
    stages = [Stage.LABELING, Stage.SPOTTING, Stage.SEGMENTATION, Stage.VERIFICATION, Stage.CROWD]
    expires = timezone.now() + timedelta(hours=1)
    batch = 5000
    for first in range(0, tasks, batch):
        numbers = range(first, min(first + batch, tasks))
        rows = Task.objects.bulk_create(
            Task(project=project, stage=stages[n % 5], answers_needed=1,
                 status=Task.Status.COMPLETE if n % 5 != 4 else Task.Status.OPEN)
            for n in numbers
        )  # fmt: skip
        Assignment.objects.bulk_create(
            Assignment(task=row, status=Assignment.Status.LEASED, worker=worker,
                       lease_expires_at=expires)
            if n % 50 == 0 and row.status == Task.Status.OPEN
            else Assignment(task=row)
            for n, row in zip(numbers, rows, strict=True)
        )  # fmt: skip
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - start


def median_ms(client, path: str, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:300]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}",
        REDIS_URL="redis://127.0.0.1:6379/14",
        CELERY_BROKER_KEY_PREFIX="cocoforge-bench-metrics:",
        COCOFORGE_VAR_DIR="/tmp/cocoforge-bench-metrics",
        SECRET_KEY="bench-only",
        LOG_FORMAT="json",
    )
    sys.path.insert(0, str(REPO_ROOT))
    admin_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{BENCH_DB}"')
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.test import Client, override_settings
        from django.test.utils import setup_test_environment

        setup_test_environment()
        # JSON request lines are formatted and written as in production, to /dev/null.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
        seconds = seed(args.tasks)
        client = Client()
        scrape = median_ms(client, "/metrics", 9)
        with_ops = median_ms(client, "/healthz", 300)
        plain = [m for m in settings.MIDDLEWARE if m not in OPS_MIDDLEWARE]
        with override_settings(MIDDLEWARE=plain):
            without_ops = median_ms(Client(), "/healthz", 300)
        print(json.dumps({
            "tasks": args.tasks, "seed_s": round(seconds, 1),
            "metrics_scrape_median_ms": round(scrape, 1),
            "healthz_median_ms_with_ops_middleware": round(with_ops, 3),
            "healthz_median_ms_without": round(without_ops, 3),
        }))  # fmt: skip
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
