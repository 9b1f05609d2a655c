"""The MTurk ExternalQuestion page (/mturk/external/) and its API, through Django's test
client: preview, an accepted HIT worked to the end, and an adversary editing the address."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, Image, Membership, Stage, Task, WorkerProfile
from annotation.models.marketplace import MTurkAssignment, MTurkHIT, MTurkWorker
from annotation.models.segmentation import Qualification
from annotation.models.taxonomy import Category
from annotation.services import task_engine
from annotation.services.images import SourceMetadata, image_ingest
from annotation.services.people import profile_for, worker_set_role
from annotation.stages.labeling import labeling_tasks_post
from tests.conftest import jpeg_bytes

SANDBOX = "https://workersandbox.mturk.com"
WORKER, OTHER_WORKER = "A1EXAMPLEWORKER", "A2OTHERWORKER"
ASSIGNMENT = "3ASSIGNMENTEXAMPLE0000000000001"


def photo(project, color=(40, 120, 200)) -> Image:  # type: ignore[no-untyped-def]
    result = image_ingest(
        project=project,
        content=jpeg_bytes(320, 240, color),
        meta=SourceMetadata(source=Image.Source.UPLOAD, source_ref="t", file_name=f"{color}.jpg"),
    )
    assert result.image is not None
    return result.image


def publish(task: Task, hit_id: str = "3HITEXAMPLE000000000000000001", **fields) -> MTurkHIT:  # type: ignore[no-untyped-def]
    """A HIT as the requester side records it after publishing (CreateHIT)."""
    return MTurkHIT.objects.create(
        project=task.project,
        task=task,
        stage=task.stage,
        hit_id=hit_id,
        reward=Decimal("0.05"),
        max_assignments=task.answers_needed,
        lifetime_seconds=3600,
        auto_approval_delay_seconds=86400,
        **fields,
    )


@pytest.fixture
def labeling_hit(coco_project) -> MTurkHIT:  # type: ignore[no-untyped-def]
    coco_project.stage_settings = {"labeling_answers_per_image": 1}
    coco_project.save()
    (task,) = labeling_tasks_post(project=coco_project, images=[photo(coco_project)])
    return publish(task)


def external(**params: str) -> str:
    return reverse("mturk-external") + "?" + urlencode(params)


def accepted(hit: MTurkHIT, worker: str = WORKER, assignment: str = ASSIGNMENT, **over: str) -> str:
    params = {"assignmentId": assignment, "hitId": hit.hit_id, "workerId": worker,
              "turkSubmitTo": SANDBOX}  # fmt: skip
    params.update(over)
    return external(**params)


def all_no(project) -> dict:  # type: ignore[no-untyped-def]
    supers = Category.objects.filter(taxonomy__project=project).values_list(
        "supercategory", flat=True
    )
    return {"supercategories": dict.fromkeys(supers, False), "categories": []}


def test_preview_shows_the_job_and_takes_nothing(client: Client, labeling_hit) -> None:  # type: ignore[no-untyped-def]
    response = client.get(
        external(assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId=labeling_hit.hit_id)
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Accept the HIT to start" in page
    assert "Category labeling" in page
    image = labeling_hit.task.image
    assert image.file.name not in page and "/media/" not in page, "no photo before accepting"
    assert 'id="mturk-hit"' not in page, "no tool, no lease loop"
    assert not User.objects.filter(username__startswith="mturk-").exists()
    assert not MTurkAssignment.objects.exists()
    assert not Assignment.objects.filter(status=Assignment.Status.LEASED).exists()
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert response["Content-Security-Policy"] == (
        "frame-ancestors https://www.mturk.com https://workersandbox.mturk.com"
    )
    assert "X-Frame-Options" not in response


def test_the_rest_of_the_site_stays_unframable(client: Client, db) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in response


def test_an_unknown_hit_is_a_clear_404_in_preview_and_accepted(client: Client, db) -> None:  # type: ignore[no-untyped-def]
    preview = client.get(
        external(assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="3NOSUCHHIT000000000000000000")
    )
    assert preview.status_code == 404
    assert "return it on MTurk" in preview.content.decode()
    response = client.get(
        external(
            assignmentId=ASSIGNMENT,
            hitId="3NOSUCHHIT0000000",
            workerId=WORKER,
            turkSubmitTo=SANDBOX,
        )
    )
    assert response.status_code == 404
    assert "Please return the HIT on MTurk" in response.content.decode()
    assert not User.objects.filter(username__startswith="mturk-").exists()


def test_accepting_signs_the_worker_in_and_leases_that_hits_task(
    client: Client, labeling_hit
) -> None:  # type: ignore[no-untyped-def]
    response = client.get(accepted(labeling_hit))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="labeling-tool"' in page, "the stage's own tool page"
    assert f'data-external-submit="{SANDBOX}/mturk/externalSubmit"' in page
    assert f'data-assignment-id="{ASSIGNMENT}"' in page
    assert 'data-testid="role-nav"' not in page, "no site navigation inside MTurk"

    worker = MTurkWorker.objects.get(worker_id=WORKER)
    user = worker.user
    assert not user.has_usable_password()
    assert profile_for(user).role == WorkerProfile.Role.ANNOTATOR and not user.is_staff
    assert Membership.objects.get(user=user, project=labeling_hit.project).role == "annotator"
    assert client.session["_auth_user_id"] == str(user.pk)
    (mturk_assignment,) = MTurkAssignment.objects.all()
    assert (mturk_assignment.assignment_id, mturk_assignment.status) == (ASSIGNMENT, "accepted")
    assert mturk_assignment.hit == labeling_hit and mturk_assignment.worker == worker
    (slot,) = Assignment.objects.filter(status=Assignment.Status.LEASED)
    assert (slot.task_id, slot.worker_id) == (labeling_hit.task_id, user.pk)
    assert response["Content-Security-Policy"].startswith("frame-ancestors https://www.mturk.com")

    again = client.get(accepted(labeling_hit))
    assert again.status_code == 200, "a reload is the same HIT"
    assert MTurkAssignment.objects.count() == 1 and MTurkWorker.objects.count() == 1
    assert list(Assignment.objects.filter(status=Assignment.Status.LEASED)) == [slot]


def test_the_answer_is_stored_and_linked_to_the_mturk_assignment(
    client: Client, labeling_hit
) -> None:  # type: ignore[no-untyped-def]
    client.get(accepted(labeling_hit))
    lease = client.post(
        f"/api/v1/mturk/assignments/{ASSIGNMENT}/lease/", content_type="application/json"
    )
    assert lease.status_code == 200, lease.content
    slot_id = lease.json()["id"]
    assert lease.json()["task"]["id"] == labeling_hit.task_id
    url = f"/api/v1/mturk/assignments/{ASSIGNMENT}/slots/{slot_id}/submit/"
    body = {"answer": all_no(labeling_hit.project), "idempotency_key": "k1"}
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["mturk_assignment"] == ASSIGNMENT
    mturk_assignment = MTurkAssignment.objects.get()
    assert mturk_assignment.status == MTurkAssignment.Status.SUBMITTED
    assert mturk_assignment.answer_slot_id == slot_id and mturk_assignment.submitted_at
    assert Assignment.objects.get(id=slot_id).status == Assignment.Status.SUBMITTED
    assert Task.objects.get(id=labeling_hit.task_id).status == Task.Status.COMPLETE

    retry = client.post(url, body, content_type="application/json")
    assert retry.status_code == 200, "a retried submit with the same key counts once"
    assert Assignment.objects.filter(status=Assignment.Status.SUBMITTED).count() == 1

    reload = client.get(accepted(labeling_hit))
    assert reload.status_code == 200
    page = reload.content.decode()
    assert "Your answer is saved" in page
    assert f'action="{SANDBOX}/mturk/externalSubmit"' in page
    assert f'name="cocoforgeAnswer" value="{slot_id}"' in page


def test_a_slot_of_another_task_cannot_fill_the_hit(
    client: Client, labeling_hit, coco_project
) -> None:  # type: ignore[no-untyped-def]
    client.get(accepted(labeling_hit))
    (other,) = labeling_tasks_post(project=coco_project, images=[photo(coco_project, (9, 9, 9))])
    other_slot = other.assignments.get()
    response = client.post(
        f"/api/v1/mturk/assignments/{ASSIGNMENT}/slots/{other_slot.id}/submit/",
        {"answer": all_no(coco_project), "idempotency_key": "k2"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "not of the task of HIT" in response.json()["detail"]
    assert MTurkAssignment.objects.get().status == "accepted"


@pytest.mark.parametrize(
    "submit_to",
    ["https://evil.example", "https://www.mturk.com.evil.example", "//evil.example",
     "javascript:alert(1)", ""],
)  # fmt: skip
def test_turk_submit_to_must_be_an_mturk_host(client: Client, labeling_hit, submit_to) -> None:  # type: ignore[no-untyped-def]
    response = client.get(accepted(labeling_hit, turkSubmitTo=submit_to))
    assert response.status_code == 400
    assert "is not an MTurk site" in response.content.decode()
    assert "evil.example/mturk" not in response.content.decode()
    assert not MTurkWorker.objects.exists() and not MTurkAssignment.objects.exists()
    assert "sessionid" not in response.cookies


def test_the_production_host_with_a_trailing_slash_is_accepted(
    client: Client, labeling_hit
) -> None:  # type: ignore[no-untyped-def]
    response = client.get(accepted(labeling_hit, turkSubmitTo="https://www.mturk.com/"))
    assert response.status_code == 200
    assert 'data-external-submit="https://www.mturk.com/mturk/externalSubmit"' in (
        response.content.decode()
    )


def test_an_assignment_id_stays_with_its_worker_and_hit(
    client: Client, labeling_hit, coco_project
) -> None:  # type: ignore[no-untyped-def]
    assert client.get(accepted(labeling_hit)).status_code == 200
    stranger = Client()
    response = stranger.get(accepted(labeling_hit, worker=OTHER_WORKER))
    assert response.status_code == 403
    assert "belongs to another worker" in response.content.decode()
    (task,) = labeling_tasks_post(project=coco_project, images=[photo(coco_project, (1, 2, 3))])
    other_hit = publish(task, hit_id="3HITEXAMPLE000000000000000002")
    response = client.get(accepted(other_hit))
    assert response.status_code == 403
    assert MTurkAssignment.objects.get().hit == labeling_hit
    assert not Assignment.objects.filter(task=task, status=Assignment.Status.LEASED).exists()


@pytest.mark.parametrize("worker", ["a1lowercase", "A1<script>", "", "A" * 65])
def test_a_worker_id_that_is_not_an_mturk_id_is_refused(
    client: Client, labeling_hit, worker
) -> None:  # type: ignore[no-untyped-def]
    response = client.get(accepted(labeling_hit, worker=worker))
    assert response.status_code == 400
    assert "workerId" in response.content.decode()
    assert not User.objects.filter(username__startswith="mturk-").exists()


def test_a_complete_task_or_a_gone_hit_asks_to_return_the_hit(client: Client, labeling_hit) -> None:  # type: ignore[no-untyped-def]
    first = Client()
    assert first.get(accepted(labeling_hit)).status_code == 200
    # The one answer slot is leased to the first worker: nothing for a second one.
    response = client.get(
        accepted(labeling_hit, worker=OTHER_WORKER, assignment="3ASSIGNMENTEXAMPLE0000000000002")
    )
    assert response.status_code == 410
    page = response.content.decode()
    assert "being worked on by other workers" in page and "return the HIT" in page

    Task.objects.filter(id=labeling_hit.task_id).update(status=Task.Status.COMPLETE)
    response = client.get(
        accepted(labeling_hit, worker=OTHER_WORKER, assignment="3ASSIGNMENTEXAMPLE0000000000002")
    )
    assert response.status_code == 410
    assert "already complete" in response.content.decode()

    MTurkHIT.objects.filter(pk=labeling_hit.pk).update(status=MTurkHIT.Status.DISPOSED)
    response = client.get(
        accepted(labeling_hit, worker=OTHER_WORKER, assignment="3ASSIGNMENTEXAMPLE0000000000003")
    )
    assert response.status_code == 410
    assert "no longer available" in response.content.decode()
    preview = client.get(
        external(assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId=labeling_hit.hit_id)
    )
    assert "This HIT is no longer available" in preview.content.decode()


def test_a_lease_that_ran_out_is_taken_again_or_the_hit_returned(
    client: Client, labeling_hit
) -> None:  # type: ignore[no-untyped-def]
    assert client.get(accepted(labeling_hit)).status_code == 200
    Assignment.objects.filter(status=Assignment.Status.LEASED).update(
        lease_expires_at="2000-01-01T00:00:00Z"
    )
    lease = client.post(f"/api/v1/mturk/assignments/{ASSIGNMENT}/lease/")
    assert lease.status_code == 200, "the slot went back to the pool and is leased again"
    # Another worker takes the slot after it runs out again: this worker is told to return.
    Assignment.objects.filter(status=Assignment.Status.LEASED).update(
        lease_expires_at="2000-01-01T00:00:00Z"
    )
    Client().get(
        accepted(labeling_hit, worker=OTHER_WORKER, assignment="3ASSIGNMENTEXAMPLE0000000000002")
    )
    lease = client.post(f"/api/v1/mturk/assignments/{ASSIGNMENT}/lease/")
    assert lease.status_code == 410
    assert lease.json()["error"] == "return_the_hit"


def test_the_mturk_account_cannot_lease_outside_its_hit(client: Client, labeling_hit) -> None:  # type: ignore[no-untyped-def]
    client.get(accepted(labeling_hit))
    response = client.post(
        "/api/v1/tasks/next/", {"stage": "labeling"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "marketplace_only"
    stranger = client.post(f"/api/v1/mturk/assignments/{ASSIGNMENT}9/lease/")
    assert stranger.status_code == 404


def test_an_mturk_account_given_another_role_is_not_signed_in_without_a_password(
    client: Client, labeling_hit
) -> None:  # type: ignore[no-untyped-def]
    assert Client().get(accepted(labeling_hit)).status_code == 200
    worker_set_role(user=MTurkWorker.objects.get().user, role=WorkerProfile.Role.EXPERT)
    response = client.get(accepted(labeling_hit))
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_username_taken_by_someone_else_is_not_hijacked(
    client: Client, labeling_hit, make_worker
) -> None:  # type: ignore[no-untyped-def]
    make_worker(WorkerProfile.Role.ANNOTATOR, f"mturk-{WORKER}")
    response = client.get(accepted(labeling_hit))
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session and not MTurkWorker.objects.exists()


def test_a_segmentation_hit_sends_an_unqualified_worker_to_training_first(
    client: Client, coco_project
) -> None:  # type: ignore[no-untyped-def]
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=18)
    task = task_engine.task_post(
        project=coco_project, stage=Stage.SEGMENTATION, answers_needed=1,
        image=photo(coco_project), category=dog, payload={"spot": {"x": 100, "y": 100}},
    )  # fmt: skip
    hit = publish(task)
    response = client.get(accepted(hit))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Train on dog first" in page
    assert f"/segmentation/training/?project={coco_project.id}&amp;category=18" in page
    assert not Assignment.objects.filter(status=Assignment.Status.LEASED).exists()
    assert MTurkAssignment.objects.get().status == "accepted"

    Qualification.objects.create(worker=MTurkWorker.objects.get().user, category=dog, passed=True)
    response = client.get(accepted(hit))
    assert response.status_code == 200
    assert 'id="mturk-hit"' in response.content.decode()
    assert Assignment.objects.get(status=Assignment.Status.LEASED).task == task
