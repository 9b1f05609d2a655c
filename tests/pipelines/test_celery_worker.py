"""A real Celery worker process, fed through Redis, works on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotation.models import Assignment, Stage
from annotation.services import task_engine
from config.celery import app as celery_app
from pipelines.tasks import ping, release_expired_leases

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_worker_process(tmp_path):  # type: ignore[no-untyped-def]
    """Start `celery worker` on a queue of its own, pointed at the test database."""
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
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager = eager
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        if worker.returncode not in (0, -15):
            print(output.decode(errors="replace"))


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_runs_tasks_against_the_database(
    celery_worker_process, coco_project, choice_stage, annotator
):
    queue = celery_worker_process
    assert ping.apply_async(queue=queue).get(timeout=60) == "pong"

    task = task_engine.task_post(
        project=coco_project, stage=Stage.LABELING, answers_needed=1, payload={"options": ["a"]}
    )
    lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
    Assignment.objects.filter(id=lease.id).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )

    released = release_expired_leases.apply_async(queue=queue).get(timeout=60)
    assert released == 1
    slot = Assignment.objects.get(task=task)
    assert (
        slot.status == Assignment.Status.FREE and slot.worker is None and slot.expired_leases == 1
    )
