"""Leases that run out, seen through the API (issue 17): the lease query takes a slot whose
lease ran out directly, without any sweep or global release first; the old holder's late
submit is still told 409 "lease expired"; a lease request with nothing to lease changes no
other slot. Time passes by moving a lease's end into the past in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Assignment, Stage
from annotation.services import task_engine


def post_task(project, answers_needed=1):  # type: ignore[no-untyped-def]
    return task_engine.task_post(
        project=project,
        stage=Stage.LABELING,
        answers_needed=answers_needed,
        payload={"options": ["yes", "no"]},
    )


def client_for(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def lease(client: APIClient):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/tasks/next/", {"stage": "labeling"}, format="json")


def submit(client: APIClient, assignment_id: int, key: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/assignments/{assignment_id}/submit/",
        {"answer": {"choice": "yes"}, "idempotency_key": key},
        format="json",
    )


def run_out(assignment_id: int) -> None:
    """The lease's time is over (as if 15 minutes had passed)."""
    Assignment.objects.filter(id=assignment_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
class TestLeaseExpiry:
    def test_a_run_out_slot_goes_to_the_next_worker_without_a_sweep(
        self, coco_project, choice_stage, make_worker
    ):
        task = post_task(coco_project)
        slow, other = make_worker(), make_worker()
        slow_api, other_api = client_for(slow), client_for(other)
        first = lease(slow_api)
        assert first.status_code == 200
        slot_id = first.json()["id"]
        assert lease(other_api).status_code == 204, "the only slot is held"

        run_out(slot_id)
        # Nothing released it: the slot still reads "leased" to the slow worker ...
        slot = Assignment.objects.get(id=slot_id)
        assert (slot.status, slot.worker_id) == ("leased", slow.id)
        # ... and the next lease request takes it over directly.
        taken = lease(other_api)
        assert taken.status_code == 200 and taken.json()["id"] == slot_id
        slot.refresh_from_db()
        assert (slot.status, slot.worker_id) == ("leased", other.id)
        assert slot.lease_expires_at > timezone.now()
        assert (slot.expired_leases, slot.expired_worker_id) == (1, slow.id)

        late = submit(slow_api, slot_id, "late")
        assert late.status_code == 409
        assert "went back to the pool" in late.json()["detail"]
        assert submit(other_api, slot_id, "on-time").status_code == 200
        slot.refresh_from_db()
        assert (slot.status, slot.submission_key, slot.worker_id) == (
            "submitted",
            "on-time",
            other.id,
        )
        task.refresh_from_db()
        assert task.status == "complete"
        assert task.assignments.filter(status="submitted").count() == 1

    def test_a_late_submit_on_a_run_out_lease_nobody_took_is_refused(
        self, coco_project, choice_stage, annotator
    ):
        post_task(coco_project)
        api = client_for(annotator)
        slot_id = lease(api).json()["id"]
        run_out(slot_id)
        late = submit(api, slot_id, "late")
        assert late.status_code == 409 and "ran out" in late.json()["detail"]
        assert Assignment.objects.get(id=slot_id).submission_key is None

    def test_the_old_holder_may_lease_the_task_again_and_answer(
        self, coco_project, choice_stage, annotator
    ):
        task = post_task(coco_project, answers_needed=2)
        api = client_for(annotator)
        slot_id = lease(api).json()["id"]
        run_out(slot_id)
        again = lease(api)
        assert again.status_code == 200 and again.json()["task"]["id"] == task.id
        assert submit(api, again.json()["id"], "retry").status_code == 200
        mine = task.assignments.filter(worker=annotator)
        assert list(mine.values_list("status", flat=True)) == ["submitted"]
        assert task.assignments.filter(status="leased").count() == 0
        assert sum(task.assignments.values_list("expired_leases", flat=True)) == 1

    def test_a_lease_with_nothing_to_take_leaves_other_run_out_leases_alone(
        self, coco_project, choice_stage, make_worker
    ):
        done = post_task(coco_project, answers_needed=2)
        waiting = post_task(coco_project, answers_needed=1)
        early, late, idle = make_worker(), make_worker(), make_worker()
        early_api = client_for(early)
        first = lease(early_api).json()
        assert first["task"]["id"] == done.id
        assert submit(early_api, first["id"], "a").status_code == 200
        # `late` holds the other slot of `done`; `idle` holds the only slot of `waiting`.
        held = lease(client_for(late)).json()
        assert held["task"]["id"] == done.id
        idle_slot = lease(client_for(idle)).json()
        assert idle_slot["task"]["id"] == waiting.id
        run_out(held["id"])
        run_out(idle_slot["id"])

        # `early` answered `done` and may not take its run-out slot; `waiting`'s run-out
        # slot is theirs to take. The lease takes that one and touches nothing else.
        again = lease(early_api)
        assert again.status_code == 200 and again.json()["id"] == idle_slot["id"]
        untouched = Assignment.objects.get(id=held["id"])
        assert (untouched.status, untouched.worker_id, untouched.expired_leases) == (
            "leased",
            late.id,
            0,
        )
        assert submit(early_api, idle_slot["id"], "b").status_code == 200
        # Nothing left for `early`: a 204, and the other run-out lease is still as it was.
        assert lease(early_api).status_code == 204
        untouched.refresh_from_db()
        assert (untouched.status, untouched.worker_id, untouched.expired_leases) == (
            "leased",
            late.id,
            0,
        )
