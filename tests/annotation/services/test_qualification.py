"""Per-category qualification: experts author references, a try passes at mask IoU >= the
threshold with feedback on each try, only a pass qualifies, and admins see pass rates."""

from __future__ import annotations

import pytest

from annotation.errors import DomainError, NotFound
from annotation.models import Category, WorkerProfile
from annotation.models.segmentation import Qualification, TrainingAttempt
from annotation.services import qualification
from tests.annotation.stages.test_labeling import DOG, make_image
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


@pytest.mark.django_db
class TestTraining:
    def test_a_sloppy_try_fails_with_feedback_and_a_close_one_passes(
        self, reference, annotator, dog
    ):
        failed = qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=SLOPPY
        )
        assert failed["passed"] is False and failed["qualified"] is False
        assert 0.4 < failed["iou"] < 0.7
        assert failed["threshold"] == 0.8
        assert failed["reference"] == reference.polygons, "feedback shows the reference"
        assert failed["yours"] == SLOPPY
        assert not qualification.is_qualified(worker=annotator, category=dog)

        passed = qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=CLOSE
        )
        assert passed["passed"] is True and passed["tries"] == 2
        assert passed["iou"] >= 0.8
        assert qualification.is_qualified(worker=annotator, category=dog)
        record = Qualification.objects.get(worker=annotator, category=dog)
        assert record.best_iou == pytest.approx(passed["iou"], abs=1e-4)
        assert TrainingAttempt.objects.filter(qualification=record).count() == 2

    def test_a_later_failed_try_keeps_the_qualification(self, reference, annotator, dog):
        qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=CLOSE
        )
        qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=SLOPPY
        )
        assert qualification.is_qualified(worker=annotator, category=dog)

    def test_the_threshold_is_a_project_setting(self, coco_project, reference, annotator, dog):
        coco_project.stage_settings = {"segmentation_qualification_iou": 0.5}
        coco_project.save()
        result = qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=SLOPPY
        )
        assert result["passed"] is True and result["threshold"] == 0.5

    def test_qualification_is_per_category(self, coco_project, reference, annotator):
        qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=CLOSE
        )
        cat = Category.objects.get(taxonomy__project=coco_project, coco_id=CAT)
        assert not qualification.is_qualified(worker=annotator, category=cat)

    def test_the_next_reference_is_the_least_tried_one(
        self, coco_project, reference, expert, annotator, dog
    ):
        other = qualification.reference_create(
            author=expert, image=make_image(coco_project, 100, 80), category=dog, polygons=REFERENCE
        )
        assert qualification.training_reference_next(worker=annotator, category=dog) == reference
        qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=SLOPPY
        )
        assert qualification.training_reference_next(worker=annotator, category=dog) == other

    def test_no_reference_is_a_clear_error(self, coco_project, annotator):
        cat = Category.objects.get(taxonomy__project=coco_project, coco_id=CAT)
        with pytest.raises(NotFound, match="no training outline for cat"):
            qualification.training_reference_next(worker=annotator, category=cat)

    def test_a_bad_outline_is_refused_and_not_counted(self, reference, annotator, dog):
        with pytest.raises(DomainError, match="finite"):
            qualification.training_attempt_submit(
                worker=annotator, reference_id=reference.id, polygons=[[1, 2, 3, float("nan")]]
            )
        assert not Qualification.objects.filter(worker=annotator, tries__gt=0).exists()


@pytest.mark.django_db
class TestPassRates:
    def test_pass_rates_per_category(self, coco_project, reference, make_worker):
        for number, outline in enumerate([CLOSE, SLOPPY, SLOPPY]):
            worker = make_worker(WorkerProfile.Role.ANNOTATOR, f"trainee{number}")
            qualification.training_attempt_submit(
                worker=worker, reference_id=reference.id, polygons=outline
            )
        (row,) = qualification.pass_rates(project=coco_project)
        assert row["category"] == "dog"
        assert (row["workers"], row["passed"], row["attempts"]) == (3, 1, 3)
        assert row["pass_rate"] == pytest.approx(1 / 3)


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
        qualification.training_attempt_submit(
            worker=annotator, reference_id=reference.id, polygons=CLOSE
        )
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
    from tests.annotation.stages.test_segmentation import spot_pair

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
