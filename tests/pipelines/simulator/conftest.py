"""A site (and, for the worker tests, a Celery worker) on the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from pipelines.simulator.server import local_server

ROOT = Path(__file__).resolve().parents[3]
COCO_TINY = ROOT / "tests" / "fixtures" / "coco_tiny" / "instances_val2017.json"


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def site_env(tmp_path: Path, *, queue: str | None) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url(),
        "COCOFORGE_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SECRET_KEY": "simulation-test",
    }
    if queue is None:  # hand-offs inside the requests
        env.update(DJANGO_SETTINGS_MODULE="config.settings.base", CELERY_TASK_ALWAYS_EAGER="1",
                   REDIS_URL="", CELERY_BROKER_URL="", CELERY_RESULT_BACKEND="")  # fmt: skip
    else:
        env.update(DJANGO_SETTINGS_MODULE="tests.pipelines.simulator.queue_settings",
                   CELERY_TASK_ALWAYS_EAGER="0", REDIS_URL=settings.CELERY_BROKER_URL,
                   COCOFORGE_TEST_QUEUE=queue)  # fmt: skip
    return env


@pytest.fixture
def eager_site(tmp_path: Path) -> Iterator[str]:
    """The site as a gunicorn process, Celery tasks run inside its requests."""
    with local_server(env=site_env(tmp_path, queue=None)) as url:
        yield url


@pytest.fixture
def worker_site(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The site and a real `celery worker` process fed through Redis on a queue of its own.
    Yields (url, queue, worker env); the worker is stopped after the test."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs PostgreSQL and Redis (the embedded default runs tasks in-process)")
    queue = f"cocoforge-sim-{uuid.uuid4().hex[:8]}"
    env = site_env(tmp_path, queue=queue)
    handle: dict[str, Any] = {"env": env, "worker": start_worker(env, queue)}
    try:
        with local_server(env=env) as url:
            yield url, queue, handle  # a test may replace handle["worker"] (a restart)
    finally:
        stop_worker(handle["worker"])


def start_worker(env: dict[str, str], queue: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def small_ground_truth(path: Path, *, images: int, strip: bool) -> Path:
    """The first `images` crowd-free coco_tiny images with the fewest instances; with
    `strip`, without `supercategory` and `iscrowd` (as some COCO-format files come)."""
    data = json.loads(COCO_TINY.read_text())
    counts: dict[int, int] = {}
    crowded = set()
    for ann in data["annotations"]:
        counts[ann["image_id"]] = counts.get(ann["image_id"], 0) + 1
        if ann["iscrowd"]:
            crowded.add(ann["image_id"])
    chosen = sorted((n, i) for i, n in counts.items() if i not in crowded and n >= 2)[:images]
    keep = {i for _n, i in chosen}
    anns = [a for a in data["annotations"] if a["image_id"] in keep]
    categories = data["categories"]
    if strip:
        anns = [{k: v for k, v in a.items() if k != "iscrowd"} for a in anns]
        categories = [{k: v for k, v in c.items() if k != "supercategory"} for c in categories]
    path.write_text(
        json.dumps(
            {
                "images": [i for i in data["images"] if i["id"] in keep],
                "annotations": anns,
                "categories": categories,
            }
        )
    )
    return path
