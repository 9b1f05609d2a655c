"""Admin export and statistics pages."""

from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.models import ExportJob, Project
from tests.conftest import PASSWORD

SAMPLE = Path(__file__).parents[1] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.fixture
def project(db, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    call_command("import_coco", str(SAMPLE), "--project", "val2014")
    return Project.objects.get(name="val2014")


@pytest.mark.django_db
def test_admin_starts_an_export_and_sees_the_download_link(
    client, admin_user, project, django_capture_on_commit_callbacks
):
    client.login(username=admin_user.username, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/manage/export/", {"project": project.id, "split": "all", "kinds": ["instances"]}
        )
    assert response.status_code == 302
    page = client.get("/manage/export/").content.decode()
    job = ExportJob.objects.get()
    assert job.status == "done"
    link = f"/manage/export/{job.id}/files/instances_all.json"
    assert link in page and job.checksum_sha256 in page
    download = client.get(link)
    assert download.status_code == 200
    assert b'"annotations":[' in b"".join(download.streaming_content)


@pytest.mark.django_db
def test_nothing_chosen_is_refused_on_the_page(client, admin_user, project):
    client.login(username=admin_user.username, password=PASSWORD)
    response = client.post("/manage/export/", {"project": project.id, "split": "all"})
    assert response.status_code == 400 and b"choose what to export" in response.content
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_stats_page_shows_coco_figures_and_charts(client, admin_user, project):
    client.login(username=admin_user.username, password=PASSWORD)
    page = client.get(f"/manage/stats/{project.id}/").content.decode()
    assert "COCO 2014 (thesis)" in page and "7.7" in page and "8.39" in page
    assert page.count("data:image/png;base64,") == 4


@pytest.mark.django_db
def test_annotators_are_kept_out(client, annotator, project):
    client.login(username="ann", password=PASSWORD)
    assert client.get("/manage/export/").status_code == 403
    assert client.get(f"/manage/stats/{project.id}/").status_code == 403


@pytest.mark.django_db
def test_the_page_offers_to_include_unfinished_images(
    client, admin_user, project, django_capture_on_commit_callbacks
):
    client.login(username=admin_user.username, password=PASSWORD)
    assert b'name="include_unfinished"' in client.get("/manage/export/").content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/manage/export/",
            {"project": project.id, "split": "all", "kinds": ["instances"],
             "include_unfinished": "on"},
        )  # fmt: skip
    assert ExportJob.objects.get().include_unfinished is True
