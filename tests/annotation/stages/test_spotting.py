"""Instance spotting: crosses inside the image, at most the cap, or 'there is none'; every
cross is kept with its worker and read back with `spots_for`."""

from __future__ import annotations

import pytest

from annotation.errors import AnswerInvalid
from annotation.models import Assignment, Category, Stage, Task
from annotation.models.labeling import Spot
from annotation.services import task_engine
from annotation.stages.spotting import on_spotting_complete, spots_for, validate_spotting_answer
from tests.annotation.stages.test_labeling import (
    DOG,
    labeling_answer,
    make_image,
    post_labeling_task,
    submit,
)


def post_spotting_task(project, answers=3, max_spots=None, width=640, height=480) -> Task:  # type: ignore[no-untyped-def]
    payload = {"primed": [{"x": 10.0, "y": 10.0}]}
    if max_spots is not None:
        payload["max_spots"] = max_spots
    return task_engine.task_post(
        project=project,
        stage=Stage.SPOTTING,
        answers_needed=answers,
        image=make_image(project, width=width, height=height),
        category=Category.objects.get(taxonomy__project=project, coco_id=DOG),
        payload=payload,
    )


def crosses(n: int) -> dict:
    return {"spots": [{"x": 10 + i, "y": 20 + i} for i in range(n)]}


@pytest.mark.django_db
class TestTasks:
    def test_a_task_is_posted_primed_with_the_project_numbers(self, coco_project):
        from annotation.stages.spotting import spotting_task_post

        dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
        image = make_image(coco_project)
        primed = [{"x": 1.0, "y": 2.0}]
        task = spotting_task_post(project=coco_project, image=image, category=dog, primed=primed)
        assert (task.stage, task.image_id, task.category_id) == (Stage.SPOTTING, image.id, dog.id)
        assert task.answers_needed == 8 and task.assignments.count() == 8
        assert task.payload == {"primed": primed, "max_spots": 10, "suggestions": []}
        coco_project.stage_settings = {"spotting_answers_per_task": 2, "spotting_max_spots": 4}
        again = spotting_task_post(project=coco_project, image=image, category=dog, primed=[])
        assert again.answers_needed == 2
        assert again.payload == {"primed": [], "max_spots": 4, "suggestions": []}


@pytest.mark.django_db
class TestAnswerValidation:
    def test_crosses_are_cleaned(self, coco_project):
        task = post_spotting_task(coco_project)
        assert validate_spotting_answer(task, {"spots": [{"x": 1.234, "y": 480}]}) == {
            "none": False,
            "spots": [{"x": 1.23, "y": 480.0}],
        }

    def test_there_is_none_is_an_answer(self, coco_project):
        task = post_spotting_task(coco_project)
        assert validate_spotting_answer(task, {"none": True}) == {"none": True, "spots": []}

    def test_ten_crosses_are_allowed_by_default_and_eleven_are_not(self, coco_project):
        task = post_spotting_task(coco_project)
        assert len(validate_spotting_answer(task, crosses(10))["spots"]) == 10
        with pytest.raises(AnswerInvalid, match="at most 10 crosses"):
            validate_spotting_answer(task, crosses(11))

    def test_the_cap_is_the_one_posted_with_the_task(self, coco_project):
        task = post_spotting_task(coco_project, max_spots=3)
        validate_spotting_answer(task, crosses(3))
        with pytest.raises(AnswerInvalid, match="at most 3 crosses"):
            validate_spotting_answer(task, crosses(4))

    @pytest.mark.parametrize(
        ("answer", "reason"),
        [
            ({"spots": [{"x": 700, "y": 5}]}, "outside the image"),
            ({"spots": [{"x": 5}]}, "y must be a number"),
            ({"spots": []}, "or answer 'there is none'"),
            ({}, "or answer 'there is none'"),
            ({"none": True, "spots": [{"x": 1, "y": 1}]}, "choose one"),
            ({"none": "yes"}, "none must be true or false"),
            ({"spots": "here"}, "spots must be a list"),
            ([1, 2], "the answer must be"),
        ],
    )
    def test_bad_answers_are_refused_with_a_reason(self, coco_project, answer, reason):
        task = post_spotting_task(coco_project)
        with pytest.raises(AnswerInvalid, match=reason):
            validate_spotting_answer(task, answer)


