"""Instance segmentation: tasks come from spots one after another per (image, category), a
spot covered by a live mask is skipped, the cap hands the rest to crowd painting, answers are
outlines or one of two explicit statements, and only qualified workers get the tasks."""

from __future__ import annotations

import pytest

from annotation.errors import AnswerInvalid
from annotation.models import Assignment, Category, Instance, Stage, Task, WorkerProfile
from annotation.models.segmentation import Qualification, Segmentation, SegmentationProgress
from annotation.services import task_engine
from annotation.stages import segmentation
from annotation.stages.segmentation import (
    segmentation_post_for_completed_spotting,
    segmentation_post_next,
    validate_segmentation_answer,
)
from tests.annotation.stages.test_labeling import DOG, make_image
from tests.annotation.stages.test_verification import add_gold, answer_grid, gold_cells

CAT = 17


def square(x: float, y: float, size: float = 20) -> list[list[float]]:
    return [[x, y, x + size, y, x + size, y + size, x, y + size]]


def spot_pair(project, crosses_by_worker, make_worker, capture, coco_id=DOG, image=None):  # type: ignore[no-untyped-def]
    """Run a real spotting task: each worker places its crosses; returns (image, category)."""
    image = image or make_image(project, width=200, height=100)
    category = Category.objects.get(taxonomy__project=project, coco_id=coco_id)
    task = task_engine.task_post(
        project=project,
        stage=Stage.SPOTTING,
        answers_needed=len(crosses_by_worker),
        image=image,
        category=category,
        payload={"max_spots": 10},
    )
    for number, crosses in enumerate(crosses_by_worker):
        worker = make_worker(WorkerProfile.Role.ANNOTATOR)
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.SPOTTING)
        assert lease is not None and lease.task_id == task.id
        answer = {"spots": [{"x": x, "y": y} for x, y in crosses]} if crosses else {"none": True}
        with capture(execute=True):
            task_engine.assignment_submit(
                assignment_id=lease.id, worker=worker, answer=answer, key=f"spot-{task.id}-{number}"
            )
    return image, category


def open_task(image, category) -> Task | None:  # type: ignore[no-untyped-def]
    return Task.objects.filter(
        stage=Stage.SEGMENTATION, image=image, category=category, status=Task.Status.OPEN
    ).first()


def qualified(make_worker, project, coco_id=DOG):  # type: ignore[no-untyped-def]
    worker = make_worker(WorkerProfile.Role.ANNOTATOR)
    Qualification.objects.create(
        worker=worker,
        category=Category.objects.get(taxonomy__project=project, coco_id=coco_id),
        passed=True,
        tries=1,
    )
    return worker


def answer_next(worker, answer, capture, seconds=12.5):  # type: ignore[no-untyped-def]
    lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.SEGMENTATION)
    assert lease is not None
    with capture(execute=True):
        task_engine.assignment_submit(
            assignment_id=lease.id,
            worker=worker,
            answer=answer,
            key=f"seg-{lease.id}",
            time_spent_seconds=seconds,
        )
    return lease


@pytest.fixture
def capture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


