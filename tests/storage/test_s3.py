"""MEDIA_STORAGE=s3 end to end against an S3-compatible server on 127.0.0.1 (issue 18):
photos ingested by import_images, candidates and thumbnails from collect_images --s3,
exports written by the worker, each in the bucket; downloads answered with a short-lived
presigned URL after the permission check, never streamed by Django; deletion."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import redis
from django.core.management import call_command
from django.urls import reverse

from annotation.models import ExportJob, Image, Project
from annotation.models.collection import Candidate
from annotation.services.images import SourceMetadata, image_ingest
from annotation.services.projects import project_create
from pipelines.models_client import proposals_request
from tests.annotation.sources.flickr_server import photo_bytes
from tests.conftest import jpeg_bytes
from tests.storage.s3_server import S3Server

SAMPLE = Path(__file__).parents[1] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


def keys(server: S3Server, bucket: str, prefix: str = "") -> list[str]:
    listing = server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def follow(server: S3Server, response) -> bytes:  # type: ignore[no-untyped-def]
    """The bytes behind a presigned redirect, fetched from the S3 server as a browser would."""
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(server.endpoint_url + "/")
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read()


@pytest.mark.django_db
def test_imported_photos_are_in_the_bucket_and_served_to_members_as_presigned_urls(
    s3_server, s3_media, tmp_path, make_worker, client, settings
):
    project = project_create(name="Bucket", categories=[{"name": "dog"}])
    member = make_worker()
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(30, 40, color=(10, 200, 10)))
    call_command("import_images", "--project", project.slug, "--folder", str(tmp_path),
                 "--no-progress", stdout=io.StringIO())  # fmt: skip
    images = list(Image.objects.filter(project=project).order_by("file_name"))
    assert [image.file.name for image in images] == keys(s3_server, s3_media, "images/")
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.jpg"))  # nothing on local disk

    client.force_login(member)
    response = client.get(f"/media/{images[0].file.name}")
    assert response["Cache-Control"] == "private, no-store"
    assert follow(s3_server, response) == (tmp_path / "a.jpg").read_bytes()

    outsider = make_worker(member=False)
    client.force_login(outsider)
    refused = client.get(f"/media/{images[0].file.name}")
    assert refused.status_code == 404 and "Location" not in refused


@pytest.mark.django_db
def test_collect_images_from_an_s3_prefix_stores_candidates_and_thumbnails_in_the_bucket(
    s3_server, s3_media, make_worker, client
):
    source = s3_server.client()
    source.create_bucket(Bucket="camera-roll")
    for i in range(3):
        source.put_object(Bucket="camera-roll", Key=f"raw/p{i}.jpg", Body=photo_bytes(i + 1))
    source.put_object(Bucket="camera-roll", Key="raw/notes.txt", Body=b"not a photo")
    source.put_object(Bucket="camera-roll", Key="other/skip.jpg", Body=jpeg_bytes())
    project = project_create(name="Roll", categories=[{"name": "dog"}])
    member = make_worker()
    out = io.StringIO()
    call_command("collect_images", "--project", project.slug, "--s3", "s3://camera-roll/raw/",
                 "--no-progress", stdout=out, stderr=io.StringIO())  # fmt: skip
    assert "s3 s3://camera-roll/raw/: 1 failed, 3 stored" in out.getvalue()
    stored = list(Candidate.objects.filter(project=project, status="pooled").order_by("file_name"))
    assert [c.source_ref for c in stored] == [f"s3://camera-roll/raw/p{i}.jpg" for i in range(3)]
    in_bucket = keys(s3_server, s3_media, "collection/")
    assert {c.file.name for c in stored} | {c.thumbnail.name for c in stored} == set(in_bucket)

    # Running it again reads nothing new.
    again = io.StringIO()
    call_command("collect_images", "--project", project.slug, "--s3", "s3://camera-roll/raw/",
                 "--no-progress", stdout=again, stderr=io.StringIO())  # fmt: skip
    assert "4 known" in again.getvalue()

    client.force_login(member)
    thumb = client.get(reverse("collection-thumbnail", args=[stored[0].id]))
    body = follow(s3_server, thumb)
    assert body[:3] == b"\xff\xd8\xff"  # a JPEG, the stored thumbnail
    assert hashlib.sha256(body).digest() == hashlib.sha256(stored[0].thumbnail.read()).digest()
    client.force_login(make_worker(member=False))
    assert client.get(reverse("collection-thumbnail", args=[stored[0].id])).status_code == 404


@pytest.mark.django_db
def test_an_export_is_written_to_the_bucket_downloaded_by_presigned_url_and_deleted(
    s3_server,
    s3_media,
    api_client,
    admin_user,
    annotator,
    django_capture_on_commit_callbacks,
    settings,
):
    call_command("import_coco", str(SAMPLE), "--project", "val2014", "--split", "val",
                 stdout=io.StringIO())  # fmt: skip
    api_client.force_authenticate(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        started = api_client.post("/api/v1/exports/", {"project": Project.objects.get(name="val2014").id, "split": "val"},
                                  format="json")  # fmt: skip
    assert started.status_code == 202
    job = api_client.get(f"/api/v1/exports/{started.json()['id']}/").json()
    assert job["status"] == "done", job["error"]
    prefix = f"exports/val2014/export-{job['id']}/"
    assert keys(s3_server, s3_media, prefix) == sorted(prefix + f["name"] for f in job["files"])
    staging = Path(settings.VAR_DIR) / "export-staging" / "val2014" / f"export-{job['id']}"
    assert not staging.exists()  # uploaded, then the worker's copy removed

    download = api_client.get(job["files"][0]["url"])
    assert "filename*=UTF-8''instances_val.json" in parse_qs(
        urlparse(download["Location"]).query)["response-content-disposition"][0]  # fmt: skip
    body = follow(s3_server, download)
    assert hashlib.sha256(body).hexdigest() == job["checksum_sha256"]
    assert len(json.loads(body)["annotations"]) == 839

    api_client.force_authenticate(annotator)
    refused = api_client.get(job["files"][0]["url"])
    assert refused.status_code == 403 and "Location" not in refused

    api_client.force_authenticate(admin_user)
    assert api_client.delete(f"/api/v1/exports/{job['id']}/").status_code == 204
    assert keys(s3_server, s3_media, prefix) == []
    assert not ExportJob.objects.filter(id=job["id"]).exists()


@pytest.mark.django_db
def test_a_photo_keeps_one_presigned_url_for_half_its_life_so_browsers_can_cache_it(
    s3_server, s3_media, tmp_path, make_worker, client, settings
):
    project = project_create(name="Cached", categories=[{"name": "dog"}])
    member = make_worker()
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    call_command("import_images", "--project", project.slug, "--folder", str(tmp_path),
                 "--no-progress", stdout=io.StringIO())  # fmt: skip
    photo = Image.objects.get(project=project)
    client.force_login(member)
    first = client.get(f"/media/{photo.file.name}")
    again = client.get(f"/media/{photo.file.name}")
    # The same URL twice: a browser answers the second load from its own cache ...
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    # ... because S3 sends the photo as cacheable (privately) for as long as the URL is reused.
    with urllib.request.urlopen(first["Location"], timeout=10) as answer:
        assert answer.headers["Cache-Control"] == "private, max-age=150"
        assert answer.read() == (tmp_path / "a.jpg").read_bytes()
    # The permission check still runs on every request: an outsider gets no URL at all.
    client.force_login(make_worker(member=False))
    assert client.get(f"/media/{photo.file.name}").status_code == 404

    # A shorter URL life is honoured at once (a new signature, reused for half of it).
    settings.MEDIA_URL_EXPIRE_SECONDS = 60
    client.force_login(member)
    short = client.get(f"/media/{photo.file.name}")
    assert parse_qs(urlparse(short["Location"]).query)["X-Amz-Expires"] == ["60"]
    assert short["Location"] != first["Location"]


@pytest.mark.django_db
def test_with_media_in_object_storage_the_models_worker_is_sent_presigned_urls(
    s3_server, s3_media, settings
):
    """The models worker holds no bucket credentials: for MEDIA_STORAGE=s3 it gets, per
    photo, a presigned URL it can fetch (and nothing else), not a path it cannot read."""
    if not settings.CELERY_BROKER_URL:
        pytest.skip("embedded default: no broker, so the model service is off")
    settings.MODELS_SERVICE = True
    project = project_create(name="Proposals", categories=[{"name": "dog"}])
    photo = jpeg_bytes(40, 30)
    result = image_ingest(
        project=project,
        content=photo,
        meta=SourceMetadata(source="upload", source_ref="s.jpg", file_name="s.jpg"),
    )
    assert result.image is not None
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    models = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "") + "models"
    queue.delete(models)
    assert proposals_request(image_ids=[result.image.id]) == 1
    message = json.loads(queue.lpop(models))
    _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert "image_paths" not in kwargs
    url = kwargs["image_urls"][str(result.image.id)]
    assert url.startswith(s3_server.endpoint_url + "/") and "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == photo
