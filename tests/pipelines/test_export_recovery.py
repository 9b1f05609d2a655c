"""An export whose Celery worker is killed (SIGKILL) in the middle is recovered: the job does
not stay `running`, no partial file is left, and the files written afterwards are whole."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from annotation.models import Annotation, Category, ExportJob, Image, Project
from annotation.services.export_jobs import export_job_start, export_jobs_recover
from config.celery import app as celery_app
from pipelines.tasks.export import run_export

ROOT = Path(__file__).resolve().parents[2]
IMAGES, ANNOTATIONS = 200, 42_000  # progress is saved every 10,000 entries: four times


def wait_for(condition: Callable[[], object], what: str, timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def start_worker(tmp_path) -> Iterator[Callable[[], subprocess.Popen]]:  # type: ignore[no-untyped-def]
    """Start `celery worker` processes on a queue of their own, pointed at the test database;
    the export task is routed to that queue for the test."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs PostgreSQL and Redis (the embedded default runs tasks in-process)")
    db = connection.settings_dict
    queue = f"cocoforge-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SECRET_KEY": "worker-test",
        "COCOFORGE_VAR_DIR": str(tmp_path),
    }
    workers: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
             "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel=WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        workers.append(worker)
        return worker

    def route(routes: object) -> None:
        celery_app.conf.task_routes = routes
        # The router is built once per process from the routes: build it again.
        celery_app.amqp.flush_routes()
        celery_app.amqp.router = celery_app.amqp.Router()

    eager, routes = celery_app.conf.task_always_eager, celery_app.conf.task_routes
    celery_app.conf.task_always_eager = False
    route({run_export.name: {"queue": queue}})
    try:
        yield start
    finally:
        celery_app.conf.task_always_eager = eager
        route(routes)
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)


def seed(project: Project) -> None:
    """Finished images (as imported ones are) with many small outlines, so that the export
    takes long enough to be interrupted."""
    Image.objects.bulk_create(
        Image(project=project, coco_id=i, file_name=f"{i}.jpg", width=640, height=480,
              checksum_sha256=f"{i:064x}", source=Image.Source.COCO, split="val")
        for i in range(1, IMAGES + 1)
    )  # fmt: skip
    images = list(Image.objects.filter(project=project).values_list("id", flat=True))
    category = Category.objects.get(taxonomy=project.taxonomy, coco_id=1)
    Annotation.objects.bulk_create(
        (
            Annotation(
                project=project,
                image_id=images[n % IMAGES],
                category=category,
                coco_id=n,
                segmentation=[[1.0, 1.0, 30.5, 1.0, 30.5, 20.25, 1.0, 20.25]],
                area=567.375,
                bbox_xywh=[1.0, 1.0, 29.5, 19.25],
                origin=Annotation.Origin.IMPORT,
            )
            for n in range(1, ANNOTATIONS + 1)
        ),
        batch_size=5000,
    )


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_an_export_killed_midway_is_recovered_whole(start_worker, coco_project):
    assert run_export.acks_late, "a killed worker's message is delivered again"
    seed(coco_project)
    db = connection.settings_dict
    blocker = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=False
    )
    worker = start_worker()
    job = export_job_start(project=coco_project, split="val", kinds=["instances", "image-lists"])

    def running() -> bool:
        return ExportJob.objects.filter(id=job.id, status=ExportJob.Status.RUNNING).exists()

    wait_for(running, "the worker to start the export")
    # Hold the job's row: the worker stops at its next progress save, mid-file.
    blocker.execute("SELECT id FROM annotation_exportjob WHERE id = %s FOR UPDATE", [job.id])
    job.refresh_from_db()
    folder = Path(job.folder)
    partial = wait_for(lambda: list(folder.glob(".*.part")), "the partial instances file")
    time.sleep(0.5)  # the worker is now blocked on its progress save
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    blocker.rollback()
    blocker.close()

    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING and job.attempts == 1
    assert all(path.exists() for path in partial)  # what a killed worker leaves behind
    assert not (folder / "instances_val.json").exists()

    assert export_jobs_recover(older_than=timedelta(hours=1)) == [], "a recent heartbeat"
    start_worker()
    assert export_jobs_recover(older_than=timedelta(0)) == [job.id]
    assert list(folder.glob(".*.part")) == []

    def finished() -> ExportJob | None:
        job.refresh_from_db()
        return job if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED) else None

    wait_for(finished, "the export to be run again")
    assert job.status == ExportJob.Status.DONE and job.attempts == 2, job.error
    assert list(folder.glob(".*.part")) == []
    written = folder / "instances_val.json"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == job.checksum_sha256
    data = json.loads(written.read_text())
    assert (len(data["images"]), len(data["annotations"])) == (IMAGES, ANNOTATIONS)
    assert len((folder / "images_val.txt").read_text().splitlines()) == IMAGES
    assert export_jobs_recover(older_than=timedelta(0)) == [], "nothing left to recover"