@pytest.mark.django_db
class TestPosting:
    def test_the_first_task_of_a_completed_spotting_pair_is_posted_once(
        self, coco_project, make_worker, capture
    ):
        image, _category = spot_pair(coco_project, [[(30, 30), (150, 50)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        assert segmentation_post_for_completed_spotting(project=coco_project.id) == 0
        tasks = Task.objects.filter(stage=Stage.SEGMENTATION, image=image)
        assert tasks.count() == 1, "one after another: only the first spot is posted"
        task = tasks.get()
        assert task.answers_needed == 1
        assert task.payload["spot"]["x"] == 30 and task.payload["spot"]["y"] == 30
        assert task.instance is not None and (task.instance.spot_x, task.instance.spot_y) == (
            30,
            30,
        )

    def test_the_next_task_is_posted_only_when_the_previous_is_answered(
        self, coco_project, make_worker, capture
    ):
        image, category = spot_pair(coco_project, [[(30, 30), (150, 50)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        first = open_task(image, category)
        assert segmentation_post_next(image=image, category=category) is None
        worker = qualified(make_worker, coco_project)
        answer_next(worker, {"polygons": square(20, 20), "vertices": 4, "edits": 1}, capture)
        first.refresh_from_db()
        assert first.status == Task.Status.COMPLETE
        second = open_task(image, category)
        assert second is not None and second.payload["spot"]["x"] == 150

    def test_a_spot_covered_by_a_pending_mask_is_skipped(self, coco_project, make_worker, capture):
        """Three workers spotted the same dog (crosses close together) and one other dog:
        after the first dog is outlined, the other crosses on it are covered and skipped."""
        image, category = spot_pair(
            coco_project,
            [[(30, 30), (150, 50)], [(32, 31)], [(28, 35), (152, 52)]],
            make_worker,
            capture,
        )
        segmentation_post_for_completed_spotting(project=coco_project)
        worker = qualified(make_worker, coco_project)
        answer_next(worker, {"polygons": square(20, 20, 25)}, capture)  # covers 30,30 32,31 28,35
        second = open_task(image, category)
        assert second.payload["spot"]["x"] in (150, 152)
        answer_next(worker, {"polygons": square(140, 40, 25)}, capture)  # covers both others
        assert open_task(image, category) is None
        progress = SegmentationProgress.objects.get(image=image, category=category)
        assert progress.state == SegmentationProgress.State.DONE
        assert Segmentation.objects.filter(image=image).count() == 2
        assert Task.objects.filter(stage=Stage.SEGMENTATION, image=image).count() == 2

    def test_a_rejected_mask_does_not_cover_its_spots(self, coco_project, make_worker, capture):
        image, category = spot_pair(coco_project, [[(30, 30)], [(31, 31)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        worker = qualified(make_worker, coco_project)
        answer_next(worker, {"polygons": square(20, 20)}, capture)
        # Verification (a later stage) rejects the mask; the other worker's cross is not
        # covered any more, so the object is posted again.
        Segmentation.objects.filter(image=image).update(status=Segmentation.Status.REJECTED)
        SegmentationProgress.objects.filter(image=image).update(
            state=SegmentationProgress.State.SEGMENTING
        )
        again = segmentation_post_next(image=image, category=category)
        assert again is not None and again.payload["spot"]["x"] == 31

    def test_past_the_cap_of_verified_instances_the_rest_goes_to_crowd_painting(
        self, coco_project, make_worker, capture
    ):
        """Issue 12: the pair waits while its capped masks are unverified, and goes to crowd
        painting (one task) once they are accepted with spots left beyond them."""
        coco_project.stage_settings = {
            "segmentation_max_instances": 2,
            "verification_grid_size": 6,  # 2 masks + 4 gold: the 2 capped masks fill a grid
        }
        coco_project.save()
        add_gold(coco_project, make_worker(WorkerProfile.Role.EXPERT))
        crosses = [(10 + 30 * i, 50) for i in range(5)]
        image, category = spot_pair(coco_project, [crosses], make_worker, capture)
        worker = qualified(make_worker, coco_project)
        answer_next(worker, {"polygons": square(5, 45, 10)}, capture)
        answer_next(worker, {"polygons": square(35, 45, 10)}, capture)

        progress = SegmentationProgress.objects.get(image=image, category=category)
        assert progress.state == SegmentationProgress.State.SEGMENTING, "unverified: waits"
        assert open_task(image, category) is None, "no third instance outlined one by one"
        assert not Task.objects.filter(stage=Stage.CROWD).exists()

        for _ in range(3):  # the 2 masks in one grid, judged good by 3 workers
            voter = make_worker()
            grid = task_engine.task_next_for_worker(worker=voter, stage=Stage.VERIFICATION)
            assert grid is not None
            answer_grid(voter, gold_cells(grid.task), capture, expect_task=grid.task)
        assert (
            Segmentation.objects.filter(image=image, status=Segmentation.Status.ACCEPTED).count()
            == 2
        )

        progress.refresh_from_db()
        assert progress.state == SegmentationProgress.State.CROWD
        assert "3 spot(s) left uncovered" in progress.reason
        painting = Task.objects.get(stage=Stage.CROWD, image=image, category=category)
        assert painting.status == Task.Status.OPEN
        assert open_task(image, category) is None

    def test_at_the_cap_with_no_spot_left_the_pair_is_done_not_crowd(
        self, coco_project, make_worker, capture
    ):
        """Issue 12: reaching the cap is not enough; with every spot covered there is
        nothing for crowd painting."""
        coco_project.stage_settings = {"segmentation_max_instances": 2}
        coco_project.save()
        image, category = spot_pair(coco_project, [[(10, 50), (40, 50)]], make_worker, capture)
        worker = qualified(make_worker, coco_project)
        answer_next(worker, {"polygons": square(5, 45, 10)}, capture)
        answer_next(worker, {"polygons": square(35, 45, 10)}, capture)
        progress = SegmentationProgress.objects.get(image=image, category=category)
        assert progress.state == SegmentationProgress.State.DONE
        assert not Task.objects.filter(stage=Stage.CROWD).exists()

    def test_no_such_object_moves_on_to_the_next_spot(self, coco_project, make_worker, capture):
        image, category = spot_pair(coco_project, [[(30, 30), (150, 50)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        worker = qualified(make_worker, coco_project)
        first = answer_next(worker, {"no_such_object": True}, capture).task
        first.refresh_from_db()
        assert first.result["outcome"] == "no_such_object"
        assert not Segmentation.objects.filter(image=image).exists()
        assert open_task(image, category).payload["spot"]["x"] == 150

    def test_all_segmented_closes_the_pair(self, coco_project, make_worker, capture):
        image, category = spot_pair(coco_project, [[(30, 30), (150, 50)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        worker = qualified(make_worker, coco_project)
        answer_next(worker, {"all_segmented": True}, capture)
        assert open_task(image, category) is None
        assert (
            SegmentationProgress.objects.get(image=image, category=category).state
            == SegmentationProgress.State.DONE
        )

    def test_a_spotting_task_answered_none_posts_nothing(self, coco_project, make_worker, capture):
        image, category = spot_pair(coco_project, [None], make_worker, capture)
        assert segmentation_post_for_completed_spotting(project=coco_project) == 0
        assert open_task(image, category) is None


@pytest.mark.django_db
class TestAnswers:
    def post(self, project, make_worker, capture):  # type: ignore[no-untyped-def]
        spot_pair(project, [[(30, 30)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=project)
        return Task.objects.get(stage=Stage.SEGMENTATION)

    def test_an_outline_is_normalised_with_coco_area_and_box(
        self, coco_project, make_worker, capture
    ):
        task = self.post(coco_project, make_worker, capture)
        bow_tie = [[10, 10, 50, 50, 50, 10, 10, 50]]
        cleaned = validate_segmentation_answer(task, {"polygons": bow_tie, "vertices": 4})
        assert len(cleaned["polygons"]) == 2
        assert cleaned["area"] == pytest.approx(800)
        assert cleaned["bbox_xywh"] == [10, 10, 40, 40]
        assert cleaned["vertices"] == 4 and cleaned["edits"] == 0
        assert "self-intersections repaired" in cleaned["repairs"]

    def test_from_suggestion_counts_only_when_the_task_offered_a_suggestion(
        self, coco_project, make_worker, capture
    ):
        task = self.post(coco_project, make_worker, capture)
        answer = {"polygons": square(20, 20), "from_suggestion": True}
        assert task.payload.get("suggestion") is None  # no model proposals for this image
        assert validate_segmentation_answer(task, answer)["from_suggestion"] is False
        task.payload["suggestion"] = {"polygon": square(20, 20)[0], "score": 0.9}
        assert validate_segmentation_answer(task, answer)["from_suggestion"] is True

    @pytest.mark.parametrize(
        ("answer", "reason"),
        [
            ({"polygons": square(100, 60)}, "marked by the red spot"),
            ({"polygons": [[10, 10, float("nan"), 20, 30, 30]]}, "not a finite number"),
            ({"polygons": square(20, 20), "no_such_object": True}, "exactly one"),
            ({}, "exactly one"),
            ({"polygons": square(20, 20), "vertices": -1}, "whole number"),
            ({"polygons": square(20, 20), "edits": "many"}, "whole number"),
            ("a dog", "the answer must be"),
        ],
    )
    def test_bad_answers_are_refused_with_a_reason(
        self, coco_project, make_worker, capture, answer, reason
    ):
        task = self.post(coco_project, make_worker, capture)
        with pytest.raises(AnswerInvalid, match=reason):
            validate_segmentation_answer(task, answer)

    def test_an_outline_next_to_the_spot_is_accepted(self, coco_project, make_worker, capture):
        task = self.post(coco_project, make_worker, capture)  # spot at (30, 30)
        assert validate_segmentation_answer(task, {"polygons": square(35, 20, 10)})

    def test_the_stored_mask_records_effort_and_the_coco_numbers(
        self, coco_project, make_worker, capture
    ):
        self.post(coco_project, make_worker, capture)
        worker = qualified(make_worker, coco_project)
        answer_next(
            worker, {"polygons": square(20, 20, 30), "vertices": 9, "edits": 3}, capture, 21.0
        )
        mask = Segmentation.objects.get()
        assert mask.status == Segmentation.Status.PENDING
        assert (mask.vertices, mask.edits, mask.seconds) == (9, 3, 21.0)
        assert mask.area == 900 and mask.bbox_xywh == [20, 20, 30, 30]
        assert mask.worker == worker
        assert mask.instance == Instance.objects.get(spot_x=30)
        summary = segmentation.effort_summary(Task.objects.filter(stage=Stage.SEGMENTATION))
        assert summary == {
            "instances": 1,
            "median_seconds": 21.0,
            "median_vertices": 9,
            "median_edits": 3,
        }

    def test_completion_is_idempotent(self, coco_project, make_worker, capture):
        self.post(coco_project, make_worker, capture)
        worker = qualified(make_worker, coco_project)
        lease = answer_next(worker, {"polygons": square(20, 20)}, capture)
        segmentation.on_segmentation_complete(lease.task)
        assert Segmentation.objects.count() == 1
        assert Task.objects.filter(stage=Stage.SEGMENTATION).count() == 1


@pytest.mark.django_db
class TestQualifiedWorkersOnly:
    def test_an_unqualified_worker_gets_no_task_and_a_qualified_one_does(
        self, coco_project, make_worker, capture
    ):
        spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        newcomer = make_worker(WorkerProfile.Role.ANNOTATOR)
        assert task_engine.task_next_for_worker(worker=newcomer, stage=Stage.SEGMENTATION) is None
        cat_only = qualified(make_worker, coco_project, coco_id=CAT)
        assert task_engine.task_next_for_worker(worker=cat_only, stage=Stage.SEGMENTATION) is None
        dog = qualified(make_worker, coco_project, coco_id=DOG)
        lease = task_engine.task_next_for_worker(worker=dog, stage=Stage.SEGMENTATION)
        assert lease is not None and lease.status == Assignment.Status.LEASED

    def test_experts_need_no_training(self, coco_project, make_worker, capture):
        spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        expert = make_worker(WorkerProfile.Role.EXPERT)
        assert task_engine.task_next_for_worker(worker=expert, stage=Stage.SEGMENTATION)

    def test_a_failed_training_does_not_qualify(self, coco_project, make_worker, capture):
        spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
        segmentation_post_for_completed_spotting(project=coco_project)
        trainee = make_worker(WorkerProfile.Role.ANNOTATOR)
        Qualification.objects.create(
            worker=trainee,
            category=Category.objects.get(taxonomy__project=coco_project, coco_id=DOG),
            tries=3,
            passed=False,
        )
        assert task_engine.task_next_for_worker(worker=trainee, stage=Stage.SEGMENTATION) is None


@pytest.mark.django_db
def test_already_outlined_skips_a_shaded_object_and_is_refused_far_from_any_outline(
    coco_project, make_worker, capture, api_client
):
    """Defect 2 of the crowd simulator: a second worker's cross just outside a tight outline
    made a task for an object already done, and the tool offered only "no such object" or
    outlining it twice. "This object is already outlined" answers it, through the API."""
    image, _category = spot_pair(
        coco_project, [[(30, 30), (42, 30), (150, 50)]], make_worker, capture
    )
    segmentation_post_for_completed_spotting(project=coco_project)
    worker = qualified(make_worker, coco_project)
    api_client.force_authenticate(worker)

    def lease_and_send(answer: dict):  # type: ignore[no-untyped-def]
        leased = api_client.post("/api/v1/tasks/next/", {"stage": "segmentation"}, format="json")
        assert leased.status_code == 200
        with capture(execute=True):
            sent = api_client.post(
                f"/api/v1/assignments/{leased.json()['id']}/submit/",
                {"answer": answer, "idempotency_key": f"k-{leased.json()['id']}"},
                format="json",
            )
        return leased.json(), sent

    first, sent = lease_and_send({"polygons": square(20, 20), "vertices": 4})
    assert sent.status_code == 200 and first["task"]["payload"]["spot"]["x"] == 30
    # The second cross lies 2 px outside that outline: its object is shaded already.
    second, sent = lease_and_send({"already_outlined": True})
    assert second["task"]["payload"]["spot"]["x"] == 42
    assert sent.status_code == 200, sent.json()
    done = Task.objects.get(id=second["task"]["id"])
    assert done.status == Task.Status.COMPLETE and done.result["outcome"] == "already_outlined"
    assert Segmentation.objects.filter(image=image).count() == 1
    # The third cross is far from any outline: "already outlined" is refused with the reason.
    third, sent = lease_and_send({"already_outlined": True})
    assert third["task"]["payload"]["spot"]["x"] == 150
    assert sent.status_code == 400
    assert "no outline of a dog is near the red spot" in str(sent.json())
    assert Task.objects.get(id=third["task"]["id"]).status == Task.Status.OPEN


@pytest.mark.django_db
def test_a_crowd_answer_sends_the_pair_to_crowd_painting_once_its_other_spots_are_outlined(
    coco_project, make_worker, capture, api_client
):
    """Defect 6 of the crowd simulator: a crowd of a category under the cap (a stand of
    spectators behind two players) was never painted, the segmenter could only say "no such
    object". "These are a crowd" keeps the pair's other spots going, then hands the pair to
    crowd painting, through the API; an ordinary pair still ends done."""
    image, category = spot_pair(
        coco_project, [[(30, 30), (150, 50), (100, 80)]], make_worker, capture
    )
    segmentation_post_for_completed_spotting(project=coco_project)
    worker = qualified(make_worker, coco_project)
    api_client.force_authenticate(worker)

    def answer(spot_x: float, body: dict) -> int:
        task = Task.objects.get(stage=Stage.SEGMENTATION, image=image, status=Task.Status.OPEN)
        assert task.payload["spot"]["x"] == spot_x
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.SEGMENTATION)
        assert lease is not None
        with capture(execute=True):
            sent = api_client.post(
                f"/api/v1/assignments/{lease.id}/submit/",
                {"answer": body, "idempotency_key": f"c-{lease.id}"},
                format="json",
            )
        return sent.status_code

    assert answer(30, {"polygons": square(20, 20)}) == 200
    assert answer(150, {"crowd": True}) == 200
    progress = SegmentationProgress.objects.get(image=image, category=category)
    assert progress.state == SegmentationProgress.State.SEGMENTING, "the third spot is next"
    assert not Task.objects.filter(stage=Stage.CROWD).exists()
    assert answer(100, {"polygons": square(90, 70)}) == 200

    progress.refresh_from_db()
    assert progress.state == SegmentationProgress.State.CROWD
    assert "a worker said a spot is a crowd" in progress.reason
    painting = Task.objects.get(stage=Stage.CROWD)
    assert (painting.image_id, painting.category_id) == (image.id, category.id)
    assert painting.status == Task.Status.OPEN
    assert Segmentation.objects.filter(image=image).count() == 2  # the crowd stored nothing

    # A pair where nobody said crowd ends done, as before.
    plain_image, plain_category = spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
    segmentation_post_for_completed_spotting(project=coco_project)
    answer_next(worker, {"polygons": square(20, 20)}, capture)
    assert (
        SegmentationProgress.objects.get(image=plain_image, category=plain_category).state
        == SegmentationProgress.State.DONE
    )
    assert Task.objects.filter(stage=Stage.CROWD).count() == 1


@pytest.mark.django_db
def test_all_segmented_after_a_crowd_answer_goes_to_crowd_painting(
    coco_project, make_worker, capture
):
    image, category = spot_pair(coco_project, [[(150, 50), (30, 30)]], make_worker, capture)
    segmentation_post_for_completed_spotting(project=coco_project)
    worker = qualified(make_worker, coco_project)
    answer_next(worker, {"crowd": True}, capture)
    answer_next(worker, {"all_segmented": True}, capture)
    progress = SegmentationProgress.objects.get(image=image, category=category)
    assert progress.state == SegmentationProgress.State.CROWD
    assert Task.objects.filter(stage=Stage.CROWD, image=image, category=category).count() == 1


@pytest.mark.django_db
def test_crowd_with_an_outline_in_one_answer_is_refused(coco_project, make_worker, capture):
    spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
    segmentation_post_for_completed_spotting(project=coco_project)
    task = Task.objects.get(stage=Stage.SEGMENTATION)
    with pytest.raises(AnswerInvalid, match="exactly one of"):
        validate_segmentation_answer(task, {"crowd": True, "polygons": square(20, 20)})
