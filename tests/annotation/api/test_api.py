"""The REST API: auth, the task flow, and every error as a 4xx with a reason."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from annotation.models import Assignment, Image, Stage
from annotation.services import task_engine
from tests.conftest import PASSWORD, jpeg_bytes


def post_task(project, answers_needed=2):  # type: ignore[no-untyped-def]
    return task_engine.task_post(
        project=project,
        stage=Stage.LABELING,
        answers_needed=answers_needed,
        payload={"options": ["yes", "no"]},
    )


@pytest.mark.django_db
class TestAuth:
    def test_anonymous_requests_get_a_reason(self, api_client):
        response = api_client.get("/api/v1/me/")
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
        assert response.json()["detail"] == "Authentication credentials were not provided."

    def test_a_script_gets_a_token_and_uses_it(self, api_client, annotator):
        response = api_client.post("/api/v1/auth/token/", {"username": "ann", "password": PASSWORD})
        token = response.json()["token"]
        assert token == Token.objects.get(user=annotator).key
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api_client.get("/api/v1/me/").json() == {
            "id": annotator.id, "username": "ann", "role": "annotator", "blocked": False,
        }  # fmt: skip

    def test_a_wrong_password_is_a_400_with_a_reason(self, api_client, annotator):
        response = api_client.post("/api/v1/auth/token/", {"username": "ann", "password": "nope"})
        assert response.status_code == 400
        assert "Unable to log in" in response.json()["detail"]


@pytest.mark.django_db
class TestTaskFlow:
    def test_next_submit_retry_and_no_more_work(
        self, api_client, annotator, coco_project, choice_stage
    ):
        task = post_task(coco_project)
        api_client.force_authenticate(annotator)
        leased = api_client.post("/api/v1/tasks/next/", {"stage": "labeling"}, format="json")
        assert leased.status_code == 200
        body = leased.json()
        assert body["task"]["id"] == task.id and body["task"]["payload"] == {
            "options": ["yes", "no"]
        }
        submit = {"answer": {"choice": "no"}, "idempotency_key": "key-1", "time_spent_seconds": 4.5}
        url = f"/api/v1/assignments/{body['id']}/submit/"
        first = api_client.post(url, submit, format="json")
        retry = api_client.post(url, submit, format="json")
        assert first.status_code == retry.status_code == 200
        assert first.json() == retry.json()
        assert Assignment.objects.filter(task=task, status="submitted").count() == 1
        assert Assignment.objects.get(id=body["id"]).time_spent_seconds == 4.5
        assert (
            api_client.post("/api/v1/tasks/next/", {"stage": "labeling"}, format="json").status_code
            == 204
        )

    def test_an_invalid_answer_is_a_400_and_stores_nothing(
        self, api_client, annotator, coco_project, choice_stage
    ):
        post_task(coco_project)
        api_client.force_authenticate(annotator)
        lease = api_client.post("/api/v1/tasks/next/", {}, format="json").json()
        response = api_client.post(
            f"/api/v1/assignments/{lease['id']}/submit/",
            {"answer": {"choice": "maybe"}, "idempotency_key": "k"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": "answer_invalid",
            "detail": "choice must be one of ['yes', 'no']",
        }
        assert Assignment.objects.get(id=lease["id"]).status == "leased"

    def test_a_submit_for_a_task_not_leased_to_you_is_a_403(
        self, api_client, make_worker, coco_project, choice_stage
    ):
        post_task(coco_project)
        owner, other = make_worker(), make_worker()
        lease = task_engine.task_next_for_worker(worker=owner, stage=Stage.LABELING)
        api_client.force_authenticate(other)
        response = api_client.post(
            f"/api/v1/assignments/{lease.id}/submit/",
            {"answer": {"choice": "yes"}, "idempotency_key": "k"},
            format="json",
        )
        assert response.status_code == 403 and response.json()["error"] == "not_yours"

    @pytest.mark.parametrize(
        ("payload", "field"),
        [({"answer": {"choice": "yes"}}, "idempotency_key"), ({"idempotency_key": "k"}, "answer")],
    )
    def test_missing_fields_are_named(
        self, api_client, annotator, coco_project, choice_stage, payload, field
    ):
        post_task(coco_project)
        api_client.force_authenticate(annotator)
        lease = api_client.post("/api/v1/tasks/next/", {}, format="json").json()
        response = api_client.post(
            f"/api/v1/assignments/{lease['id']}/submit/", payload, format="json"
        )
        assert response.status_code == 400
        assert response.json()["detail"] == f"{field}: This field is required."

    def test_an_unknown_stage_or_project_is_a_400(self, api_client, annotator):
        api_client.force_authenticate(annotator)
        assert (
            api_client.post("/api/v1/tasks/next/", {"stage": "dreaming"}, format="json").status_code
            == 400
        )
        response = api_client.post("/api/v1/tasks/next/", {"project": 999}, format="json")
        assert (
            response.status_code == 400
            and "project 999 does not exist" in response.json()["detail"]
        )

    def test_an_unknown_assignment_is_a_404(self, api_client, annotator):
        api_client.force_authenticate(annotator)
        response = api_client.post(
            "/api/v1/assignments/424242/submit/",
            {"answer": {}, "idempotency_key": "k"},
            format="json",
        )
        assert response.status_code == 404 and "does not exist" in response.json()["detail"]

    def test_stages_list_counts_work_for_me(
        self, api_client, annotator, coco_project, choice_stage
    ):
        post_task(coco_project)
        api_client.force_authenticate(annotator)
        stages = {row["stage"]: row for row in api_client.get("/api/v1/stages/").json()}
        assert list(stages) == Stage.values
        assert stages["labeling"]["open_tasks"] == 1 and stages["labeling"]["open_for_me"] == 1


@pytest.mark.django_db
class TestProjectsAndImages:
    def test_admins_create_projects_annotators_may_not(self, api_client, annotator, admin_user):
        api_client.force_authenticate(annotator)
        refused = api_client.post(
            "/api/v1/projects/", {"name": "P", "template": "coco"}, format="json"
        )
        assert refused.status_code == 403 and refused.json()["detail"] == "only admins may do this"
        api_client.force_authenticate(admin_user)
        made = api_client.post(
            "/api/v1/projects/",
            {"name": "P", "categories": [{"name": "heron", "id": 4}]},
            format="json",
        )
        assert made.status_code == 201
        assert made.json()["categories"] == [
            {"id": 4, "name": "heron", "supercategory": "heron", "in_coco_2014": True, "icon": ""}
        ]
        duplicate = api_client.post(
            "/api/v1/projects/", {"name": "P", "template": "coco"}, format="json"
        )
        assert duplicate.status_code == 400 and "already exists" in duplicate.json()["detail"]

    def test_upload_a_photo_and_a_refused_one(self, api_client, admin_user, coco_project):
        api_client.force_authenticate(admin_user)
        url = f"/api/v1/projects/{coco_project.id}/images/"
        good = api_client.post(
            url, {"file": SimpleUploadedFile("a.jpg", jpeg_bytes(30, 20)), "photographer": "Mo"}
        )
        assert (
            good.status_code == 201
            and good.json()["width"] == 30
            and good.json()["photographer"] == "Mo"
        )
        bad = api_client.post(url, {"file": SimpleUploadedFile("b.jpg", b"not an image")})
        assert bad.status_code == 400 and bad.json()["error"] == "not_an_image"
        again = api_client.post(url, {"file": SimpleUploadedFile("c.jpg", jpeg_bytes(30, 20))})
        assert again.status_code == 409 and "same bytes as image" in again.json()["detail"]
        assert Image.objects.count() == 1
        listed = api_client.get(url).json()
        assert listed["count"] == 1 and listed["results"][0]["file_name"] == "a.jpg"

    def test_an_unknown_project_is_a_404(self, api_client, annotator):
        api_client.force_authenticate(annotator)
        response = api_client.get("/api/v1/projects/999/")
        assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.django_db
class TestSchema:
    def test_the_openapi_schema_lists_the_task_endpoints(self, client, annotator):
        client.force_login(annotator)
        response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        assert "/api/v1/tasks/next/" in paths and "/api/v1/assignments/{id}/submit/" in paths

    def test_the_docs_page_uses_bundled_swagger_ui(self, client, annotator):
        client.force_login(annotator)
        html = client.get("/api/docs/").content.decode()
        assert "swagger-ui" in html and "cdn.jsdelivr" not in html
