"""Hand-offs survive failures (issue 12), with a real Celery worker on Redis and PostgreSQL:
a worker SIGKILLed in the middle of a completion rule is restarted and the run ends with the
same data as an undisturbed one (no duplicate task, answer or annotation); a hand-off
message that was dropped is repaired by the sweep (`manage.py pipeline_sweep`)."""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from annotation.models import (
    Annotation,
    Assignment,
    Category,
    Project,
    Stage,
    Task,
    WorkerProfile,
)
from annotation.models.labeling import Spot
from annotation.models.segmentation import Segmentation, SegmentationProgress
from annotation.models.verification import GridOutcome, VerificationVote
from annotation.services import task_engine
from annotation.services.projects import project_create
from config.celery import app as celery_app
from tests.annotation.stages.test_labeling import DOG, make_image
from tests.annotation.stages.test_segmentation import answer_next, qualified, spot_pair, square
from tests.annotation.stages.test_verification import add_gold, gold_cells
from tests.pipelines.worker_process import WorkerProcess, services_available, wait_for

VISIBILITY_S = 3  # the restarted worker takes back a message unacknowledged this long


def in_process(execute: bool = True) -> contextlib.AbstractContextManager[None]:
    """Stands in for django_capture_on_commit_callbacks: these tests commit for real."""
    return contextlib.nullcontext()


@pytest.fixture
def worker(tmp_path) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    if not services_available():
        pytest.skip("needs PostgreSQL and Redis (the embedded default runs tasks in-process)")
    process = WorkerProcess(tmp_path, CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_S))
    eager = celery_app.conf.task_always_eager
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


def through_the_broker() -> None:
    """From here on every hand-off is a message on Redis for the worker process."""
    celery_app.conf.task_always_eager = False


def pair_at_the_cap_in_a_grid(name: str, make_worker) -> tuple[Project, Task]:  # type: ignore[no-untyped-def]
    """A project whose (image, dog) pair has 5 spots, 2 outlined masks at the cap of 2, both
    in one verification grid answered by 2 of its 3 voters (run in-process)."""
    project = project_create(name=name, template="coco")
    project.stage_settings = {"segmentation_max_instances": 2, "verification_grid_size": 6}
    project.save()
    add_gold(project, make_worker(WorkerProfile.Role.EXPERT))
    crosses = [(10 + 30 * i, 50) for i in range(5)]
    spot_pair(project, [crosses], make_worker, in_process)
    segmenter = qualified(make_worker, project)
    answer_next(segmenter, {"polygons": square(5, 45, 10)}, in_process)
    answer_next(segmenter, {"polygons": square(35, 45, 10)}, in_process)
    grid = Task.objects.get(project=project, stage=Stage.VERIFICATION)
    for number in range(2):
        vote_on(grid, make_worker(), key=f"vote-{number}")
    return project, grid


def outcome(project: Project) -> dict:
    """What a run leaves in the database, in a form two projects can be compared by."""
    tasks = Counter(Task.objects.filter(project=project).values_list("stage", "status").order_by())
    return {
        "tasks": dict(tasks),
        "answers": Assignment.objects.filter(
            task__project=project, status=Assignment.Status.SUBMITTED
        ).count(),
        "annotations": sorted(
            Annotation.objects.filter(project=project).values_list("iscrowd", "area")
        ),
        "grid_outcomes": GridOutcome.objects.filter(task__project=project).count(),
        "votes": VerificationVote.objects.filter(cell__task__project=project).count(),
        "masks": sorted(
            Segmentation.objects.filter(image__project=project).values_list("status", flat=True)
        ),
        "pairs": sorted(
            SegmentationProgress.objects.filter(image__project=project).values_list(
                "state", flat=True
            )
        ),
    }


def blocked_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def vote_on(grid: Task, voter, key: str) -> None:  # type: ignore[no-untyped-def]
    """A voter who catches the gold and judges both masks good."""
    lease = task_engine.task_next_for_worker(
        worker=voter, stage=Stage.VERIFICATION, project=grid.project
    )
    assert lease is not None and lease.task_id == grid.id
    task_engine.assignment_submit(
        assignment_id=lease.id, worker=voter, answer={"poor": gold_cells(grid)}, key=key
    )


def submit_last_grid_answer(grid: Task, make_worker) -> None:  # type: ignore[no-untyped-def]
    vote_on(grid, make_worker(), key="last")


