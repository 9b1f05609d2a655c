"""The task engine: leasing, expiry, exactly-once submission, rejection, completion."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from annotation.errors import (
    AnswerInvalid,
    KeyReused,
    LeaseExpired,
    NotYours,
    StageNotAvailable,
    WorkerBlocked,
    WrongState,
)
from annotation.models import Assignment, Stage, Task
from annotation.services import task_engine
from tests.conftest import on_postgres


def post_choice_task(project, answers_needed=3, **kwargs):  # type: ignore[no-untyped-def]
    return task_engine.task_post(
        project=project,
        stage=Stage.LABELING,
        answers_needed=answers_needed,
        payload={"options": ["yes", "no"]},
        **kwargs,
    )


@pytest.mark.django_db
class TestLeasing:
    def test_a_task_gets_one_slot_per_answer_needed(self, coco_project, choice_stage):
        task = post_choice_task(coco_project, answers_needed=8)
        assert task.assignments.count() == 8
        assert set(task.assignments.values_list("status", flat=True)) == {"free"}

    def test_posting_for_a_stage_without_rules_is_refused(self, coco_project):
        with pytest.raises(StageNotAvailable):
            task_engine.task_post(project=coco_project, stage="dreaming", answers_needed=1)

    def test_a_worker_never_gets_two_slots_of_one_task(self, coco_project, choice_stage, annotator):
        task = post_choice_task(coco_project, answers_needed=3)
        first = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        again = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        assert first is not None and again is not None
        assert again.id == first.id, "a held lease is handed back, not a second slot"
        assert task.assignments.filter(worker=annotator).count() == 1

    def test_a_worker_does_not_get_a_task_they_answered(
        self, coco_project, choice_stage, annotator
    ):
        post_choice_task(coco_project, answers_needed=3)
        lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        task_engine.assignment_submit(
            assignment_id=lease.id, worker=annotator, answer={"choice": "yes"}, key="k1"
        )
        assert task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING) is None

    def test_different_workers_fill_the_slots_and_no_more(
        self, coco_project, choice_stage, make_worker
    ):
        task = post_choice_task(coco_project, answers_needed=2)
        workers = [make_worker() for _ in range(3)]
        leases = [task_engine.task_next_for_worker(worker=w, stage=Stage.LABELING) for w in workers]
        assert [lease is not None for lease in leases] == [True, True, False]
        assert task.assignments.filter(status="leased").count() == 2

    def test_expired_leases_return_to_the_pool(self, coco_project, choice_stage, make_worker):
        task = post_choice_task(coco_project, answers_needed=1)
        slow, other = make_worker(), make_worker()
        lease = task_engine.task_next_for_worker(worker=slow, stage=Stage.LABELING)
        assert task_engine.task_next_for_worker(worker=other, stage=Stage.LABELING) is None
        later = timezone.now() + timedelta(seconds=lease_seconds() + 1)
        taken_over = task_engine.task_next_for_worker(worker=other, stage=Stage.LABELING, now=later)
        assert taken_over is not None and taken_over.id == lease.id
        taken_over.refresh_from_db()
        assert taken_over.worker == other and taken_over.expired_leases == 1
        assert task.assignments.filter(status="leased").count() == 1
        with pytest.raises(LeaseExpired, match="went back to the pool"):
            task_engine.assignment_submit(
                assignment_id=lease.id, worker=slow, answer={"choice": "no"}, key="late"
            )

    def test_priority_orders_the_pool(self, coco_project, choice_stage, annotator):
        later = post_choice_task(coco_project, priority=5)
        sooner = post_choice_task(coco_project, priority=1)
        lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        assert lease.task_id == sooner.id != later.id

    def test_a_blocked_worker_gets_no_work(self, coco_project, choice_stage, annotator):
        post_choice_task(coco_project)
        annotator.profile.blocked = True
        annotator.profile.save()
        with pytest.raises(WorkerBlocked):
            task_engine.task_next_for_worker(worker=annotator)

    def test_release_gives_the_slot_back(self, coco_project, choice_stage, make_worker):
        post_choice_task(coco_project, answers_needed=1)
        first, second = make_worker(), make_worker()
        lease = task_engine.task_next_for_worker(worker=first, stage=Stage.LABELING)
        task_engine.assignment_release(assignment_id=lease.id, worker=first)
        assert task_engine.task_next_for_worker(worker=second, stage=Stage.LABELING).id == lease.id


def lease_seconds() -> int:
    from django.conf import settings

    return settings.TASK_LEASE_SECONDS


@pytest.mark.django_db
class TestSubmission:
    def test_a_retried_submit_is_counted_once(self, coco_project, choice_stage, annotator):
        """A retried submit is counted once."""
        task = post_choice_task(coco_project, answers_needed=2)
        lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        first = task_engine.assignment_submit(
            assignment_id=lease.id, worker=annotator, answer={"choice": "yes"}, key="abc"
        )
        retry = task_engine.assignment_submit(
            assignment_id=lease.id, worker=annotator, answer={"choice": "no"}, key="abc"
        )
        assert retry.id == first.id and retry.answer == {"choice": "yes"}
        assert task.assignments.filter(status="submitted").count() == 1
        task.refresh_from_db()
        assert task.status == Task.Status.OPEN

    def test_a_second_answer_with_a_new_key_is_refused(self, coco_project, choice_stage, annotator):
        post_choice_task(coco_project, answers_needed=2)
        lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        task_engine.assignment_submit(
            assignment_id=lease.id, worker=annotator, answer={"choice": "yes"}, key="a"
        )
        with pytest.raises(WrongState):
            task_engine.assignment_submit(
                assignment_id=lease.id, worker=annotator, answer={"choice": "no"}, key="b"
            )

    def test_a_key_cannot_be_reused_for_another_task(self, coco_project, choice_stage, annotator):
        post_choice_task(coco_project)
        post_choice_task(coco_project)
        one = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        task_engine.assignment_submit(
            assignment_id=one.id, worker=annotator, answer={"choice": "yes"}, key="same"
        )
        two = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        assert two.id != one.id
        with pytest.raises(KeyReused):
            task_engine.assignment_submit(
                assignment_id=two.id, worker=annotator, answer={"choice": "yes"}, key="same"
            )

    def test_an_invalid_answer_stores_nothing(self, coco_project, choice_stage, annotator):
        post_choice_task(coco_project)
        lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
        with pytest.raises(AnswerInvalid):
            task_engine.assignment_submit(
                assignment_id=lease.id, worker=annotator, answer={"choice": "maybe"}, key="x"
            )
        lease.refresh_from_db()
        assert lease.status == "leased" and lease.answer is None and lease.submission_key is None

    def test_someone_elses_lease_cannot_be_answered(self, coco_project, choice_stage, make_worker):
        post_choice_task(coco_project)
        owner, intruder = make_worker(), make_worker()
        lease = task_engine.task_next_for_worker(worker=owner, stage=Stage.LABELING)
        with pytest.raises(NotYours):
            task_engine.assignment_submit(
                assignment_id=lease.id, worker=intruder, answer={"choice": "yes"}, key="x"
            )

    def test_the_last_answer_completes_the_task_and_runs_the_stage_rule(
        self, coco_project, choice_stage, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_choice_task(coco_project, answers_needed=3)
        for choice in ["yes", "no", "yes"]:
            worker = make_worker()
            lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.LABELING)
            with django_capture_on_commit_callbacks(execute=True):
                task_engine.assignment_submit(
                    assignment_id=lease.id,
                    worker=worker,
                    answer={"choice": choice},
                    key=f"{worker.pk}",
                )
        task.refresh_from_db()
        assert task.status == Task.Status.COMPLETE and task.completed_at is not None
        assert task.result == {"majority": "yes", "votes": 3}

    def test_a_rejected_answer_goes_back_to_the_pool(
        self, coco_project, choice_stage, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_choice_task(coco_project, answers_needed=1)
        sloppy, careful = make_worker(), make_worker()
        lease = task_engine.task_next_for_worker(worker=sloppy, stage=Stage.LABELING)
        with django_capture_on_commit_callbacks(execute=True):
            task_engine.assignment_submit(
                assignment_id=lease.id, worker=sloppy, answer={"choice": "no"}, key="s"
            )
        task.refresh_from_db()
        assert task.status == Task.Status.COMPLETE
        task_engine.assignment_reject(assignment_id=lease.id, reason="below the precision line")
        task.refresh_from_db()
        assert task.status == Task.Status.OPEN and task.result is None
        assert task_engine.task_next_for_worker(worker=sloppy, stage=Stage.LABELING) is None
        again = task_engine.task_next_for_worker(worker=careful, stage=Stage.LABELING)
        assert again is not None and again.task_id == task.id


@pytest.mark.django_db
class TestPostingMany:
    def test_many_tasks_and_all_their_slots_are_two_inserts(
        self, coco_project, choice_stage, django_assert_max_num_queries
    ):
        from annotation.models import Image

        images = [
            Image.objects.create(
                project=coco_project,
                file_name=f"{n}.jpg",
                width=10,
                height=10,
                checksum_sha256=f"{n:064x}",
                source=Image.Source.FOLDER,
            )
            for n in range(5)
        ]
        category = coco_project.taxonomy.categories.order_by("coco_id").first()
        items = [
            {"image": image if n % 2 else image.id, "payload": {"n": n}, "priority": -n}
            for n, image in enumerate(images)
        ]
        items[0]["category"] = category
        with django_assert_max_num_queries(4):  # savepoint, 2 inserts, release
            tasks = task_engine.tasks_post_many(
                project=coco_project, stage=Stage.LABELING, answers_needed=3, items=items
            )
        assert [t.image_id for t in tasks] == [i.id for i in images]
        assert [t.payload for t in tasks] == [{"n": n} for n in range(5)]
        assert [t.priority for t in tasks] == [0, -1, -2, -3, -4]
        assert tasks[0].category_id == category.id and tasks[1].category_id is None
        stored = Task.objects.filter(id__in=[t.id for t in tasks])
        assert stored.count() == 5
        assert {t.stage for t in stored} == {Stage.LABELING}
        assert {t.status for t in stored} == {Task.Status.OPEN}
        for task in stored:
            assert task.answers_needed == 3
            assert list(task.assignments.values_list("status", flat=True)) == ["free"] * 3

    def test_the_same_rules_as_posting_one(self, coco_project, choice_stage):
        with pytest.raises(StageNotAvailable):
            task_engine.tasks_post_many(
                project=coco_project, stage="dreaming", answers_needed=1, items=[{}]
            )
        with pytest.raises(AnswerInvalid):
            task_engine.tasks_post_many(
                project=coco_project, stage=Stage.LABELING, answers_needed=0, items=[{}]
            )
        assert (
            task_engine.tasks_post_many(
                project=coco_project, stage=Stage.LABELING, answers_needed=1, items=[]
            )
            == []
        )
        assert not Task.objects.exists()


def run_concurrently(count: int, work) -> list:  # type: ignore[no-untyped-def]
    """Run `work(i)` in `count` threads released at the same moment; each thread has its
    own database connection, as concurrent web requests do."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as error:  # collected and re-raised in the test thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_next_task_calls_hand_out_exactly_eight_leases(
    coco_project, choice_stage, make_worker
):
    """50 concurrent `next task` calls against a task needing 8 answers lease exactly 8."""
    if not on_postgres():
        pytest.skip("row locks and SKIP LOCKED are PostgreSQL's; SQLite serialises writers")
    task = post_choice_task(coco_project, answers_needed=8)
    workers = [make_worker() for _ in range(50)]
    leases = run_concurrently(
        50, lambda i: task_engine.task_next_for_worker(worker=workers[i], stage=Stage.LABELING)
    )
    handed_out = [lease for lease in leases if lease is not None]
    assert len(handed_out) == 8
    assert len({lease.id for lease in handed_out}) == 8
    assert Assignment.objects.filter(task=task, status="leased").count() == 8
    assert Assignment.objects.filter(task=task).count() == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_submit_count_once(coco_project, choice_stage, annotator):
    """Ten simultaneous retries of the same submit (same key) are counted once."""
    task = post_choice_task(coco_project, answers_needed=2)
    lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
    results = run_concurrently(
        10,
        lambda i: (
            task_engine.assignment_submit(
                assignment_id=lease.id, worker=annotator, answer={"choice": "yes"}, key="retry-me"
            ).id
        ),
    )
    assert results == [lease.id] * 10
    assert Assignment.objects.filter(task=task, status="submitted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_leasing_never_oversubscribes_on_any_database(
    coco_project, choice_stage, make_worker
):
    """On SQLite too (no row locks), the compare-and-swap keeps leases within the slots."""
    task = post_choice_task(coco_project, answers_needed=3)
    workers = [make_worker() for _ in range(12)]
    leases = run_concurrently(
        12, lambda i: task_engine.task_next_for_worker(worker=workers[i], stage=Stage.LABELING)
    )
    assert sum(lease is not None for lease in leases) == 3
    assert Assignment.objects.filter(task=task, status="leased").count() == 3
    assert connection.vendor in {"postgresql", "sqlite"}
