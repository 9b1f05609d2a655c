"""Category labeling: answers are checked against the taxonomy and the image, a category is
present if any worker placed it, and its positions prime one spotting task."""

from __future__ import annotations

import itertools

import pytest

from annotation.errors import AnswerInvalid
from annotation.models import Assignment, Image, Stage, Task
from annotation.models.labeling import CategoryPresence
from annotation.services import task_engine
from annotation.stages import labeling
from annotation.stages.labeling import (
    labeling_tasks_post,
    on_labeling_complete,
    supercategories_of,
    validate_labeling_answer,
)

_checksums = itertools.count(1)

# COCO ids used below: 1 person, 17 cat, 18 dog, 3 car.
PERSON, CAR, CAT, DOG = 1, 3, 17, 18


def make_image(project, width=640, height=480) -> Image:  # type: ignore[no-untyped-def]
    n = next(_checksums)
    return Image.objects.create(
        project=project,
        file_name=f"photo{n}.jpg",
        width=width,
        height=height,
        checksum_sha256=f"{n:064x}",
        source=Image.Source.FOLDER,
    )


def labeling_answer(project, placed: dict[int, tuple[float, float]]) -> dict:  # type: ignore[no-untyped-def]
    """An answer placing the given categories: their super-categories 'yes', others 'no'."""
    by_id = {c.coco_id: c for c in project.taxonomy.categories.all()}
    present = {by_id[i].supercategory for i in placed}
    return {
        "supercategories": {name: name in present for name in supercategories_of(project)},
        "categories": [{"id": i, "x": x, "y": y} for i, (x, y) in placed.items()],
    }


def submit(task, worker, answer, capture):  # type: ignore[no-untyped-def]
    """Lease the task's slot to the worker and submit, running the after-commit work."""
    lease = task_engine.task_next_for_worker(worker=worker, stage=task.stage, project=task.project)
    assert lease is not None and lease.task_id == task.id
    with capture(execute=True):
        task_engine.assignment_submit(
            assignment_id=lease.id, worker=worker, answer=answer, key=f"{task.id}-{worker.pk}"
        )
    return lease


def post_labeling_task(project, answers=3, **image_kwargs) -> Task:  # type: ignore[no-untyped-def]
    project.stage_settings = {**project.stage_settings, "labeling_answers_per_image": answers}
    project.save()
    image = make_image(project, **image_kwargs)
    (task,) = labeling_tasks_post(project=project, images=[image])
    return task


@pytest.mark.django_db
class TestTasks:
    def test_one_task_per_image_with_eight_answers_by_default(self, coco_project):
        images = [make_image(coco_project) for _ in range(3)]
        posted = labeling_tasks_post(project=coco_project)
        assert sorted(t.image_id for t in posted) == [i.id for i in images]
        assert {t.answers_needed for t in posted} == {8}
        assert posted[0].assignments.count() == 8
        assert labeling_tasks_post(project=coco_project) == [], "posting again adds nothing"

    def test_images_may_be_named_by_id_and_posting_is_a_fixed_number_of_queries(
        self, coco_project, django_assert_max_num_queries
    ):
        images = [make_image(coco_project) for _ in range(20)]
        with django_assert_max_num_queries(8):
            posted = labeling_tasks_post(
                project=coco_project, images=[i.id for i in images[:10]] + images[10:15]
            )
        assert [t.image_id for t in posted] == [i.id for i in images[:15]]
        assert Assignment.objects.filter(task__in=posted).count() == 15 * 8
        assert all(t.payload["supercategories"][0] == "person" for t in posted)
        assert labeling_tasks_post(project=coco_project, images=[images[0].id]) == []

    def test_the_answers_per_image_come_from_the_project(self, coco_project):
        task = post_labeling_task(coco_project, answers=5)
        assert task.answers_needed == 5
        assert task.payload["supercategories"][:3] == ["person", "vehicle", "outdoor"]

    def test_coco_has_its_super_categories_in_order(self, coco_project):
        supers = supercategories_of(coco_project)
        assert supers[0] == "person" and supers[-1] == "indoor" and len(supers) == 12


