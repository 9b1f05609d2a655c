"""Per-category qualification: experts author references, a try passes at mask IoU >= the
threshold with feedback on each try, only a pass qualifies, and admins see pass rates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import DomainError, NotFound
from annotation.models import Category, Stage, WorkerProfile
from annotation.models.segmentation import (
    Qualification,
    ReferenceMask,
    Segmentation,
    TrainingAttempt,
)
from annotation.services import qualification, task_engine
from annotation.services.people import worker_create
from annotation.stages.segmentation import segmentation_post_for_completed_spotting
from tests.annotation.stages.test_labeling import DOG, make_image
from tests.annotation.stages.test_segmentation import spot_pair
from tests.annotation.stages.test_verification import make_mask
from tests.conftest import PASSWORD

CAT = 17
REFERENCE = [[20, 20, 60, 20, 60, 60, 20, 60]]  # a 40 x 40 square
CLOSE = [[21, 21, 60, 21, 60, 60, 21, 60]]  # IoU about 0.95
SLOPPY = [[20, 20, 80, 20, 80, 70, 20, 70]]  # IoU about 0.53


@pytest.fixture
def dog(coco_project) -> Category:
    return Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)


@pytest.fixture
def expert(make_worker):  # type: ignore[no-untyped-def]
    return make_worker(WorkerProfile.Role.EXPERT, "expert")


@pytest.fixture
def reference(coco_project, dog, expert):  # type: ignore[no-untyped-def]
    image = make_image(coco_project, width=100, height=80)
    return qualification.reference_create(
        author=expert, image=image, category=dog, polygons=REFERENCE
    )


@pytest.mark.django_db
class TestReferences:
    def test_an_expert_outline_is_normalised_and_spotted_at_its_centre(self, reference):
        assert reference.area == 1600
        assert reference.bbox_xywh == [20, 20, 40, 40]
        assert (reference.spot_x, reference.spot_y) == (40, 40)

    def test_an_annotator_cannot_author_a_reference(self, coco_project, dog, annotator):
        image = make_image(coco_project)
        with pytest.raises(DomainError, match="only experts"):
            qualification.reference_create(
                author=annotator, image=image, category=dog, polygons=REFERENCE
            )


def make_other_annotator():  # type: ignore[no-untyped-def]
    return worker_create(username="other", password=PASSWORD, role=WorkerProfile.Role.ANNOTATOR)


def try_once(worker, category, polygons, project=None):  # type: ignore[no-untyped-def]
    """Ask for the next training instance, then outline it: the feedback."""
    project = project or category.taxonomy.project
    reference = qualification.training_reference_next(
        worker=worker, category=category, project=project
    )
    return qualification.training_attempt_submit(
        worker=worker, reference_id=reference.id, polygons=polygons
    )


def add_reference(project, expert, category, polygons=REFERENCE):  # type: ignore[no-untyped-def]
    return qualification.reference_create(
        author=expert, image=make_image(project, 100, 80), category=category, polygons=polygons
    )


@pytest.mark.django_db
class TestTraining:
    def test_a_sloppy_try_fails_with_area_feedback_and_a_close_one_passes(
        self, coco_project, reference, expert, annotator, dog
    ):
        add_reference(coco_project, expert, dog)
        failed = try_once(annotator, dog, SLOPPY)
        assert failed["passed"] is False and failed["qualified"] is False
        assert 0.4 < failed["iou"] < 0.7
        assert failed["threshold"] == 0.8
        assert "reference" not in failed, "the reference's outline is never given away"
        assert failed["yours"] == SLOPPY
        # SLOPPY (60 x 50) covers the 40 x 40 square: nothing missed, 1400 px added.
        assert failed["missed_area"] == 0 and failed["added_area"] == pytest.approx(1400, abs=120)
        assert failed["added_share"] == pytest.approx(1400 / 3000, abs=0.04)
        assert failed["failed_tries_left"] == 2
        assert not qualification.is_qualified(worker=annotator, category=dog)

        passed = try_once(annotator, dog, CLOSE)
        assert passed["passed"] is True and passed["tries"] == 2
        assert passed["iou"] >= 0.8
        assert qualification.is_qualified(worker=annotator, category=dog)
        record = Qualification.objects.get(worker=annotator, category=dog)
        assert record.best_iou == pytest.approx(passed["iou"], abs=1e-4)
        assert TrainingAttempt.objects.filter(qualification=record).count() == 2

    def test_a_later_failed_try_keeps_the_qualification(
        self, coco_project, reference, expert, annotator, dog
    ):
        add_reference(coco_project, expert, dog)
        try_once(annotator, dog, CLOSE)
        try_once(annotator, dog, SLOPPY)
        assert qualification.is_qualified(worker=annotator, category=dog)

    def test_the_threshold_is_a_project_setting(self, coco_project, reference, annotator, dog):
        coco_project.stage_settings = {"segmentation_qualification_iou": 0.5}
        coco_project.save()
        result = try_once(annotator, dog, SLOPPY)
        assert result["passed"] is True and result["threshold"] == 0.5

    def test_qualification_is_per_category(self, coco_project, reference, annotator, dog):
        try_once(annotator, dog, CLOSE)
        cat = Category.objects.get(taxonomy__project=coco_project, coco_id=CAT)
        assert not qualification.is_qualified(worker=annotator, category=cat)

    def test_a_reference_is_handed_to_a_worker_once_and_kept_until_tried(
        self, coco_project, reference, expert, annotator, dog
    ):
        other = add_reference(coco_project, expert, dog)
        first = qualification.training_reference_next(
            worker=annotator, category=dog, project=coco_project
        )
        again = qualification.training_reference_next(
            worker=annotator, category=dog, project=coco_project
        )
        assert again == first, "a reload shows the instance handed out, not a new one"
        qualification.training_attempt_submit(
            worker=annotator, reference_id=first.id, polygons=SLOPPY
        )
        second = qualification.training_reference_next(
            worker=annotator, category=dog, project=coco_project
        )
        assert {first, second} == {reference, other}
        with pytest.raises(qualification.NotHandedOut, match="already tried"):
            qualification.training_attempt_submit(
                worker=annotator, reference_id=first.id, polygons=CLOSE
            )
        qualification.training_attempt_submit(
            worker=annotator, reference_id=second.id, polygons=SLOPPY
        )
        with pytest.raises(NotFound, match="tried every training outline of dog"):
            qualification.training_reference_next(
                worker=annotator, category=dog, project=coco_project
            )

    def test_a_reference_not_handed_out_cannot_be_tried(self, reference, annotator):
        with pytest.raises(qualification.NotHandedOut, match="not handed to you"):
            qualification.training_attempt_submit(
                worker=annotator, reference_id=reference.id, polygons=CLOSE
            )

    def test_failed_tries_are_limited_before_a_cool_down(
        self, coco_project, expert, annotator, dog
    ):
        coco_project.stage_settings = {
            "qualification_max_failed_tries": 2,
            "qualification_cooldown_minutes": 60,
        }
        coco_project.save()
        for _ in range(4):
            add_reference(coco_project, expert, dog)
        assert try_once(annotator, dog, SLOPPY)["cooldown_until"] is None
        last = try_once(annotator, dog, SLOPPY)
        assert last["failed_tries_left"] == 0 and last["cooldown_until"]
        with pytest.raises(qualification.TrainingCoolDown, match="training opens again"):
            qualification.training_reference_next(
                worker=annotator, category=dog, project=coco_project
            )
        # An hour later the window has passed.
        TrainingAttempt.objects.update(submitted_at=timezone.now() - timedelta(minutes=61))
        assert try_once(annotator, dog, CLOSE)["passed"] is True

    def test_no_reference_is_a_clear_error(self, coco_project, annotator):
        cat = Category.objects.get(taxonomy__project=coco_project, coco_id=CAT)
        with pytest.raises(NotFound, match="no training outline for cat"):
            qualification.training_reference_next(
                worker=annotator, category=cat, project=coco_project
            )

    def test_a_bad_outline_is_refused_and_not_counted(
        self, coco_project, reference, annotator, dog
    ):
        qualification.training_reference_next(worker=annotator, category=dog, project=coco_project)
        with pytest.raises(DomainError, match="finite"):
            qualification.training_attempt_submit(
                worker=annotator, reference_id=reference.id, polygons=[[1, 2, 3, float("nan")]]
            )
        assert not Qualification.objects.filter(worker=annotator, tries__gt=0).exists()
        assert try_once(annotator, dog, CLOSE)["passed"] is True, "the instance is still theirs"


@pytest.mark.django_db
class TestPassRates:
    def test_pass_rates_per_category(self, coco_project, reference, make_worker):
        for number, outline in enumerate([CLOSE, SLOPPY, SLOPPY]):
            worker = make_worker(WorkerProfile.Role.ANNOTATOR, f"trainee{number}")
            try_once(worker, reference.category, outline)
        (row,) = qualification.pass_rates(project=coco_project)
        assert row["category"] == "dog"
        assert (row["workers"], row["passed"], row["attempts"]) == (3, 1, 3)
        assert row["pass_rate"] == pytest.approx(1 / 3)
        assert row["references"] == 1


@pytest.mark.django_db
class TestApi:
    def test_training_through_the_api(self, api_client, coco_project, reference, annotator):
        api_client.login(username="ann", password=PASSWORD)
        listed = api_client.get(f"/api/v1/segmentation/projects/{coco_project.id}/training/")
        assert listed.status_code == 200
        assert listed.json()["categories"][0]["name"] == "dog"
        assert listed.json()["categories"][0]["qualified"] is False
        task = api_client.post(
            f"/api/v1/segmentation/projects/{coco_project.id}/training/next/",
            {"category": DOG},
            format="json",
        )
        assert task.status_code == 200
        body = task.json()
        assert "polygons" not in body, "the reference outline is not given away before a try"
        assert body["spot"] == {"x": 40.0, "y": 40.0}
        tried = api_client.post(
            f"/api/v1/segmentation/training/{body['reference']}/attempt/",
            {"polygons": CLOSE},
            format="json",
        )
        assert tried.status_code == 200 and tried.json()["passed"] is True

    def test_attack_2_replayed_sending_back_the_feedback_does_not_pass(
        self, api_client, coco_project, reference, expert, annotator
    ):
        """Issue 13, attack 2: fail once, read the reference out of the feedback, send it back.
        The feedback carries no reference vertices, the same instance cannot be tried again,
        a retry is another instance, and the references cannot be listed."""
        add_reference(coco_project, expert, reference.category, polygons=CLOSE)
        api_client.login(username="ann", password=PASSWORD)
        listed = api_client.get(f"/api/v1/segmentation/projects/{coco_project.id}/references/")
        assert listed.status_code == 403 and "experts" in listed.json()["detail"]
        next_url = f"/api/v1/segmentation/projects/{coco_project.id}/training/next/"
        first = api_client.post(next_url, {"category": DOG}, format="json").json()
        attempt_url = f"/api/v1/segmentation/training/{first['reference']}/attempt/"
        failed = api_client.post(
            attempt_url, {"polygons": [[10, 10, 30, 10, 30, 30]]}, format="json"
        )
        assert failed.status_code == 200 and failed.json()["passed"] is False
        body = failed.json()
        stored = ReferenceMask.objects.get(id=first["reference"]).polygons
        # Numbers and the trainee's own outline only: no vertex of the reference anywhere.
        assert set(body) == {
            "attempt",
            "passed",
            "qualified",
            "iou",
            "threshold",
            "tries",
            "category",
            "yours",
            "missed_area",
            "added_area",
            "missed_share",
            "added_share",
            "failed_tries_left",
            "cooldown_until",
            "feedback_picture",
        }
        assert body["yours"] != stored
        # Whatever the attacker sends now, the same instance is closed to them.
        replay = api_client.post(attempt_url, {"polygons": stored}, format="json")
        assert replay.status_code == 409 and replay.json()["error"] == "training_not_handed_out"
        second = api_client.post(next_url, {"category": DOG}, format="json").json()
        assert second["reference"] != first["reference"], "a retry is another instance"
        assert not Qualification.objects.get(worker=annotator).passed
        # The feedback picture is the trainee's own, a PNG; nobody else's to read.
        picture = api_client.get(body["feedback_picture"])
        assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
        api_client.login(username="expert", password=PASSWORD)
        assert (
            api_client.get(
                f"/api/v1/segmentation/projects/{coco_project.id}/references/"
            ).status_code
            == 200
        )
        api_client.force_authenticate(make_other_annotator())
        assert api_client.get(body["feedback_picture"]).status_code == 404

    def test_bad_input_is_a_400_with_a_reason(self, api_client, reference, annotator):
        api_client.login(username="ann", password=PASSWORD)
        response = api_client.post(
            f"/api/v1/segmentation/training/{reference.id}/attempt/",
            {"polygons": "square"},
            format="json",
        )
        assert response.status_code == 400
        assert "list of polygons" in response.json()["detail"]

    def test_only_experts_post_references(self, api_client, coco_project, annotator, expert):
        image = make_image(coco_project, 100, 80)
        body = {"image": image.id, "category": DOG, "polygons": REFERENCE}
        api_client.login(username="ann", password=PASSWORD)
        assert (
            api_client.post("/api/v1/segmentation/references/", body, format="json").status_code
            == 403
        )
        api_client.login(username="expert", password=PASSWORD)
        created = api_client.post("/api/v1/segmentation/references/", body, format="json")
        assert created.status_code == 201 and created.json()["area"] == 1600

    def test_pass_rates_are_for_admins(self, api_client, coco_project, annotator, admin_user):
        url = f"/api/v1/segmentation/projects/{coco_project.id}/pass-rates/"
        api_client.login(username="ann", password=PASSWORD)
        assert api_client.get(url).status_code == 403
        api_client.login(username="boss", password=PASSWORD)
        assert api_client.get(url).json() == {"pass_rates": []}

    def test_the_pass_rate_page_renders(
        self, client, coco_project, reference, admin_user, annotator
    ):
        try_once(annotator, reference.category, CLOSE)
        client.login(username="boss", password=PASSWORD)
        page = client.get("/segmentation/pass-rates/")
        assert page.status_code == 200
        assert b"100 %" in page.content and b"dog" in page.content

    def test_image_masks_with_the_category_icon(self, api_client, coco_project, admin_user):
        """(Others read them only within a lease: tests/annotation/test_access.py.)"""
        image = make_image(coco_project, 100, 80)
        api_client.login(username="boss", password=PASSWORD)
        data = api_client.get(
            f"/api/v1/segmentation/images/{image.id}/masks/?category={DOG}"
        ).json()
        assert data["masks"] == []
        assert data["category"]["name"] == "dog" and data["category"]["url"].endswith("dog.svg")


@pytest.mark.django_db
class TestPages:
    def test_the_expert_pages_are_for_experts(self, client, coco_project, annotator, expert):
        image = make_image(coco_project, 100, 80)
        url = f"/segmentation/expert/?image={image.id}&category={DOG}"
        client.login(username="ann", password=PASSWORD)
        assert client.get(url).status_code == 403
        client.login(username="expert", password=PASSWORD)
        page = client.get(url)
        assert page.status_code == 200
        assert b'data-mode="expert"' in page.content and b'data-category="18"' in page.content
        assert client.get("/segmentation/expert/").status_code == 200

    def test_the_training_list_offers_categories_with_references(
        self, client, coco_project, reference, annotator
    ):
        client.login(username="ann", password=PASSWORD)
        page = client.get("/segmentation/training/")
        assert page.status_code == 200
        assert f"?project={coco_project.id}&amp;category={DOG}".encode() in page.content
        training = client.get(f"/segmentation/training/?project={coco_project.id}&category={DOG}")
        assert b'data-mode="training"' in training.content


@pytest.mark.django_db
def test_reference_candidates_list_each_spotted_pair_once_in_image_order(
    coco_project, expert, make_worker, django_capture_on_commit_callbacks
):

    capture = django_capture_on_commit_callbacks
    first, dog = spot_pair(coco_project, [[(20, 20), (60, 20)], [(25, 22)]], make_worker, capture)
    second, _ = spot_pair(coco_project, [[(30, 30)]], make_worker, capture, coco_id=17)
    spot_pair(coco_project, [[(70, 40)]], make_worker, capture, image=second)
    qualification.reference_create(
        author=expert, image=first, category=dog, polygons=[[10, 10, 40, 10, 40, 40, 10, 40]]
    )
    rows = qualification.reference_candidates(limit=200)
    assert [(r["image"].id, r["category"].coco_id, r["has_reference"]) for r in rows] == [
        (first.id, DOG, True),
        (second.id, 17, False),
        (second.id, DOG, False),
    ]
    assert len(qualification.reference_candidates(limit=2)) == 2


@pytest.mark.django_db
def test_a_trainee_never_segments_the_pair_they_trained_on(
    coco_project, expert, make_worker, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    trained_image, dog = spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
    other_image, _ = spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
    segmentation_post_for_completed_spotting(project=coco_project)
    qualification.reference_create(
        author=expert,
        image=trained_image,
        category=dog,
        polygons=[[20, 20, 40, 20, 40, 40, 20, 40]],
    )
    trainee = make_worker(WorkerProfile.Role.ANNOTATOR, "trainee")
    result = try_once(trainee, dog, [[20, 20, 40, 20, 40, 40, 20, 40]])
    assert result["passed"] is True
    lease = task_engine.task_next_for_worker(worker=trainee, stage=Stage.SEGMENTATION)
    assert lease is not None and lease.task.image_id == other_image.id
    task_engine.assignment_release(assignment_id=lease.id, worker=trainee)
    leased_images = set()
    for _ in range(3):
        again = task_engine.task_next_for_worker(worker=trainee, stage=Stage.SEGMENTATION)
        if again is None:
            break
        leased_images.add(again.task.image_id)
        task_engine.assignment_release(assignment_id=again.id, worker=trainee)
    assert trained_image.id not in leased_images


@pytest.mark.django_db
def test_accepted_masks_train_once_a_category_has_enough_of_them(
    coco_project, reference, make_worker, annotator, dog
):
    """Accepted masks with only good votes join the references from the configured number
    on; before that only experts' references are handed out."""
    coco_project.stage_settings = {
        "qualification_accepted_references_min": 3,
        "qualification_max_failed_tries": 10,
    }
    coco_project.save()
    segmenter = make_worker()
    accepted = []
    for k in range(3):
        mask = make_mask(coco_project, segmenter, x=20.0 + 50 * k)
        Segmentation.objects.filter(id=mask.id).update(status=Segmentation.Status.ACCEPTED)
        made = qualification.reference_from_accepted(segmentation=mask, good_votes=3, bad_votes=0)
        assert made is not None and made.source == ReferenceMask.Source.ACCEPTED
        accepted.append(made)
        if k < 2:
            newcomer = make_worker()
            assert (
                qualification.training_reference_next(
                    worker=newcomer, category=dog, project=coco_project
                )
                == reference
            ), "too few accepted references yet: only the expert's"
    mask = make_mask(coco_project, segmenter, x=150)
    assert (
        qualification.reference_from_accepted(segmentation=mask, good_votes=4, bad_votes=1) is None
    ), "a mask with a poor vote trains nobody"

    def everything_handed_to(worker):  # type: ignore[no-untyped-def]
        handed = []
        while True:
            try:
                got = qualification.training_reference_next(
                    worker=worker, category=dog, project=coco_project
                )
            except NotFound:
                return handed
            handed.append(got)
            qualification.training_attempt_submit(
                worker=worker, reference_id=got.id, polygons=SLOPPY
            )

    assert set(everything_handed_to(make_worker())) == {reference, *accepted}
    assert everything_handed_to(segmenter) == [reference], "never one's own accepted mask"
