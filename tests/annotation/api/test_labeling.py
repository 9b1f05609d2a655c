"""The labeling/spotting API: the icon panel, posting tasks, the quality report, the
precision line and the kept spots; admins only where it changes or reveals work."""

from __future__ import annotations

import pytest

from annotation.api.labeling import category_icon
from annotation.models import Category, Stage, Task
from annotation.services.projects import project_create
from tests.annotation.stages.test_labeling import (
    DOG,
    labeling_answer,
    make_image,
    post_labeling_task,
    submit,
)


@pytest.mark.django_db
class TestPanel:
    def test_coco_categories_come_grouped_with_their_bundled_icons(
        self, coco_project, api_client, annotator
    ):
        api_client.force_authenticate(annotator)
        data = api_client.get(f"/api/v1/labeling/projects/{coco_project.id}/panel/").json()
        groups = {g["name"]: g["categories"] for g in data["supercategories"]}
        assert len(groups) == 12 and next(iter(groups)) == "person"
        dog = next(c for c in groups["animal"] if c["id"] == DOG)
        assert dog["url"].endswith("icons/coco/dog.svg")
        assert sum(len(c) for c in groups.values()) == 91

    def test_a_custom_category_gets_a_labelled_chip(self, db):
        project = project_create(
            name="Lab",
            categories=[{"name": "petri dish", "supercategory": "glass"}, {"name": "dog"}],
        )
        dish, dog = project.taxonomy.categories.order_by("coco_id")
        assert category_icon(dish) == {"url": None, "chip": "PD"}
        assert category_icon(dog)["url"].endswith("icons/coco/dog.svg")
        dish.icon = "🧫"
        assert category_icon(dish) == {"url": None, "chip": "🧫"}

    def test_the_bundled_icon_set_covers_every_coco_category(self):
        from pathlib import Path

        from django.utils.text import slugify

        from annotation.coco_taxonomy import COCO_CATEGORIES

        folder = Path(__file__).resolve().parents[3] / "frontend/static/icons/coco"
        missing = [
            n for _i, n, _s, _y in COCO_CATEGORIES if not (folder / f"{slugify(n)}.svg").exists()
        ]
        assert missing == []


@pytest.mark.django_db
class TestAdminEndpoints:
    def test_an_admin_posts_labeling_tasks_for_the_images_without_one(
        self, coco_project, api_client, admin_user
    ):
        images = [make_image(coco_project) for _ in range(2)]
        api_client.force_authenticate(admin_user)
        url = f"/api/v1/labeling/projects/{coco_project.id}/tasks/"
        first = api_client.post(url, {"images": [images[0].id]}, format="json")
        assert first.status_code == 201 and len(first.json()["posted"]) == 1
        rest = api_client.post(url, {}, format="json")
        assert len(rest.json()["posted"]) == 1
        assert Task.objects.filter(stage=Stage.LABELING).count() == 2
        unknown = api_client.post(url, {"images": [999999]}, format="json")
        assert unknown.status_code == 404 and "999999" in unknown.json()["detail"]

    def test_an_annotator_may_not_post_tasks_see_quality_or_set_the_line(
        self, coco_project, api_client, annotator
    ):
        api_client.force_authenticate(annotator)
        base = f"/api/v1/labeling/projects/{coco_project.id}"
        assert api_client.post(f"{base}/tasks/", {}, format="json").status_code == 403
        assert api_client.get(f"{base}/quality/").status_code == 403
        assert (
            api_client.post(
                f"{base}/precision-line/", {"precision_line": 0.5}, format="json"
            ).status_code
            == 403
        )

    def test_the_precision_line_is_checked_and_applied(
        self, coco_project, api_client, admin_user, make_worker, django_capture_on_commit_callbacks
    ):
        task = post_labeling_task(coco_project, answers=2)
        agrees, adds = make_worker(), make_worker()
        submit(
            task,
            agrees,
            labeling_answer(coco_project, {DOG: (1, 1)}),
            django_capture_on_commit_callbacks,
        )
        submit(
            task,
            adds,
            labeling_answer(coco_project, {DOG: (2, 2), 3: (3, 3)}),
            django_capture_on_commit_callbacks,
        )
        api_client.force_authenticate(admin_user)
        base = f"/api/v1/labeling/projects/{coco_project.id}"
        bad = api_client.post(f"{base}/precision-line/", {"precision_line": 1.5}, format="json")
        assert bad.status_code == 400 and "precision_line" in bad.json()["detail"]

        report = api_client.get(f"{base}/quality/").json()
        precision = {w["worker"]: w["precision"] for w in report["workers"]}
        assert precision == {agrees.pk: 1.0, adds.pk: 0.5}

        applied = api_client.post(
            f"{base}/precision-line/", {"precision_line": 0.75}, format="json"
        )
        assert applied.json() == {
            "precision_line": 0.75,
            "rejected": [{"worker": adds.pk, "answers": 1}],
        }
        task.refresh_from_db()
        assert task.status == Task.Status.OPEN

    def test_the_kept_spots_of_an_image_and_category(
        self, coco_project, api_client, admin_user, make_worker, django_capture_on_commit_callbacks
    ):
        from annotation.services import task_engine

        spotter = make_worker()
        task = task_engine.task_post(
            project=coco_project, stage=Stage.SPOTTING, answers_needed=1, image=make_image(coco_project),
            category=Category.objects.get(taxonomy__project=coco_project, coco_id=DOG), payload={},
        )  # fmt: skip
        submit(task, spotter, {"spots": [{"x": 4, "y": 5}]}, django_capture_on_commit_callbacks)
        api_client.force_authenticate(admin_user)
        data = api_client.get(
            f"/api/v1/spotting/images/{task.image_id}/categories/{DOG}/spots/"
        ).json()
        assert data["spots"] == [
            {"x": 4.0, "y": 5.0, "worker": spotter.pk, "username": spotter.username}
        ]
        missing = api_client.get(f"/api/v1/spotting/images/{task.image_id}/categories/500/spots/")
        assert missing.status_code == 404