@pytest.mark.django_db
class TestAnswerValidation:
    def test_a_good_answer_is_cleaned(self, coco_project):
        task = post_labeling_task(coco_project)
        cleaned = validate_labeling_answer(
            task, labeling_answer(coco_project, {DOG: (10.123, 20), PERSON: (640, 480)})
        )
        assert cleaned["categories"] == [
            {"id": PERSON, "x": 640.0, "y": 480.0},
            {"id": DOG, "x": 10.12, "y": 20.0},
        ]
        assert cleaned["supercategories"]["animal"] is True
        assert cleaned["supercategories"]["food"] is False

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            (
                lambda a: a["categories"].append({"id": 999, "x": 1, "y": 1}),
                "999 is not a category",
            ),
            (
                lambda a: a["categories"].__setitem__(0, {"id": DOG, "x": 641, "y": 1}),
                "outside the image",
            ),
            (
                lambda a: a["categories"].__setitem__(0, {"id": DOG, "x": 5, "y": -1}),
                "outside the image",
            ),
            (
                lambda a: a["categories"].__setitem__(0, {"id": DOG, "x": "5", "y": 1}),
                "x must be a number",
            ),
            (lambda a: a["categories"].append({"id": DOG, "x": 3, "y": 3}), "place its icon once"),
            (lambda a: a["supercategories"].pop("food"), "say whether these are present: food"),
            (
                lambda a: a["supercategories"].__setitem__("fish", False),
                "unknown super-categories: fish",
            ),
            (lambda a: a["supercategories"].__setitem__("animal", False), "answered 'no'"),
            (lambda a: a["supercategories"].__setitem__("food", True), "no icon was placed"),
            (lambda a: a["supercategories"].__setitem__("food", "yes"), "true or false"),
        ],
    )
    def test_bad_answers_are_refused_with_a_reason(self, coco_project, change, reason):
        task = post_labeling_task(coco_project)
        answer = labeling_answer(coco_project, {DOG: (10, 20)})
        change(answer)
        with pytest.raises(AnswerInvalid, match=reason):
            validate_labeling_answer(task, answer)

    def test_a_category_of_another_project_is_unknown(self, coco_project):
        from annotation.services.projects import project_create

        other = project_create(
            name="Birds", categories=[{"name": "heron", "supercategory": "bird"}]
        )
        task = post_labeling_task(other)
        answer = labeling_answer(other, {1: (5, 5)})
        assert validate_labeling_answer(task, answer)["categories"][0]["id"] == 1
        answer["categories"][0]["id"] = DOG
        with pytest.raises(AnswerInvalid, match="not a category of this project"):
            validate_labeling_answer(task, answer)


