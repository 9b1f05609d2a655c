"""Results files are parsed by a real Celery worker, not in the web request (issue 17): the
upload is answered 202 with the submission pending; the worker scores it, or fails it with
the entry named. A worker SIGKILLed while it parses a large file is restarted, takes the
message back and records one outcome; its memory stays bounded."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models.evaluation import Submission
from annotation.services import evaluation_server
from annotation.services.evaluation_server import release_create
from config.celery import app as celery_app
from tests.annotation.services.test_evaluation_server import (
    BBOX_RESULTS,
    GT_PATH,
    pycocotools_stats,
)
from tests.hostile.test_results_files import write_large_results
from tests.pipelines.worker_process import WorkerProcess, services_available, wait_for

VISIBILITY_S = 3
# The worker (Django, Celery, NumPy, pycocotools: about 150 MB) after parsing a 40 MiB file
# of 460,000 detections. Parsed whole with json.loads, the file alone would take ~450 MB.
WORKER_PEAK_RSS_LIMIT_MB = 350


@pytest.fixture
def worker(tmp_path) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    if not services_available():
        pytest.skip("needs PostgreSQL and Redis (the embedded default runs tasks in-process)")
    process = WorkerProcess(
        tmp_path, CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_S), MEDIA_ROOT=str(settings.MEDIA_ROOT)
    )
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False  # uploads' evaluations go to the worker
    try:
        yield process
    finally:
        celery_app.conf.task_always_eager = eager
        process.stop()
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        if prefix:
            for key in broker.scan_iter(f"{prefix}*"):
                broker.delete(key)


def upload(api_client, release, content: bytes, name: str):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = api_client.post(
        f"/api/v1/releases/{release.slug}/submissions/",
        {"results": SimpleUploadedFile(name, content), "iou_type": "bbox", "method_name": name},
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    return response.json()["id"], time.monotonic() - started


def status_of(submission_id: int) -> str:
    return str(Submission.objects.get(id=submission_id).status)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_scores_uploads_and_survives_being_killed_mid_parse(
    worker, coco_project, annotator, api_client, tmp_path
):
    release = release_create(
        project=coco_project, name="test-dev", ground_truth_json=GT_PATH.read_bytes()
    )
    release.daily_submission_limit = 10
    release.save()
    evaluation_server._ground_truth_of.cache_clear()
    api_client.force_authenticate(annotator)
    worker.start()

    scored, _ = upload(api_client, release, BBOX_RESULTS.read_bytes(), "fake.json")
    wait_for(lambda: status_of(scored) != "pending", "the worker to score the upload")
    submission = Submission.objects.get(id=scored)
    assert submission.status == Submission.Status.DONE, submission.error
    assert submission.stats == pycocotools_stats("bbox", BBOX_RESULTS)

    large = tmp_path / "large.json"
    bad_position = write_large_results(large, 40)
    big, upload_seconds = upload(api_client, release, large.read_bytes(), "large.json")
    print(f"\n40 MiB results upload answered in {upload_seconds:.1f} s (pending)")
    wait_for(
        lambda: (
            len(re.findall(r"evaluate_submission\[[0-9a-f-]+\] received", worker.output())) == 2
        ),
        "the worker to take the large file",
    )
    taken = time.monotonic()
    time.sleep(1)  # in the middle of parsing (it takes several seconds)
    assert status_of(big) == "pending"
    worker.kill()
    time.sleep(max(0.0, VISIBILITY_S + 1 - (time.monotonic() - taken)))
    worker.start()  # takes the unacknowledged message back
    wait_for(lambda: status_of(big) != "pending", "the restarted worker's outcome", timeout=180)
    submission = Submission.objects.get(id=big)
    assert submission.status == Submission.Status.FAILED
    assert submission.error == (
        f"large.json: results[{bad_position}]: image_id 1 is not in the ground truth"
    )
    assert worker.process is not None
    peak = peak_rss_mb(worker.process.pid)
    print(f"worker peak RSS after parsing the 40 MiB file: {peak:.0f} MB")
    assert peak < WORKER_PEAK_RSS_LIMIT_MB
    assert Submission.objects.filter(release=release).count() == 2, "nothing duplicated"
