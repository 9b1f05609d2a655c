"""What an annotator may read and lease (annotation/selectors/access.py): attack 1 (reading
a release's hidden test masks and uploading them) fails; payloads carry no other worker's
id; non-members neither see nor lease a project's work; admins manage membership in the
API, the admin and the CLI; a late submit is refused with 409 lease_expired."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Assignment, Image, Membership, Stage, Task
from annotation.models.segmentation import Segmentation
from annotation.services import task_engine
from annotation.services.evaluation_server import release_create
from annotation.services.projects import project_create
from tests.annotation.stages.test_segmentation import CAT, qualified, spot_pair, square
from tests.annotation.stages.test_verification import DOG, make_mask
from tests.conftest import PASSWORD, jpeg_bytes


@pytest.fixture
def capture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


def coco_ground_truth(masks: list[Segmentation]) -> bytes:
    """The hidden test ground truth of a release, as release_create takes it."""
    images = {m.image_id: m.image for m in masks}
    return json.dumps(
        {
            "images": [
                {"id": i.id, "width": i.width, "height": i.height, "file_name": i.file_name}
                for i in images.values()
            ],
            "categories": [{"id": DOG, "name": "dog", "supercategory": "animal"}],
            "annotations": [
                {
                    "id": m.id,
                    "image_id": m.image_id,
                    "category_id": DOG,
                    "segmentation": m.polygons,
                    "area": m.area,
                    "bbox": m.bbox_xywh,
                    "iscrowd": 0,
                }
                for m in masks
            ],
        }
    ).encode()


@pytest.mark.django_db
class TestAttackOneHiddenTestMasks:
    def test_an_annotator_cannot_read_a_releases_test_masks_to_win_the_leaderboard(
        self, api_client, coco_project, make_worker, capture
    ):
        """Attack 1 replayed: the attacker sweeps the masks endpoint over every image of the
        test split. Before the fix it returned every mask and the uploaded copies scored AP
        1.0; now every read is refused, and results built from what was readable score 0."""
        segmenter = make_worker()
        test_masks = [make_mask(coco_project, segmenter, x=20.0 + 10 * n) for n in range(3)]
        Image.objects.filter(id__in=[m.image_id for m in test_masks]).update(split="test")
        release = release_create(
            project=coco_project,
            name="test-dev attack",
            ground_truth_json=coco_ground_truth(test_masks),
            iou_types=["segm"],
        )
        attacker = make_worker()
        api_client.force_authenticate(attacker)

        stolen = []
        for image_id in Image.objects.values_list("id", flat=True):
            for query in ("", f"?category={DOG}"):
                reply = api_client.get(f"/api/v1/segmentation/images/{image_id}/masks/{query}")
                assert reply.status_code == 403
                assert reply.json()["error"] == "not_leased"
                assert "polygons" not in reply.content.decode()
                stolen.extend(reply.json().get("masks", []))
        assert stolen == []

        # What the attack uploaded: one detection per readable mask. Nothing was readable,
        # so the best the attacker can send is a guess, and it does not score AP 1.0.
        guess = [
            {"image_id": m.image_id, "category_id": DOG, "score": 1.0,
             "segmentation": square(150, 60)}
            for m in test_masks
        ]  # fmt: skip
        with capture(execute=True):
            upload = api_client.post(
                f"/api/v1/releases/{release.slug}/submissions/",
                {"results": SimpleUploadedFile("r.json", json.dumps(guess).encode()),
                 "iou_type": "segm", "method_name": "stolen"},
                format="multipart",
            )  # fmt: skip
        assert upload.status_code == 202, upload.content
        scored = api_client.get(f"/api/v1/submissions/{upload.json()['id']}/").json()
        assert scored["status"] == "done" and scored["stats"][0] == 0.0

    def test_masks_are_readable_only_for_the_pair_of_a_held_lease_and_only_while_held(
        self, api_client, coco_project, make_worker, capture
    ):
        """A segmenter holding a cat task on an image sees the cat outlines there, never the
        dog ones (another pair, e.g. test ground truth); once the lease ends, nothing."""
        image, cat = spot_pair(coco_project, [[(100, 50)]], make_worker, capture, coco_id=CAT)
        dog_mask = make_mask(coco_project, make_worker(), image=image, x=20.0)
        cat_mask = make_mask(coco_project, make_worker(), image=image, x=140.0)
        Segmentation.objects.filter(id=cat_mask.id).update(category=cat)
        worker = qualified(make_worker, coco_project, coco_id=CAT)
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.SEGMENTATION)
        assert lease is not None and lease.task.category_id == cat.id
        api_client.force_authenticate(worker)

        reply = api_client.get(f"/api/v1/segmentation/images/{image.id}/masks/?category={CAT}")
        assert reply.status_code == 200
        assert [m["id"] for m in reply.json()["masks"]] == [cat_mask.id]
        assert dog_mask.id not in {m["id"] for m in reply.json()["masks"]}

        task_engine.assignment_release(assignment_id=lease.id, worker=worker)
        after = api_client.get(f"/api/v1/segmentation/images/{image.id}/masks/")
        assert after.status_code == 403 and "hold a segmentation" in after.json()["detail"]

    def test_an_expired_lease_shows_no_masks(self, api_client, coco_project, make_worker, capture):
        image, _dog = spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
        worker = qualified(make_worker, coco_project)
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.SEGMENTATION)
        Assignment.objects.filter(id=lease.id).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        api_client.force_authenticate(worker)
        assert api_client.get(f"/api/v1/segmentation/images/{image.id}/masks/").status_code == 403


@pytest.mark.django_db
class TestPayloads:
    def test_a_segmentation_task_does_not_carry_the_spotting_workers_id(
        self, api_client, coco_project, make_worker, capture
    ):
        _image, _dog = spot_pair(coco_project, [[(30, 30)]], make_worker, capture)
        spotter_id = Task.objects.get(stage=Stage.SEGMENTATION).payload["spot"]["worker"]
        assert spotter_id is not None  # the stage keeps it for itself
        worker = qualified(make_worker, coco_project)
        api_client.force_authenticate(worker)
        leased = api_client.post("/api/v1/tasks/next/", {"stage": "segmentation"}, format="json")
        assert leased.status_code == 200
        spot = leased.json()["task"]["payload"]["spot"]
        assert set(spot) == {"id", "x", "y"}
        assert "worker" not in json.dumps(leased.json()["task"])


@pytest.mark.django_db
class TestMembership:
    def test_a_non_member_neither_sees_nor_leases_a_projects_work(
        self, api_client, coco_project, make_worker, choice_stage
    ):
        task_engine.task_post(
            project=coco_project, stage=Stage.LABELING, answers_needed=1,
            payload={"options": ["yes", "no"]},
        )  # fmt: skip
        outsider = make_worker(member=False)
        api_client.force_authenticate(outsider)
        assert api_client.get("/api/v1/projects/").json()["results"] == []
        assert api_client.get(f"/api/v1/projects/{coco_project.id}/").status_code == 404
        assert api_client.get(f"/api/v1/projects/{coco_project.id}/images/").status_code == 404
        assert api_client.post("/api/v1/tasks/next/", {}, format="json").status_code == 204
        named = api_client.post("/api/v1/tasks/next/", {"project": coco_project.id}, format="json")
        assert named.status_code == 400 and "not a member" in named.json()["detail"]
        stages = {s["stage"]: s for s in api_client.get("/api/v1/stages/").json()}
        assert stages["labeling"]["open_tasks"] == 0 and stages["labeling"]["open_for_me"] == 0

    def test_a_member_of_another_project_gets_only_that_projects_work(
        self, api_client, coco_project, make_worker, choice_stage
    ):
        other = project_create(name="Birds", categories=[{"name": "bird"}])
        mine = task_engine.task_post(
            project=other, stage=Stage.LABELING, answers_needed=1,
            payload={"options": ["yes", "no"]},
        )  # fmt: skip
        task_engine.task_post(
            project=coco_project, stage=Stage.LABELING, answers_needed=1,
            payload={"options": ["yes", "no"]},
        )  # fmt: skip
        outsider = make_worker(member=False)
        call_command("add_member", "birds", outsider.username)
        api_client.force_authenticate(outsider)
        assert [p["name"] for p in api_client.get("/api/v1/projects/").json()["results"]] == [
            "Birds"
        ]
        first = api_client.post("/api/v1/tasks/next/", {}, format="json")
        assert first.json()["task"]["id"] == mine.id
        assert (
            api_client.post(f"/api/v1/assignments/{first.json()['id']}/release/").status_code == 200
        )

    def test_admins_manage_membership_in_the_api(
        self, api_client, coco_project, make_worker, admin_user
    ):
        person = make_worker(member=False, username="newcomer")
        api_client.force_authenticate(admin_user)
        url = f"/api/v1/projects/{coco_project.id}/members/"
        added = api_client.post(url, {"username": "newcomer", "role": "expert"}, format="json")
        assert added.status_code == 201 and added.json()["role"] == "expert"
        listed = api_client.get(url).json()
        assert {"username": "newcomer", "role": "expert"}.items() <= listed[0].items()
        missing = api_client.post(url, {"username": "nobody"}, format="json")
        assert missing.status_code == 404 and "create_worker" in missing.json()["detail"]
        assert api_client.delete(f"{url}newcomer/").status_code == 204
        assert not Membership.objects.filter(user=person).exists()
        api_client.force_authenticate(person)
        assert api_client.get(url).status_code == 403

    def test_removing_a_member_returns_their_leases_to_the_pool(
        self, coco_project, make_worker, choice_stage
    ):
        task_engine.task_post(
            project=coco_project, stage=Stage.LABELING, answers_needed=1,
            payload={"options": ["yes", "no"]},
        )  # fmt: skip
        worker = make_worker()
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.LABELING)
        call_command("add_member", coco_project.slug, worker.username, "--remove")
        lease.refresh_from_db()
        assert lease.status == "free" and lease.worker is None

    def test_create_worker_can_add_the_person_to_projects(self, coco_project, capsys):
        call_command(
            "create_worker", "carol", "--password", PASSWORD, "--role", "expert",
            "--project", coco_project.slug,
        )  # fmt: skip
        assert "Created expert carol in Test COCO" in capsys.readouterr().out
        membership = Membership.objects.get(user__username="carol")
        assert membership.project == coco_project and membership.role == "expert"
        with pytest.raises(CommandError, match="no project 'nope'"):
            call_command("create_worker", "dave", "--password", PASSWORD, "--project", "nope")

    def test_the_demo_people_work_on_the_demo_project(self, db):
        call_command("demo_setup", stdout=open("/dev/null", "w"))  # noqa: SIM115
        roles = dict(
            Membership.objects.filter(project__name="COCO demo").values_list(
                "user__username", "role"
            )
        )
        assert roles == {"annotator": "annotator", "annotator2": "annotator", "expert": "expert"}

    def test_the_admin_shows_a_projects_members(self, client, coco_project, admin_user, annotator):
        client.force_login(admin_user)
        page = client.get(f"/admin/annotation/project/{coco_project.id}/change/")
        assert page.status_code == 200 and b"ann" in page.content
        assert client.get("/admin/annotation/membership/").status_code == 200


@pytest.mark.django_db
class TestLateSubmit:
    def test_a_submit_after_the_lease_ran_out_is_refused_even_with_the_slot_still_free(
        self, api_client, coco_project, annotator, choice_stage
    ):
        task = task_engine.task_post(
            project=coco_project, stage=Stage.LABELING, answers_needed=1,
            payload={"options": ["yes", "no"]},
        )  # fmt: skip
        api_client.force_authenticate(annotator)
        lease = api_client.post("/api/v1/tasks/next/", {}, format="json").json()
        Assignment.objects.filter(id=lease["id"]).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        late = api_client.post(
            f"/api/v1/assignments/{lease['id']}/submit/",
            {"answer": {"choice": "yes"}, "idempotency_key": "late"},
            format="json",
        )
        assert late.status_code == 409
        assert late.json()["error"] == "lease_expired"
        assert "lease a task again" in late.json()["detail"]
        assert not Assignment.objects.filter(task=task, status="submitted").exists()

        # After the pool reclaimed the slot the same late submit is still a lease_expired.
        task_engine.leases_release_expired()
        again = api_client.post(
            f"/api/v1/assignments/{lease['id']}/submit/",
            {"answer": {"choice": "yes"}, "idempotency_key": "late-2"},
            format="json",
        )
        assert again.status_code == 409 and again.json()["error"] == "lease_expired"
        # Leasing again gives the slot back and the draft is accepted.
        relet = api_client.post("/api/v1/tasks/next/", {}, format="json").json()
        assert relet["id"] == lease["id"]
        ok = api_client.post(
            f"/api/v1/assignments/{relet['id']}/submit/",
            {"answer": {"choice": "yes"}, "idempotency_key": "late-3"},
            format="json",
        )
        assert ok.status_code == 200


@pytest.mark.django_db
def test_a_projects_photos_are_served_to_its_members_only(
    client, coco_project, make_worker, admin_user
):
    uploader = APIClient()
    uploader.force_authenticate(admin_user)
    uploaded = uploader.post(
        f"/api/v1/projects/{coco_project.id}/images/",
        {"file": SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.content
    url = uploaded.json()["url"]
    client.force_login(make_worker())
    assert client.get(url).status_code == 200
    client.force_login(make_worker(member=False))
    assert client.get(url).status_code == 404
