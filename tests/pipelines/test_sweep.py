"""The periodic sweep (`pipelines/sweep.py`, celery beat and `manage.py pipeline_sweep`)
finds what a lost hand-off message left behind and sends it on again, once; it waits out
the grace period, and costs a fixed handful of queries when nothing is wrong."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotation.models import Candidate, Category, ExportJob, Image, Stage, Task, WorkerProfile
from annotation.models.evaluation import Submission
from annotation.models.labeling import Spot
from annotation.models.segmentation import SegmentationProgress
from annotation.services import task_engine
from annotation.services.evaluation_server import release_create
from annotation.services.export_jobs import export_job_start
from annotation.services.projects import project_create
from annotation.stages import collection
from pipelines.sweep import pipeline_sweep
from tests.annotation.services.test_evaluation_server import GT_PATH, submit
from tests.annotation.stages.test_collection import DAY, add
from tests.annotation.stages.test_collection import answer_grid as answer_collection_grid
from tests.annotation.stages.test_crowd import crowd_pair
from tests.annotation.stages.test_labeling import DOG, make_image
from tests.annotation.stages.test_segmentation import answer_next, qualified, spot_pair, square
from tests.annotation.stages.test_verification import add_gold, make_mask

NOW = timedelta(0)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


def spotting_task(project) -> Task:  # type: ignore[no-untyped-def]
    return task_engine.task_post(
        project=project,
        stage=Stage.SPOTTING,
        answers_needed=1,
        image=make_image(project, width=200, height=100),
        category=Category.objects.get(taxonomy__project=project, coco_id=DOG),
        payload={"max_spots": 10},
    )


def answer_dropping_the_hand_off(task: Task, worker, capture) -> None:  # type: ignore[no-untyped-def]
    """Submit the last answer; the hand-off sent after the commit is lost."""
    lease = task_engine.task_next_for_worker(worker=worker, stage=task.stage)
    assert lease is not None and lease.task_id == task.id
    with capture(execute=False) as lost:
        task_engine.assignment_submit(
            assignment_id=lease.id,
            worker=worker,
            key=f"drop-{task.id}",
            answer={"spots": [{"x": 30, "y": 40}, {"x": 120, "y": 60}]},
        )
    assert lost, "a hand-off was due"


@pytest.mark.django_db
def test_a_complete_task_whose_rule_never_ran_is_advanced_once_after_the_grace(
    coco_project, make_worker, capture
):
    task = spotting_task(coco_project)
    answer_dropping_the_hand_off(task, make_worker(), capture)
    assert not Spot.objects.exists()

    with capture(execute=True):
        early = pipeline_sweep()  # within the grace period: the message may be on its way
    assert early.repairs == 0 and not Spot.objects.exists()

    with capture(execute=True):
        report = pipeline_sweep(grace=NOW)
    assert report.completions_rerun == [task.id]
    assert Spot.objects.filter(task=task).count() == 2
    (segmentation,) = Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image)
    assert segmentation.payload["spot"]["x"] == 30

    with capture(execute=True):
        again = pipeline_sweep(grace=NOW)
    assert again.repairs == 0, again.lines()
    assert Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image).count() == 1


@pytest.mark.django_db
def test_spots_whose_segmentation_hand_off_was_lost_get_their_first_task(
    coco_project, make_worker, capture
):
    task = spotting_task(coco_project)
    answer_dropping_the_hand_off(task, make_worker(), capture)
    with capture(execute=False) as lost:
        task_engine.task_advance(task_id=task.id)  # the rule runs; spots_ready is lost
    assert lost and Spot.objects.filter(task=task).count() == 2
    assert not Task.objects.filter(stage=Stage.SEGMENTATION).exists()

    with capture(execute=True):
        report = pipeline_sweep(grace=NOW)
    assert report.segmentation_started == [coco_project.id]
    assert Task.objects.filter(stage=Stage.SEGMENTATION, image=task.image).count() == 1


@pytest.mark.django_db
def test_a_pair_marked_for_crowd_painting_gets_its_one_task(coco_project, capture):
    image, person = crowd_pair(coco_project)
    with capture(execute=True):
        report = pipeline_sweep(grace=NOW)
    assert report.crowd_posted == [coco_project.id]
    assert Task.objects.filter(stage=Stage.CROWD, image=image, category=person).count() == 1
    with capture(execute=True):
        assert pipeline_sweep(grace=NOW).repairs == 0


@pytest.mark.django_db
def test_a_full_grid_of_waiting_masks_is_posted(coco_project, make_worker, capture):
    coco_project.stage_settings = {"verification_grid_size": 8}  # 4 masks + 4 gold
    coco_project.save()
    add_gold(coco_project, make_worker(WorkerProfile.Role.EXPERT))
    segmenter = make_worker()
    for number in range(3):
        make_mask(coco_project, segmenter, x=10 + 40 * number)
    with capture(execute=True):
        assert pipeline_sweep(grace=NOW).grids_posted == [], "3 masks: not a full grid yet"
    make_mask(coco_project, segmenter, x=130)
    with capture(execute=True):
        report = pipeline_sweep(grace=NOW)
    assert report.grids_posted == [coco_project.id]
    assert Task.objects.filter(stage=Stage.VERIFICATION).count() == 1


@pytest.mark.django_db
def test_accepted_photos_without_labeling_tasks_get_them(make_worker, capture):
    project = project_create(name="Street", categories=[{"name": "dog"}, {"name": "car"}])
    kept = [add(project, seed, owner=f"o{seed}", taken=DAY) for seed in range(2)]
    grid = collection.collection_grids_post(project=project, include_partial=True)[0]
    answer_collection_grid(grid, [make_worker() for _ in range(3)], [[], [], []], capture)
    accepted = list(
        Candidate.objects.filter(id__in=[c.id for c in kept]).values_list("image_id", flat=True)
    )
    assert all(accepted)
    # The labeling tasks never got posted (the worker died between the two steps).
    Task.objects.filter(project=project, stage=Stage.LABELING).delete()

    with capture(execute=True):
        report = pipeline_sweep(grace=NOW)
    assert sorted(report.labeling_posted) == sorted(accepted)
    labeling = Task.objects.filter(project=project, stage=Stage.LABELING)
    assert sorted(labeling.values_list("image_id", flat=True)) == sorted(accepted)
    with capture(execute=True):
        assert pipeline_sweep(grace=NOW).repairs == 0


@pytest.mark.django_db
def test_an_evaluation_left_pending_past_its_time_limit_is_scored(coco_project, annotator, capture):
    release = release_create(
        project=coco_project, name="test-dev", ground_truth_json=GT_PATH.read_bytes()
    )
    with capture(execute=False):  # its message is lost
        submission = submit(release, annotator, b"[]")
    assert submission.status == Submission.Status.PENDING
    with capture(execute=True):
        assert pipeline_sweep(grace=NOW).evaluations_requeued == [], "may still be running"
        later = timezone.now() + timedelta(hours=2)
        report = pipeline_sweep(now=later, grace=NOW)
    assert report.evaluations_requeued == [submission.id]
    submission.refresh_from_db()
    assert submission.status != Submission.Status.PENDING


@pytest.mark.django_db
def test_an_export_job_whose_worker_died_is_queued_again_and_finished(
    coco_project, capture, settings
):
    settings.COCOFORGE_EXPORT_STALE_SECONDS = 60
    with capture(execute=False):  # its worker dies: the job stays `running`, no heartbeat since
        job = export_job_start(project=coco_project, split="all", kinds=["instances"])
    ExportJob.objects.filter(id=job.id).update(
        status=ExportJob.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    with capture(execute=True):
        report = pipeline_sweep(grace=NOW)
    assert report.exports_recovered == [job.id]
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE
    with capture(execute=True):
        assert pipeline_sweep(grace=NOW).exports_recovered == [], "once, not on every sweep"


@pytest.mark.django_db
def test_expired_leases_go_back_to_the_pool(coco_project, make_worker):
    task = spotting_task(coco_project)
    task_engine.task_next_for_worker(worker=make_worker(), stage=Stage.SPOTTING)
    report = pipeline_sweep(now=timezone.now() + timedelta(days=1))
    assert report.leases_released == 1
    assert task.assignments.get().worker is None


def a_finished_project(name: str, make_worker, capture) -> None:  # type: ignore[no-untyped-def]
    """Spotted, segmented to the end, one crowd pair painted task posted, a scored
    submission: every hand-off ran."""
    project = project_create(name=name, template="coco")
    image, category = spot_pair(project, [[(30, 30)]], make_worker, capture)
    answer_next(qualified(make_worker, project), {"polygons": square(20, 20)}, capture)
    crowd_pair(project)
    with capture(execute=True):
        pipeline_sweep(grace=NOW)  # posts the crowd task: from here nothing is wrong
    assert SegmentationProgress.objects.filter(image=image, category=category).exists()
    assert Image.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_when_nothing_is_wrong_the_sweep_costs_the_same_few_queries(
    make_worker, capture, django_assert_num_queries
):
    a_finished_project("One", make_worker, capture)
    with django_assert_num_queries(11):
        assert pipeline_sweep(grace=NOW).repairs == 0
    for name in ("Two", "Three"):
        a_finished_project(name, make_worker, capture)
    with django_assert_num_queries(11):
        assert pipeline_sweep(grace=NOW).repairs == 0


@pytest.mark.django_db
def test_the_command_says_what_it_repaired_and_refuses_a_negative_grace(coco_project, capture):
    crowd_pair(coco_project)
    out = StringIO()
    with capture(execute=True):
        call_command("pipeline_sweep", "--grace", "0", stdout=out)
    assert f"projects asked to post crowd painting tasks: 1 ({coco_project.id})" in out.getvalue()
    assert "1 lost hand-off(s) sent on again" in out.getvalue()
    out = StringIO()
    call_command("pipeline_sweep", "--grace", "0", stdout=out)
    assert "nothing to repair" in out.getvalue()
    with pytest.raises(CommandError, match="--grace"):
        call_command("pipeline_sweep", "--grace", "-1")
