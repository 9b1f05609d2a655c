"""The MTurk HIT page under races (PostgreSQL, one connection per thread, released together):
a worker's first visit sent several times at once makes one account, one MTurk assignment and
one lease; more workers than answers on one HIT get exactly as many leases as answers."""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth.models import User

from annotation.models import Assignment
from annotation.models.marketplace import MTurkAssignment, MTurkWorker
from annotation.stages.labeling import labeling_tasks_post
from tests.annotation.test_races import celery_join_flag_restored, fire_together, postgres_only
from tests.marketplace.test_worker_entry import ASSIGNMENT, WORKER, accepted, photo, publish

__all__ = ["celery_join_flag_restored", "postgres_only"]  # fixtures used here


def a_hit(project, answers: int):  # type: ignore[no-untyped-def]
    project.stage_settings = {"labeling_answers_per_image": answers}
    project.save()
    (task,) = labeling_tasks_post(project=project, images=[photo(project)])
    return publish(task)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_first_visit_sent_six_times_at_once_makes_one_of_everything(postgres_only, coco_project):  # type: ignore[no-untyped-def]
    hit = a_hit(coco_project, answers=3)
    responses = fire_together(6, lambda i, client: client.get(accepted(hit)))
    assert Counter(r.status_code for r in responses) == {200: 6}
    assert User.objects.filter(username=f"mturk-{WORKER}").count() == 1
    assert MTurkWorker.objects.count() == 1
    assert list(MTurkAssignment.objects.values_list("assignment_id", flat=True)) == [ASSIGNMENT]
    assert Assignment.objects.filter(status=Assignment.Status.LEASED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_more_workers_than_answers_get_exactly_as_many_leases(postgres_only, coco_project):  # type: ignore[no-untyped-def]
    hit = a_hit(coco_project, answers=2)

    def visit(i: int, client):  # type: ignore[no-untyped-def]
        return client.get(
            accepted(hit, worker=f"A{i}RACEWORKER", assignment=f"3RACEASSIGNMENT{i:015d}")
        )

    responses = fire_together(6, visit)
    assert Counter(r.status_code for r in responses) == {200: 2, 410: 4}
    leased = Assignment.objects.filter(task=hit.task, status=Assignment.Status.LEASED)
    assert leased.count() == 2 and len({slot.worker_id for slot in leased}) == 2
