"""Limits hold under races (PostgreSQL, one connection per thread, released together by a
barrier, over the HTTP API as real clients send them): the evaluation server's daily
submission limit lets exactly the limit through, one assignment takes exactly one answer,
and no request gets a 5xx (the old lock order deadlocked on annotation_task)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
from celery import _state as celery_state
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connections, transaction
from rest_framework.test import APIClient

from annotation.models import Assignment, Stage
from annotation.models.evaluation import Submission
from annotation.models.segmentation import Segmentation
from annotation.services import task_engine
from annotation.services.evaluation_server import release_create
from tests.annotation.stages.test_segmentation import qualified, spot_pair, square
from tests.conftest import on_postgres

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "coco_samples"
GT_PATH = SAMPLES / "instances_val2014_100.json"
BBOX_RESULTS = SAMPLES / "instances_val2014_fakebbox100_results.json"


def fire_together(count: int, request) -> list:  # type: ignore[no-untyped-def]
    """Send `request(i, client)` from `count` threads at the same moment; each thread has
    its own client and database connection. Returns the responses."""
    barrier = threading.Barrier(count)
    responses: list = [None] * count
    errors: list = []

    def run(i: int) -> None:
        try:
            client = APIClient()
            barrier.wait()
            responses[i] = request(i, client)
        except Exception as error:  # re-raised in the test thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]
    return responses


@pytest.fixture(autouse=True)
def celery_join_flag_restored():  # type: ignore[no-untyped-def]
    """Eager Celery tasks run in several threads at once leave celery's process-wide "a
    task is running" flag set (celery.result.denied_join_result saves and restores it
    without a lock), which later makes result.get() refuse in other tests: put it back."""
    before = celery_state.task_join_will_block()
    yield
    celery_state._set_task_join_will_block(before)


def statuses(responses: list) -> Counter:
    return Counter(response.status_code for response in responses)


@pytest.fixture
def postgres_only():  # type: ignore[no-untyped-def]
    if not on_postgres():
        pytest.skip("row locks under concurrent connections are PostgreSQL's")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_thirty_simultaneous_submissions_at_the_daily_limit_let_exactly_the_limit_through(
    postgres_only, coco_project, annotator
):
    """30 uploads fired at once against a limit of 5: exactly 5 are taken (202), 25 are
    refused with 429 and the reason, none is a 5xx."""
    release = release_create(
        project=coco_project, name="race-dev", ground_truth_json=GT_PATH.read_bytes()
    )
    assert release.daily_submission_limit == 5
    results = BBOX_RESULTS.read_bytes()

    def upload(i: int, client: APIClient):  # type: ignore[no-untyped-def]
        client.force_authenticate(annotator)
        return client.post(
            f"/api/v1/releases/{release.slug}/submissions/",
            {
                "results": SimpleUploadedFile(f"r{i}.json", results),
                "iou_type": "bbox",
                "method_name": f"Racer {i}",
            },
            format="multipart",
        )

    folder = Path(settings.MEDIA_ROOT) / "submissions"
    files_before = len(list(folder.iterdir())) if folder.exists() else 0
    responses = fire_together(30, upload)
    counts = statuses(responses)
    print(f"\n30 simultaneous submissions at a daily limit of 5: {dict(counts)}")
    assert counts == {202: 5, 429: 25}
    refused = next(r for r in responses if r.status_code == 429).json()
    assert refused["error"] == "limit_reached" and "today's 5 submissions" in refused["detail"]
    assert Submission.objects.filter(release=release, submitter=annotator).count() == 5
    # The refused uploads' files, stored before the locked count refused them, are gone.
    assert len(list(folder.iterdir())) - files_before == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_submits_at_one_assignment_give_one_answer_and_no_5xx(
    postgres_only, coco_project, make_worker, django_capture_on_commit_callbacks
):
    """A real segmentation task (its completion locks the task and stores the mask, which
    references the slot): 20 submits with different keys at once are answered 200 once and
    409 otherwise; one answer and one mask are stored."""
    image, category = spot_pair(
        coco_project, [[(30, 30)]], make_worker, django_capture_on_commit_callbacks
    )
    worker = qualified(make_worker, coco_project)
    lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.SEGMENTATION)
    assert lease is not None

    def submit(i: int, client: APIClient):  # type: ignore[no-untyped-def]
        client.force_authenticate(worker)
        return client.post(
            f"/api/v1/assignments/{lease.id}/submit/",
            {"answer": {"polygons": square(20, 20)}, "idempotency_key": str(uuid.uuid4())},
            format="json",
        )

    responses = fire_together(20, submit)
    counts = statuses(responses)
    print(f"\n20 simultaneous submits at one assignment: {dict(counts)}")
    assert counts == {200: 1, 409: 19}
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"wrong_state"}
    assert Assignment.objects.filter(task_id=lease.task_id, status="submitted").count() == 1
    assert Segmentation.objects.filter(image=image, category=category).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_submits_of_many_workers_on_one_task_never_deadlock(
    postgres_only, coco_project, make_worker, choice_stage
):
    """Eight workers answer the eight slots of one task at once, each twice (a retry with the
    same key): all 200, eight answers counted, the task completes once."""
    task = task_engine.task_post(
        project=coco_project,
        stage=Stage.LABELING,
        answers_needed=8,
        payload={"options": ["yes", "no"]},
    )
    workers = [make_worker() for _ in range(8)]
    leases = [task_engine.task_next_for_worker(worker=w, stage=Stage.LABELING) for w in workers]

    def submit(i: int, client: APIClient):  # type: ignore[no-untyped-def]
        n = i % 8
        client.force_authenticate(workers[n])
        return client.post(
            f"/api/v1/assignments/{leases[n].id}/submit/",
            {"answer": {"choice": "yes"}, "idempotency_key": f"k{n}"},
            format="json",
        )

    responses = fire_together(16, submit)
    assert statuses(responses) == {200: 16}
    task.refresh_from_db()
    assert task.status == "complete" and task.result == {"majority": "yes", "votes": 8}


@pytest.mark.django_db
def test_a_worker_answers_a_task_once_even_after_a_rejection_and_the_database_says_so(
    coco_project, choice_stage, annotator
):
    """One answer per worker per task is a constraint: after the answer was rejected the
    fresh slot cannot go to the same worker, whatever a request read before writing."""
    task = task_engine.task_post(
        project=coco_project, stage=Stage.LABELING, answers_needed=1,
        payload={"options": ["yes", "no"]},
    )  # fmt: skip
    lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
    task_engine.assignment_submit(
        assignment_id=lease.id, worker=annotator, answer={"choice": "yes"}, key="a"
    )
    task_engine.assignment_reject(assignment_id=lease.id, reason="quality control")
    assert task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING) is None
    fresh = Assignment.objects.get(task=task, status="free")
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(id=fresh.id).update(status="leased", worker=annotator)
