"""Submits under faults (issue 17), over the HTTP API on PostgreSQL: the database connection
is killed while a submit is in flight, and the same answer is sent many times at once. The
retry with the same idempotency key gives one answer; nothing is half-stored."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from annotation.models import Assignment, Stage, Task
from annotation.models.labeling import Spot
from annotation.services import task_engine
from tests.annotation.test_races import (  # the autouse fixture puts back celery's flag
    celery_join_flag_restored,  # noqa: F401
    fire_together,
    statuses,
)
from tests.faults.test_redis_restart import spotting_tasks
from tests.pipelines.test_handoffs_survive_failures import blocked_backends
from tests.pipelines.worker_process import wait_for

SPOTS = {"spots": [{"x": 30, "y": 40}, {"x": 120, "y": 60}]}


@pytest.fixture
def leased(make_worker):  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("row locks and pg_terminate_backend are PostgreSQL's")
    (task,) = spotting_tasks(make_worker, 1)
    spotter = make_worker()
    lease = task_engine.task_next_for_worker(worker=spotter, stage=Stage.SPOTTING)
    assert lease is not None and lease.task_id == task.id
    return task, lease, spotter


def post_answer(client: APIClient, spotter, lease: Assignment, key: str):  # type: ignore[no-untyped-def]
    client.force_authenticate(spotter)
    return client.post(
        f"/api/v1/assignments/{lease.id}/submit/",
        {"answer": SPOTS, "idempotency_key": key},
        format="json",
    )


def answers_of(task: Task) -> list[str | None]:
    return list(
        Assignment.objects.filter(task=task, status=Assignment.Status.SUBMITTED).values_list(
            "submission_key", flat=True
        )
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_whose_database_connection_is_killed_is_a_503_and_its_retry_counts_once(leased):
    task, lease, spotter = leased
    db = connection.settings_dict
    responses: list = []
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]
    ) as holder:
        # An admin's open transaction holds the task: the submit waits on it, in flight.
        holder.execute("SELECT id FROM annotation_task WHERE id = %s FOR UPDATE", [task.id])
        submit = threading.Thread(
            target=lambda: responses.append(post_answer(APIClient(), spotter, lease, "k-1"))
        )
        submit.start()
        wait_for(lambda: blocked_backends() == 1, "the submit to wait on the task's lock")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        holder.rollback()
        submit.join(timeout=60)
    (dropped,) = responses
    assert dropped.status_code == 503, dropped.content
    assert dropped.json()["error"] == "unavailable"
    assert "send it again" in dropped.json()["detail"]
    assert answers_of(task) == [] and not Spot.objects.filter(task=task).exists(), "rolled back"
    assert Assignment.objects.get(id=lease.id).status == Assignment.Status.LEASED

    retried = post_answer(APIClient(), spotter, lease, "k-1")
    assert retried.status_code == 200, retried.content
    again = post_answer(APIClient(), spotter, lease, "k-1")
    assert again.status_code == 200 and again.json() == retried.json()
    assert answers_of(task) == ["k-1"]
    assert Spot.objects.filter(task=task).count() == 2
    assert Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_submit_sent_ten_times_at_once_is_one_answer(leased):
    task, lease, spotter = leased
    responses = fire_together(10, lambda i, client: post_answer(client, spotter, lease, "same"))
    assert statuses(responses) == {200: 10}
    assert len({str(response.json()) for response in responses}) == 1, "the same answer"
    assert answers_of(task) == ["same"]
    assert Spot.objects.filter(task=task).count() == 2
    assert Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_keys_for_one_slot_at_once_store_one_answer(leased):
    """Two tabs each retrying their own answer: one key wins (all its sends 200), the other
    key's sends are 409 wrong_state; one answer is stored."""
    task, lease, spotter = leased
    keys = [str(uuid.uuid4()), str(uuid.uuid4())]
    responses = fire_together(
        10, lambda i, client: post_answer(client, spotter, lease, keys[i % 2])
    )
    assert statuses(responses) == {200: 5, 409: 5}
    (stored,) = answers_of(task)
    winners = {keys[i % 2] for i, r in enumerate(responses) if r.status_code == 200}
    assert winners == {stored}
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"wrong_state"}
    assert Spot.objects.filter(task=task).count() == 2