def finished(project: Project) -> bool:
    return Task.objects.filter(project=project, stage=Stage.CROWD).exists()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_inside_a_completion_rule_ends_like_an_undisturbed_run(worker, make_worker):
    disturbed, disturbed_grid = pair_at_the_cap_in_a_grid("Killed mid-rule", make_worker)
    calm, calm_grid = pair_at_the_cap_in_a_grid("Undisturbed", make_worker)
    through_the_broker()
    worker.start()

    # An admin's open transaction holds one of the grid's masks: the grid's completion rule
    # (votes judged, masks decided, annotations written) stops on it, half done.
    mask = Segmentation.objects.filter(image__project=disturbed).order_by("id").first()
    assert mask is not None
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]
    ) as holder:
        holder.execute("SELECT id FROM annotation_segmentation WHERE id = %s FOR UPDATE", [mask.id])
        submit_last_grid_answer(disturbed_grid, make_worker)
        wait_for(lambda: blocked_backends() == 1, "the completion rule to reach the locked mask")
        taken = time.monotonic()  # the worker took the message before this
        worker.kill()
        holder.rollback()
    wait_for(lambda: blocked_backends() == 0, "the killed worker's transaction to end")
    assert not GridOutcome.objects.filter(task=disturbed_grid).exists(), "rolled back"
    assert not Annotation.objects.filter(project=disturbed).exists()

    (interrupted,) = re.findall(r"advance_task\[([0-9a-f-]+)\] received", worker.output())
    assert f"advance_task[{interrupted}] succeeded" not in worker.output()

    time.sleep(max(0.0, VISIBILITY_S + 1 - (time.monotonic() - taken)))
    worker.start()  # takes back the unacknowledged message and runs the rule again
    wait_for(lambda: finished(disturbed), "the redelivered hand-off to reach crowd painting")
    assert f"advance_task[{interrupted}] succeeded" in worker.output(), "the same message"

    submit_last_grid_answer(calm_grid, make_worker)
    wait_for(lambda: finished(calm), "the undisturbed run to reach crowd painting")
    time.sleep(1)  # a duplicate run, had there been one, would land by now

    assert outcome(disturbed) == outcome(calm), worker.output()[-3000:]
    result = outcome(disturbed)
    assert result["annotations"] == [(False, 100.0), (False, 100.0)], "each mask annotated once"
    assert result["grid_outcomes"] == 3 and result["votes"] == 6, "each answer judged once"
    assert result["tasks"][(Stage.CROWD, Task.Status.OPEN)] == 1, "one painting task"
    assert result["pairs"] == [SegmentationProgress.State.CROWD]


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_sweep_repairs_a_hand_off_whose_message_was_dropped(worker, make_worker):
    project = project_create(name="Dropped message", template="coco")
    dog = Category.objects.get(taxonomy__project=project, coco_id=DOG)
    tasks = [
        task_engine.task_post(
            project=project,
            stage=Stage.SPOTTING,
            answers_needed=1,
            category=dog,
            image=make_image(project, width=200, height=100),
            payload={"max_spots": 10},
        )
        for _ in range(2)
    ]
    through_the_broker()

    def answer(task: Task) -> None:
        spotter = make_worker()
        lease = task_engine.task_next_for_worker(worker=spotter, stage=Stage.SPOTTING)
        assert lease is not None and lease.task_id == task.id
        task_engine.assignment_submit(
            assignment_id=lease.id, worker=spotter, key=f"spots-{task.id}",
            answer={"spots": [{"x": 30, "y": 40}, {"x": 120, "y": 60}]},
        )  # fmt: skip

    answer(tasks[0])  # its hand-off message is queued on Redis, then lost
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    dropped = [key for key in broker.scan_iter(f"{prefix}default*")]
    assert dropped, "the hand-off was queued"
    broker.delete(*dropped)

    worker.start()
    answer(tasks[1])
    wait_for(
        lambda: Task.objects.filter(stage=Stage.SEGMENTATION, image=tasks[1].image).exists(),
        "the undisturbed hand-off",
    )
    assert not Spot.objects.filter(task=tasks[0]).exists(), "the dropped hand-off never ran"

    call_command("pipeline_sweep", "--grace", "0", stdout=(out := _Output()))
    assert f"completion rules run again: 1 ({tasks[0].id})" in out.text
    wait_for(
        lambda: Task.objects.filter(stage=Stage.SEGMENTATION, image=tasks[0].image).exists(),
        "the repaired hand-off",
    )
    time.sleep(1)
    for task in tasks:
        assert Spot.objects.filter(task=task).count() == 2
        (segmentation,) = Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image)
        assert (segmentation.payload["spot"]["x"], segmentation.payload["spot"]["y"]) == (30, 40)

    call_command("pipeline_sweep", "--grace", "0", stdout=(again := _Output()))
    assert "nothing to repair" in again.text, "the sweep is idempotent"


class _Output:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass
