"""Local storage behind nginx (issue 18): with MEDIA_ACCEL_REDIRECT=1 Django checks who may
see a file and answers with an `X-Accel-Redirect` header and no body; nginx sends the file
(deploy/nginx.conf). Without the setting (runserver, the demo) Django streams it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation.models import ExportJob, Image, Project
from annotation.models.collection import SearchQuery
from annotation.services.projects import project_create
from annotation.sources import local
from tests.annotation.sources.flickr_server import photo_bytes
from tests.conftest import jpeg_bytes

SAMPLE = Path(__file__).parents[1] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.fixture
def accel(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ACCEL_REDIRECT = True
    settings.MEDIA_ACCEL_PREFIX = "/protected-media/"
    return settings.MEDIA_ROOT


@pytest.fixture
def photo(db, accel, tmp_path):  # type: ignore[no-untyped-def]
    project = project_create(name="Disk", categories=[{"name": "dog"}])
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    call_command("import_images", "--project", project.slug, "--folder", str(folder),
                 "--no-progress", stdout=io.StringIO())  # fmt: skip
    return Image.objects.get(project=project)


def test_a_member_gets_an_accel_redirect_header_and_no_body(photo, make_worker, client, accel):
    client.force_login(make_worker())
    response = client.get(f"/media/{photo.file.name}")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{photo.file.name}"
    assert response.content == b""
    assert (accel / photo.file.name).is_file()  # where nginx's internal location reads it


def test_an_outsider_or_a_path_outside_media_gets_a_404_without_the_header(
    photo, make_worker, client
):
    client.force_login(make_worker(member=False))
    refused = client.get(f"/media/{photo.file.name}")
    assert refused.status_code == 404 and "X-Accel-Redirect" not in refused
    client.force_login(make_worker(member=False, role="admin"))
    escape = client.get("/media/../../etc/passwd")
    assert escape.status_code == 404 and "X-Accel-Redirect" not in escape
    missing = client.get("/media/images/none.jpg")
    assert missing.status_code == 404 and "X-Accel-Redirect" not in missing


def test_without_the_setting_django_streams_the_file(photo, make_worker, client, settings):
    settings.MEDIA_ACCEL_REDIRECT = False
    client.force_login(make_worker())
    response = client.get(f"/media/{photo.file.name}")
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == photo.file.read()


def test_a_thumbnail_goes_out_through_nginx_with_its_cache_headers(db, accel, make_worker, client):
    project = project_create(name="Grid", categories=[{"name": "dog"}])
    folder = accel.parent / "raw"
    folder.mkdir()
    (folder / "p.jpg").write_bytes(photo_bytes(3))
    local.source_run(project=project, kind=SearchQuery.Kind.FOLDER, location=str(folder),
                     offers=local.offers_from_folder(folder))  # fmt: skip
    candidate = project.candidates.get()
    client.force_login(make_worker())
    response = client.get(reverse("collection-thumbnail", args=[candidate.id]))
    assert response["X-Accel-Redirect"] == f"/protected-media/{candidate.thumbnail.name}"
    assert response["Content-Type"] == "image/jpeg" and response.content == b""
    assert "immutable" in response["Cache-Control"] and response["ETag"]
    again = client.get(reverse("collection-thumbnail", args=[candidate.id]),
                       headers={"If-None-Match": response["ETag"]})  # fmt: skip
    assert again.status_code == 304


@pytest.mark.django_db
def test_an_export_written_by_the_worker_is_in_the_media_folder_and_sent_by_nginx(
    accel, api_client, admin_user, django_capture_on_commit_callbacks
):
    call_command("import_coco", str(SAMPLE), "--project", "val2014", "--split", "val",
                 stdout=io.StringIO())  # fmt: skip
    api_client.force_authenticate(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        started = api_client.post("/api/v1/exports/", {
            "project": Project.objects.get(name="val2014").id, "split": "val"}, format="json")  # fmt: skip
    job = api_client.get(f"/api/v1/exports/{started.json()['id']}/").json()
    assert job["status"] == "done"
    name = f"exports/val2014/export-{job['id']}/instances_val.json"
    assert (accel / name).is_file()  # the shared media volume in docker-compose
    download = api_client.get(job["files"][0]["url"])
    assert download["X-Accel-Redirect"] == f"/protected-media/{name}"
    assert download["Content-Disposition"] == "attachment; filename*=UTF-8''instances_val.json"
    assert api_client.delete(f"/api/v1/exports/{job['id']}/").status_code == 204
    assert not (accel / name).exists()


@pytest.mark.django_db
def test_an_admin_deletes_an_export_and_its_files_from_the_export_page(
    accel, admin_user, client, django_capture_on_commit_callbacks
):
    call_command("import_coco", str(SAMPLE), "--project", "val2014", "--split", "val",
                 stdout=io.StringIO())  # fmt: skip
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("export-page"), {"project": Project.objects.get(name="val2014").id,
                                             "split": "val", "kinds": ["instances"]})  # fmt: skip
    job = ExportJob.objects.get()
    folder = accel / f"exports/val2014/export-{job.id}"
    assert job.status == "done" and (folder / "instances_val.json").is_file()
    page = client.get(reverse("export-page")).content.decode()
    assert reverse("export-delete", args=[job.id]) in page
    assert client.post(reverse("export-delete", args=[job.id])).status_code == 302
    assert not ExportJob.objects.exists() and not any(folder.glob("*"))
