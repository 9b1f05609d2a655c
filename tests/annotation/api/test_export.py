"""Export API: admins start an export (a Celery task), follow it and download the files."""

import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.models import ExportJob, Project

SAMPLE = Path(__file__).parents[2] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.fixture
def project(db, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    call_command("import_coco", str(SAMPLE), "--project", "val2014", "--split", "val")
    return Project.objects.get(name="val2014")


@pytest.mark.django_db
def test_admin_starts_an_export_and_downloads_the_finished_file(
    api_client, admin_user, project, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/exports/", {"project": project.id, "split": "val"}, format="json"
        )
    assert response.status_code == 202
    job = api_client.get(f"/api/v1/exports/{response.json()['id']}/").json()
    assert job["status"] == "done" and job["progress"] == 1.0
    assert job["total_items"] == 100 + 839
    names = [f["name"] for f in job["files"]]
    assert names == [
        "instances_val.json",
        "instances_val.json.sha256",
        "instances_val.json.manifest.json",
    ]
    download = api_client.get(job["files"][0]["url"])
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == job["checksum_sha256"]
    assert len(json.loads(body)["annotations"]) == 839


@pytest.mark.django_db
def test_annotators_cannot_export(api_client, annotator, project):
    api_client.force_authenticate(annotator)
    response = api_client.post("/api/v1/exports/", {"project": project.id}, format="json")
    assert response.status_code == 403
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_bad_split_is_a_400_and_unknown_file_a_404(api_client, admin_user, project):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        "/api/v1/exports/", {"project": project.id, "split": "dev"}, format="json"
    )
    assert response.status_code == 400 and "split must be" in response.json()["detail"]
    job = ExportJob.objects.create(project=project, kinds=["instances"])
    assert api_client.get(f"/api/v1/exports/{job.id}/files/..%2Fsecret").status_code == 404


@pytest.mark.django_db
def test_an_export_of_every_image_is_asked_for_explicitly(
    api_client, admin_user, project, django_capture_on_commit_callbacks
):
    """By default the job exports finished images only; include_unfinished asks for all."""
    from annotation.services.images import SourceMetadata, image_ingest
    from tests.conftest import jpeg_bytes

    meta = SourceMetadata(source="path", source_ref="/new.jpg", file_name="new.jpg")
    image_ingest(project=project, content=jpeg_bytes(20, 20), meta=meta)  # not labeled yet
    api_client.force_authenticate(admin_user)
    totals = {}
    for include in (False, True):
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post(
                "/api/v1/exports/",
                {"project": project.id, "include_unfinished": include},
                format="json",
            )
        job = api_client.get(f"/api/v1/exports/{response.json()['id']}/").json()
        assert job["status"] == "done" and job["include_unfinished"] is include
        totals[include] = job["total_items"]
    assert totals == {False: 100 + 839, True: 101 + 839}