@pytest.mark.django_db
class TestAggregation:
    def test_a_category_is_present_if_any_worker_placed_it(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_labeling_task(coco_project, answers=3)
        first, second, third = make_worker(), make_worker(), make_worker()
        submit(
            task,
            first,
            labeling_answer(coco_project, {DOG: (100, 100)}),
            django_capture_on_commit_callbacks,
        )
        submit(
            task,
            second,
            labeling_answer(coco_project, {DOG: (300, 200), CAT: (50, 60)}),
            django_capture_on_commit_callbacks,
        )
        assert not CategoryPresence.objects.exists(), "nothing is decided before all answers are in"
        submit(task, third, labeling_answer(coco_project, {}), django_capture_on_commit_callbacks)

        task.refresh_from_db()
        assert task.status == Task.Status.COMPLETE
        assert task.result == {"present": [CAT, DOG], "answers": 3}
        presences = {
            p.category.coco_id: p for p in CategoryPresence.objects.select_related("category")
        }
        assert set(presences) == {CAT, DOG}, "the union of the workers, not a vote"
        assert presences[DOG].positions == [
            {"worker": first.pk, "x": 100.0, "y": 100.0},
            {"worker": second.pk, "x": 300.0, "y": 200.0},
        ]
        assert presences[CAT].positions == [{"worker": second.pk, "x": 50.0, "y": 60.0}]

    def test_each_present_category_gets_one_spotting_task_primed_with_its_positions(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        coco_project.stage_settings = {"spotting_max_spots": 7}
        coco_project.save()
        task = post_labeling_task(coco_project, answers=2)
        for worker, place in [
            (make_worker(), {DOG: (1, 2)}),
            (make_worker(), {DOG: (3, 4), CAR: (5, 6)}),
        ]:
            submit(
                task,
                worker,
                labeling_answer(coco_project, place),
                django_capture_on_commit_callbacks,
            )

        spotting = {t.category.coco_id: t for t in Task.objects.filter(stage=Stage.SPOTTING)}
        assert set(spotting) == {DOG, CAR}
        dog = spotting[DOG]
        assert dog.image_id == task.image_id and dog.answers_needed == 8
        assert [(p["x"], p["y"]) for p in dog.payload["primed"]] == [(1.0, 2.0), (3.0, 4.0)]
        assert dog.payload["max_spots"] == 7
        assert CategoryPresence.objects.get(category__coco_id=DOG).spotting_task == dog

    def test_running_the_completion_twice_changes_nothing(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_labeling_task(coco_project, answers=1)
        submit(
            task,
            make_worker(),
            labeling_answer(coco_project, {DOG: (1, 2)}),
            django_capture_on_commit_callbacks,
        )
        on_labeling_complete(task)
        on_labeling_complete(task)
        assert CategoryPresence.objects.count() == 1
        assert Task.objects.filter(stage=Stage.SPOTTING).count() == 1

    def test_a_category_only_a_rejected_worker_placed_is_withdrawn(
        self, coco_project, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_labeling_task(coco_project, answers=2)
        careful, sloppy, stand_in = make_worker(), make_worker(), make_worker()
        submit(
            task,
            careful,
            labeling_answer(coco_project, {DOG: (1, 2)}),
            django_capture_on_commit_callbacks,
        )
        rejected = submit(
            task,
            sloppy,
            labeling_answer(coco_project, {DOG: (9, 9), CAR: (5, 5)}),
            django_capture_on_commit_callbacks,
        )
        car_spotting = Task.objects.get(stage=Stage.SPOTTING, category__coco_id=CAR)

        task_engine.assignment_reject(assignment_id=rejected.id, reason="below the line")
        submit(
            task,
            stand_in,
            labeling_answer(coco_project, {DOG: (7, 7)}),
            django_capture_on_commit_callbacks,
        )

        task.refresh_from_db()
        assert task.status == Task.Status.COMPLETE and task.result["present"] == [DOG]
        car_spotting.refresh_from_db()
        assert car_spotting.status == Task.Status.CANCELLED
        dog = CategoryPresence.objects.get(category__coco_id=DOG)
        assert [p["worker"] for p in dog.positions] == [careful.pk, stand_in.pk]
        assert dog.spotting_task.payload["primed"] == [
            {"x": 1.0, "y": 2.0},
            {"x": 7.0, "y": 7.0},
        ], "the rejected worker's position no longer primes spotting; workers are not shown"
        assert Assignment.objects.get(id=rejected.id).status == Assignment.Status.REJECTED


@pytest.mark.django_db
class TestOverTheApi:
    def test_a_bad_answer_is_a_400_with_a_reason_and_nothing_is_stored(
        self, coco_project, annotator, api_client
    ):
        task = post_labeling_task(coco_project, answers=1, width=100, height=80)
        api_client.force_authenticate(annotator)
        lease = api_client.post("/api/v1/tasks/next/", {"stage": "labeling"}, format="json")
        assert lease.status_code == 200 and lease.json()["task"]["id"] == task.id
        answer = labeling_answer(coco_project, {DOG: (101, 10)})
        response = api_client.post(
            f"/api/v1/assignments/{lease.json()['id']}/submit/",
            {"answer": answer, "idempotency_key": "k1"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["error"] == "answer_invalid"
        assert "outside the image (100x80 pixels)" in response.json()["detail"]
        slot = Assignment.objects.get(id=lease.json()["id"])
        assert slot.status == Assignment.Status.LEASED and slot.answer is None

    def test_a_submit_for_a_task_leased_to_someone_else_is_refused(
        self, coco_project, annotator, make_worker, api_client
    ):
        post_labeling_task(coco_project, answers=2)
        owner = make_worker()
        lease = task_engine.task_next_for_worker(worker=owner, stage=Stage.LABELING)
        api_client.force_authenticate(annotator)
        response = api_client.post(
            f"/api/v1/assignments/{lease.id}/submit/",
            {"answer": labeling_answer(coco_project, {DOG: (1, 1)}), "idempotency_key": "k"},
            format="json",
        )
        assert response.status_code == 403 and response.json()["error"] == "not_yours"
        assert Assignment.objects.get(id=lease.id).answer is None


def test_the_stage_is_registered_with_its_tool():
    from annotation import stages

    rules = stages.rules_for(Stage.LABELING)
    assert rules.validate_answer is labeling.validate_labeling_answer
    assert rules.tool_url_name == "labeling-tool"
