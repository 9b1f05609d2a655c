"""The broker restarts (issue 17): a private Redis without persistence is stopped in the
middle of a run and started again, empty. Answers given while it is down are stored and
answered as usual; the hand-offs lost with it are repaired by the sweep; hand-offs after the
restart reach the reconnected worker. Nothing lost, nothing done twice."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from annotation.models import Category, Stage, Task
from annotation.models.labeling import Spot
from annotation.services import task_engine
from annotation.services.projects import project_create
from tests.annotation.stages.test_labeling import DOG, make_image
from tests.faults.redis_process import RedisProcess, celery_publishing_to
from tests.pipelines.worker_process import WorkerProcess, wait_for


@pytest.fixture
def broker(tmp_path) -> Iterator[RedisProcess]:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs the PostgreSQL test database")
    process = RedisProcess(tmp_path)
    if not process.binary:
        pytest.skip("needs redis-server on the PATH")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def spotting_tasks(make_worker, count: int) -> list[Task]:  # type: ignore[no-untyped-def]
    project = project_create(name="Broker restart", template="coco")
    dog = Category.objects.get(taxonomy__project=project, coco_id=DOG)
    return [
        task_engine.task_post(
            project=project,
            stage=Stage.SPOTTING,
            answers_needed=1,
            category=dog,
            image=make_image(project, width=200, height=100),
            payload={"max_spots": 10},
        )
        for _ in range(count)
    ]


def answer(task: Task, make_worker) -> None:  # type: ignore[no-untyped-def]
    spotter = make_worker()
    lease = task_engine.task_next_for_worker(worker=spotter, stage=Stage.SPOTTING)
    assert lease is not None and lease.task_id == task.id
    task_engine.assignment_submit(
        assignment_id=lease.id, worker=spotter, key=f"spots-{task.id}",
        answer={"spots": [{"x": 30, "y": 40}, {"x": 120, "y": 60}]},
    )  # fmt: skip


def handed_off(task: Task) -> bool:
    return Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image).exists()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_broker_restart_loses_no_hand_off_and_duplicates_none(broker, make_worker, tmp_path):
    before, during, after = spotting_tasks(make_worker, 3)
    worker = WorkerProcess(tmp_path, REDIS_URL=broker.url, CELERY_BROKER_URL=broker.url)
    with celery_publishing_to(broker.url):
        worker.start()
        try:
            answer(before, make_worker)
            wait_for(lambda: handed_off(before), "the hand-off before the restart")

            broker.stop()
            answer(during, make_worker)  # stored and answered; its message cannot be sent
            assert Task.objects.get(id=during.id).status == Task.Status.COMPLETE
            broker.start()  # empty: nothing was persisted

            answer(after, make_worker)
            wait_for(lambda: handed_off(after), "the reconnected worker to take new hand-offs")
            assert not handed_off(during), "its message was lost with the broker"

            out = StringIO()
            call_command("pipeline_sweep", "--grace", "0", stdout=out)
            assert f"completion rules run again: 1 ({during.id})" in out.getvalue()
            wait_for(lambda: handed_off(during), "the sweep's repair")
        finally:
            worker.stop()
    for task in (before, during, after):
        assert Spot.objects.filter(task=task).count() == 2, "each answer judged once"
        assert Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image).count() == 1
    again = StringIO()
    call_command("pipeline_sweep", "--grace", "0", stdout=again)
    assert "nothing to repair" in again.getvalue()