@pytest.mark.django_db
class TestAggregation:
    def test_every_cross_is_kept_with_its_worker(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_spotting_task(coco_project, answers=3)
        first, second, third = make_worker(), make_worker(), make_worker()
        submit(
            task,
            first,
            {"spots": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]},
            django_capture_on_commit_callbacks,
        )
        submit(task, second, {"spots": [{"x": 1.5, "y": 2.5}]}, django_capture_on_commit_callbacks)
        submit(task, third, {"none": True}, django_capture_on_commit_callbacks)

        task.refresh_from_db()
        assert task.status == Task.Status.COMPLETE
        assert task.result == {
            "answers": 3, "none_votes": 1, "spots": 3, "all_said_none": False,
            "majority_said_none": False,
        }  # fmt: skip
        kept = [(s.x, s.y, s.worker) for s in spots_for(task.image, task.category)]
        assert kept == [(1.0, 2.0, first), (3.0, 4.0, first), (1.5, 2.5, second)], (
            "no merging: segmentation de-duplicates by mask coverage"
        )

        on_spotting_complete(task)
        assert Spot.objects.filter(task=task).count() == 3, "running it again adds nothing"

    def test_spots_are_not_candidates_before_the_task_is_complete(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_spotting_task(coco_project, answers=2)
        submit(task, make_worker(), crosses(2), django_capture_on_commit_callbacks)
        assert not spots_for(task.image, task.category).exists()

    def test_the_crosses_of_a_rejected_answer_are_dropped(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_spotting_task(coco_project, answers=1)
        sloppy, careful = make_worker(), make_worker()
        lease = submit(task, sloppy, crosses(4), django_capture_on_commit_callbacks)
        assert spots_for(task.image, task.category).count() == 4
        task_engine.assignment_reject(assignment_id=lease.id, reason="test")
        assert not spots_for(task.image, task.category).exists()
        submit(task, careful, crosses(1), django_capture_on_commit_callbacks)
        assert [s.worker for s in spots_for(task.image, task.category)] == [careful]
        assert not Spot.objects.filter(assignment=lease).exists()

    def test_all_workers_saying_none_marks_a_likely_false_positive(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_spotting_task(coco_project, answers=2)
        for _ in range(2):
            submit(task, make_worker(), {"none": True}, django_capture_on_commit_callbacks)
        task.refresh_from_db()
        assert task.result["all_said_none"] is True and task.result["spots"] == 0


@pytest.mark.django_db
class TestOverTheApi:
    def test_a_spotting_task_is_served_primed_by_labeling(
        self, coco_project, make_worker, annotator, api_client, django_capture_on_commit_callbacks
    ):
        labeling_task = post_labeling_task(coco_project, answers=1)
        submit(
            labeling_task,
            make_worker(),
            labeling_answer(coco_project, {DOG: (33, 44)}),
            django_capture_on_commit_callbacks,
        )
        api_client.force_authenticate(annotator)
        response = api_client.post("/api/v1/tasks/next/", {"stage": "spotting"}, format="json")
        assert response.status_code == 200
        task = response.json()["task"]
        assert task["category"]["id"] == DOG and task["image"]["id"] == labeling_task.image_id
        assert [(p["x"], p["y"]) for p in task["payload"]["primed"]] == [(33.0, 44.0)]
        assert task["payload"]["max_spots"] == 10

    def test_eleven_crosses_are_a_400_and_nothing_is_stored(
        self, coco_project, annotator, api_client
    ):
        post_spotting_task(coco_project, answers=1)
        api_client.force_authenticate(annotator)
        lease = api_client.post("/api/v1/tasks/next/", {"stage": "spotting"}, format="json").json()
        response = api_client.post(
            f"/api/v1/assignments/{lease['id']}/submit/",
            {"answer": crosses(11), "idempotency_key": "k"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": "answer_invalid",
            "detail": "at most 10 crosses per task (11 were sent)",
        }
        slot = Assignment.objects.get(id=lease["id"])
        assert slot.status == Assignment.Status.LEASED and slot.answer is None
        assert not Spot.objects.exists()


@pytest.mark.django_db
def test_a_complete_spotting_task_hands_its_spots_to_segmentation_after_the_commit(
    coco_project, make_worker, django_capture_on_commit_callbacks
):
    """Nothing is handed on before the commit; after it, the spots are stored and the
    segmentation stage posts the first instance's task at the first spot."""
    task = post_spotting_task(coco_project, answers=1)
    worker = make_worker()
    lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.SPOTTING)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_engine.assignment_submit(
            assignment_id=lease.id, worker=worker, answer=crosses(2), key="spot-once"
        )
    assert callbacks, "the hand-off waits for the commit"
    assert not Spot.objects.exists()
    assert not Task.objects.filter(stage=Stage.SEGMENTATION).exists()
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    assert Spot.objects.filter(task=task).count() == 2
    segmentation = Task.objects.get(stage=Stage.SEGMENTATION, image=task.image)
    assert segmentation.payload["spot"]["x"] == 10.0 and segmentation.payload["spot"]["y"] == 20.0


@pytest.mark.django_db
class TestMajorityOfNone:
    """Defect 3 of the crowd simulator: a lone cross against answers that all said "there is
    none" became segmentation work. Now a majority of "none" keeps no cross (a tie keeps
    them), through the API the spotting tool uses."""

    def answer_through_api(self, api_client, task, answers, make_worker, capture):  # type: ignore[no-untyped-def]
        for answer in answers:
            api_client.force_authenticate(make_worker())
            with capture(execute=True):
                leased = api_client.post(
                    "/api/v1/tasks/next/",
                    {"stage": "spotting", "project": task.project_id},
                    format="json",
                )
                assert leased.status_code == 200 and leased.json()["task"]["id"] == task.id
                sent = api_client.post(
                    f"/api/v1/assignments/{leased.json()['id']}/submit/",
                    {"answer": answer, "idempotency_key": f"k-{leased.json()['id']}"},
                    format="json",
                )
            assert sent.status_code == 200, sent.json()
        task.refresh_from_db()
        assert task.status == Task.Status.COMPLETE
        return Task.objects.filter(
            stage=Stage.SEGMENTATION, image=task.image, category=task.category
        )

    def test_a_lone_cross_against_a_majority_of_none_posts_no_segmentation(
        self, api_client, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_spotting_task(coco_project, answers=3)
        segmentation = self.answer_through_api(
            api_client, task, [crosses(1), {"none": True}, {"none": True}],
            make_worker, django_capture_on_commit_callbacks,
        )  # fmt: skip
        assert not segmentation.exists()
        assert not spots_for(task.image, task.category).exists()
        assert task.result["majority_said_none"] is True and task.result["spots"] == 0
        assert task.result["all_said_none"] is False

    def test_a_tie_keeps_the_crosses_and_posts_segmentation(
        self, api_client, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_spotting_task(coco_project, answers=2)
        segmentation = self.answer_through_api(
            api_client, task, [crosses(1), {"none": True}],
            make_worker, django_capture_on_commit_callbacks,
        )  # fmt: skip
        assert task.result["majority_said_none"] is False and task.result["spots"] == 1
        assert segmentation.count() == 1
