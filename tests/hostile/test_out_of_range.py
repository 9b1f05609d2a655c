"""Hostile numbers and sizes (issue 17): ids and sizes beyond the database's columns, bodies
over the caps, RLEs in results files. Each is a clear 4xx (JSON) or CLI message and nothing
is written."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings

from annotation.models import Category, Image, Project
from annotation.models.evaluation import Submission
from annotation.services.evaluation_server import release_create, submission_create

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "coco_samples"
GT_PATH = SAMPLES / "instances_val2014_100.json"


@pytest.mark.django_db
@pytest.mark.parametrize("category_id", [2**31, 3_000_000_000, 10**19])
def test_a_category_id_beyond_the_database_integer_is_a_400_and_no_project(
    api_client, admin_user, category_id
):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        "/api/v1/projects/",
        {"name": "Big ids", "categories": [{"name": "heron", "id": category_id}]},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "less than or equal to 2147483647" in response.json()["detail"]
    assert not Project.objects.filter(name="Big ids").exists()


@pytest.mark.django_db
def test_a_project_filter_beyond_the_database_integer_is_a_400(api_client, annotator):
    api_client.force_authenticate(annotator)
    response = api_client.post(
        "/api/v1/tasks/next/", {"stage": "labeling", "project": 10**19}, format="json"
    )
    assert response.status_code == 400
    assert "project: Ensure this value is less than or equal to" in response.json()["detail"]


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_json_body_over_the_upload_limit_is_a_json_413_not_an_html_page(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        "/api/v1/projects/", {"name": "x" * 5000, "template": "coco"}, format="json"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": "too_large",
        "detail": "the request body is larger than this endpoint accepts (1000 bytes)",
    }
    assert not Project.objects.exists()


@pytest.fixture
def release(coco_project):  # type: ignore[no-untyped-def]
    return release_create(
        project=coco_project, name="test-dev 2026", ground_truth_json=GT_PATH.read_bytes()
    )


@pytest.mark.django_db
def test_a_results_upload_declaring_more_than_the_cap_is_a_413_before_it_is_read(
    release, annotator, api_client
):
    api_client.force_authenticate(annotator)
    response = api_client.post(
        f"/api/v1/releases/{release.slug}/submissions/",
        {"results": SimpleUploadedFile("r.json", b"[]"), "iou_type": "bbox", "method_name": "x"},
        CONTENT_LENGTH=str(600 * 2**20),
    )
    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"the upload is {600 * 2**20} bytes; a results file may be at most 512 MiB"
    )
    assert not Submission.objects.exists()


def _first_image(data: dict) -> dict:
    return data["images"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ("0" * 5000, "RLE runs cover 0 pixels"),
        ("Q", "not valid compressed RLE"),
        ([1, 2, 3], "RLE runs cover 6 pixels"),
    ],
)
def test_results_with_an_rle_that_does_not_fit_the_image_fail_with_the_entry_named(
    release, annotator, counts, reason, django_capture_on_commit_callbacks
):
    image = _first_image(json.loads(GT_PATH.read_text()))
    results = [
        {
            "image_id": image["id"],
            "category_id": 1,
            "score": 0.9,
            "segmentation": {"size": [image["height"], image["width"]], "counts": counts},
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        submission = submission_create(
            release=release,
            submitter=annotator,
            method_name="x",
            iou_type="segm",
            results=json.dumps(results).encode(),
            results_file_name="r.json",
        )
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED and submission.stats is None
    assert re.match(r"r\.json: results\[0\]: segmentation .*" + reason, submission.error)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["categories"][0].update(id=3_000_000_000),
            r"categories\[0\] \(id 3000000000\): id must be a whole number from 1 to 2147483647",
        ),
        (
            lambda d: d["images"][0].update(id=10**19),
            r"images\[0\] \(id 10000000000000000000\): id must be a whole number from 0 to "
            r"9223372036854775807",
        ),
        (
            lambda d: d["images"][0].update(width=10**12),
            r"images\[0\] \(id \d+\): width must be a whole number from 1 to 2147483647",
        ),
        (
            lambda d: d["annotations"][0].update(id=2**64),
            r"annotations\[0\] \(id \d+\): id must be a whole number from 1 to",
        ),
        (
            lambda d: d["annotations"][0].update(
                iscrowd=1, segmentation={"size": [1, 1], "counts": "0" * 10}
            ),
            r"annotations\[0\] \(id \d+\): RLE",
        ),
    ],
)
def test_import_coco_refuses_ids_and_sizes_beyond_the_database_naming_the_entry(
    tmp_path, edit, message
):
    data = copy.deepcopy(json.loads(GT_PATH.read_text()))
    edit(data)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError, match=message):
        call_command("import_coco", str(path), "--project", "big")
    assert not Project.objects.exists() and not Image.objects.exists()
    assert not Category.objects.filter(taxonomy__project__slug="big").exists()


@pytest.mark.django_db
def test_a_setting_beyond_any_float_is_a_400_not_an_overflow(api_client, admin_user, coco_project):
    """JSON allows 10**400; float() of it raises OverflowError (a 500 before)."""
    api_client.force_authenticate(admin_user)
    before = Project.objects.get(id=coco_project.id).stage_settings
    response = api_client.generic(
        "PATCH",
        f"/api/v1/projects/{coco_project.id}/settings/",
        '{"collection_split_train": 1' + "0" * 400 + "}",
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "must be a finite number" in response.json()["detail"]
    assert Project.objects.get(id=coco_project.id).stage_settings == before


@pytest.mark.django_db
def test_import_coco_refuses_a_coordinate_beyond_any_float(tmp_path):
    data = json.loads(GT_PATH.read_text())
    polygon_owner = next(a for a in data["annotations"] if not a["iscrowd"])
    polygon_owner["segmentation"][0][0] = 10**400
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError, match="has a coordinate that is not a number"):
        call_command("import_coco", str(path), "--project", "huge")
    assert not Project.objects.exists()


@pytest.mark.django_db
def test_a_photo_upload_over_the_cap_is_refused_before_it_is_read(
    api_client, admin_user, coco_project, settings
):
    """Declared too large: a 413 before the body is received. Declared small but larger: a
    400 by the file's size, before it is read into memory. Nothing is stored."""
    settings.MAX_IMAGE_BYTES = 1000
    api_client.force_authenticate(admin_user)
    url = f"/api/v1/projects/{coco_project.id}/images/"
    response = api_client.post(
        url, {"file": SimpleUploadedFile("a.jpg", b"x" * 10)}, CONTENT_LENGTH=str(5 * 2**20)
    )
    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"the upload is {5 * 2**20} bytes; a photo may be at most 1000 bytes"
    )
    response = api_client.post(url, {"file": SimpleUploadedFile("b.jpg", b"x" * 5000)})
    assert response.status_code == 400
    assert response.json()["detail"] == "b.jpg: 5000 bytes, more than the limit of 1000"
    assert not Image.objects.exists()
