"""Pre-annotation from the model service: stored proposals per image and model version,
spotting suggestions, "start from suggestion", click-to-mask (with the GrabCut fallback
before any model answered), who may ask, and a pipeline that never waits on the service."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import redis
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pycocotools import mask as mask_utils

from annotation.models import Assignment, Category, Image, ImageProposals, Stage, WorkerProfile
from annotation.services import task_engine
from annotation.services.images import SourceMetadata, image_ingest
from annotation.stages.spotting import spotting_task_post
from pipelines.models_client import models_service_status, proposals_request
from pipelines.tasks.models import store_proposals
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[3]
SQUARE = (30, 20, 70, 60)  # x0, y0, x1, y1 of the bright square in the test photo


def square_photo(seed: int = 0) -> bytes:
    pixels = np.full((96, 128, 3), 40, dtype=np.uint8)
    pixels += np.random.default_rng(seed).integers(0, 12, pixels.shape, dtype=np.uint8)
    x0, y0, x1, y1 = SQUARE
    pixels[y0:y1, x0:x1] = (230, 200, 40)
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def proposal_for(mask: np.ndarray, score: float) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    ys, xs = np.nonzero(mask)
    polygon = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.min()),
               float(xs.max() + 1), float(ys.max() + 1), float(xs.min()), float(ys.max() + 1)]  # fmt: skip
    return {
        "rle": {"size": list(rle["size"]), "counts": rle["counts"].decode()},
        "polygon": polygon,
        "bbox_xywh": [float(v) for v in mask_utils.toBbox(rle)],
        "score": score,
        "area": int(mask.sum()),
    }


@pytest.fixture
def photo(coco_project) -> Image:
    result = image_ingest(
        project=coco_project,
        content=square_photo(),
        meta=SourceMetadata(source="upload", source_ref="square.png", file_name="square.png"),
    )
    assert result.image is not None
    return result.image


def answer_for(image: Image) -> dict:
    square = np.zeros((image.height, image.width), dtype=bool)
    x0, y0, x1, y1 = SQUARE
    square[y0:y1, x0:x1] = True
    corner = np.zeros_like(square)
    corner[70:90, 90:120] = True
    return {
        "status": "ok",
        "version": "sharpmask/v0001",
        "images": {str(image.id): [proposal_for(corner, 0.3), proposal_for(square, 0.9)]},
        "errors": {},
    }


def hold_spotting_task(project, image, worker):
    category = Category.objects.filter(taxonomy=project.taxonomy).first()
    task = spotting_task_post(project=project, image=image, category=category, primed=[])
    assignment = task_engine.task_next_for_worker(worker=worker, stage=Stage.SPOTTING)
    assert assignment is not None and assignment.task_id == task.id
    return assignment


def login(api_client, user):
    assert api_client.login(username=user.username, password=PASSWORD)
    return api_client


def test_the_models_answer_is_stored_per_image_and_version_best_first(photo):
    assert store_proposals(answer_for(photo)) == 1
    stored = ImageProposals.objects.get(image=photo, model_version="sharpmask/v0001")
    assert [p["score"] for p in stored.proposals] == [0.9, 0.3]
    assert store_proposals(answer_for(photo)) == 1  # a repeated answer replaces, not adds
    assert ImageProposals.objects.filter(image=photo).count() == 1


def test_a_proposal_of_the_wrong_size_is_refused_and_nothing_stored(photo):
    answer = answer_for(photo)
    answer["images"][str(photo.id)][0]["rle"]["size"] = [10, 10]
    assert store_proposals(answer) == 0
    assert not ImageProposals.objects.exists()
    assert store_proposals({"status": "no_checkpoint", "model": "sharpmask"}) == 0


def test_spotting_tasks_carry_proposal_centres_once_proposals_exist(coco_project, photo, annotator):
    store_proposals(answer_for(photo))
    assignment = hold_spotting_task(coco_project, photo, annotator)
    assert assignment.task.payload["suggestions"] == [{"x": 50.0, "y": 40.0, "score": 0.9}]


def test_spotting_tasks_go_out_without_suggestions_while_the_model_service_is_silent(
    coco_project, photo, annotator
):
    assignment = hold_spotting_task(coco_project, photo, annotator)
    assert assignment.task.payload["suggestions"] == []
    assert proposals_request(image_ids=[photo.id]) in (0, 1)  # queued or not: never waits


def test_start_from_suggestion_returns_the_best_proposal_covering_the_spot(
    coco_project, photo, annotator, api_client
):
    store_proposals(answer_for(photo))
    hold_spotting_task(coco_project, photo, annotator)
    url = reverse("proposals-api:start", args=[photo.id])
    body = login(api_client, annotator).get(url, {"x": 40, "y": 30}).json()
    assert body["suggestion"]["score"] == 0.9
    assert body["suggestion"]["bbox_xywh"] == [30.0, 20.0, 40.0, 40.0]
    assert api_client.get(url, {"x": 5, "y": 5}).json() == {"suggestion": None}
    response = api_client.get(url, {"x": 500, "y": 5})
    assert response.status_code == 400 and "x" in response.json()["fields"]


def test_click_to_mask_returns_stored_model_masks_at_the_click(
    coco_project, photo, annotator, api_client
):
    store_proposals(answer_for(photo))
    hold_spotting_task(coco_project, photo, annotator)
    url = reverse("proposals-api:click", args=[photo.id])
    body = (
        login(api_client, annotator).post(url, {"x": 45, "y": 35, "limit": 2}, format="json").json()
    )
    assert body["source"] == "model" and body["model_version"] == "sharpmask/v0001"
    assert body["masks"][0]["score"] == 0.9


def test_click_to_mask_falls_back_to_grabcut_before_any_model_answered(
    coco_project, photo, annotator, api_client
):
    hold_spotting_task(coco_project, photo, annotator)
    url = reverse("proposals-api:click", args=[photo.id])
    body = login(api_client, annotator).post(url, {"x": 50, "y": 40}, format="json").json()
    assert body["source"] == "grabcut"
    polygon = body["masks"][0]["polygon"]
    found = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([polygon], 96, 128))).astype(
        bool
    )
    square = np.zeros((96, 128), dtype=bool)
    square[20:60, 30:70] = True
    assert (found & square).sum() / (found | square).sum() > 0.8


def test_only_workers_holding_a_task_on_the_image_or_admins_may_ask(
    photo, make_worker, admin_user, api_client
):
    url = reverse("proposals-api:suggestions", args=[photo.id])
    assert api_client.get(url).status_code in (401, 403)
    stranger = make_worker(WorkerProfile.Role.ANNOTATOR, "stranger")
    response = login(api_client, stranger).get(url)
    assert response.status_code == 403 and "no task" in json.dumps(response.json())
    api_client.logout()
    assert login(api_client, admin_user).get(url).json() == {"suggestions": []}


def test_a_lease_that_ran_out_opens_no_suggestions(coco_project, photo, annotator, api_client):
    lease = hold_spotting_task(coco_project, photo, annotator)
    Assignment.objects.filter(id=lease.id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    url = reverse("proposals-api:suggestions", args=[photo.id])
    assert login(api_client, annotator).get(url).status_code == 403


def test_click_to_mask_is_throttled_per_annotator(
    coco_project, photo, annotator, api_client, settings
):
    """Each click may decode the photo and run GrabCut: a worker gets a bounded number."""
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "click_mask": "2/minute"}
    cache.clear()
    hold_spotting_task(coco_project, photo, annotator)
    url = reverse("proposals-api:click", args=[photo.id])
    client = login(api_client, annotator)
    codes = [client.post(url, {"x": 50, "y": 40}, format="json").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_admins_see_the_model_service_status_without_waiting_long(
    admin_user, annotator, api_client
):
    url = reverse("proposals-api:models-status")
    assert login(api_client, annotator).get(url).status_code == 403
    api_client.logout()
    body = login(api_client, admin_user).get(url).json()
    assert body["state"] in ("disabled", "down") and body["reason"]
    assert models_service_status(timeout=0.5)["state"] in ("disabled", "down")


def test_train_proposals_snapshots_accepted_annotations_with_image_paths(tmp_path, db, settings):
    """The command exports through the COCO exporter into media storage; without a broker it
    prints the trainer command, which (in .venv-models) trains on that snapshot."""
    images = tmp_path / "photos"
    images.mkdir()
    dataset = {
        "images": [],
        "annotations": [],
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }
    for i in range(1, 4):
        (images / f"{i}.png").write_bytes(square_photo(i))
        dataset["images"].append({"id": i, "file_name": f"{i}.png", "width": 128, "height": 96})
        dataset["annotations"].append({
            "id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "area": 1600.0,
            "bbox": [30.0, 20.0, 40.0, 40.0], "segmentation": [[30, 20, 70, 20, 70, 60, 30, 60]],
        })  # fmt: skip
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(dataset))
    call_command("import_coco", str(source), "--project", "shapes", "--images", str(images))
    out = io.StringIO()
    call_command(
        "train_proposals",
        "--project",
        "shapes",
        "--model",
        "sharpmask",
        "--config",
        "tiny",
        stdout=out,
    )
    folder = next((Path(settings.MEDIA_ROOT) / "models" / "snapshots").iterdir())
    snapshot = json.loads((folder / "annotations.json").read_text())
    assert len(snapshot["images"]) == 3 and len(snapshot["annotations"]) == 3
    assert all(
        (Path(settings.MEDIA_ROOT) / entry["path"]).is_file() for entry in snapshot["images"]
    )
    text = out.getvalue()
    if "queued" in text:
        return  # a broker took it; the models worker trains
    assert "models_zoo.train" in text
    python = ROOT / ".venv-models" / "bin" / "python"
    if not python.exists():
        pytest.skip("no .venv-models here (./scripts/setup-models makes it)")
    command = [
        *text.split("with:\n", 1)[1].split(),
        "--steps",
        "2",
        "--refine-steps",
        "1",
        "--no-progress",
    ]
    command[0] = str(python)
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["version"] == "v0001"
    shutil.rmtree(folder)


def test_train_proposals_refuses_a_project_without_accepted_annotations(coco_project):
    with pytest.raises(Exception, match="no accepted annotations"):
        call_command(
            "train_proposals",
            "--project",
            coco_project.name,
            "--model",
            "fpn",
            stdout=io.StringIO(),
        )


def test_an_image_entering_the_pipeline_is_queued_for_proposals_on_the_models_queue(
    coco_project, settings, django_capture_on_commit_callbacks
):
    if not settings.CELERY_BROKER_URL:
        pytest.skip("embedded default: no broker, so the model service is off")
    settings.MODELS_SERVICE = True
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    # Test runs give each process its own broker key prefix (config/settings/test.py).
    models = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "") + "models"
    before = queue.llen(models)
    with django_capture_on_commit_callbacks(execute=True):
        result = image_ingest(
            project=coco_project,
            content=square_photo(7),
            meta=SourceMetadata(source="upload", source_ref="q.png", file_name="q.png"),
        )
    assert result.image is not None
    assert queue.llen(models) == before + 1
    message = json.loads(queue.lindex(models, 0))
    assert message["headers"]["task"] == "models.propose_images"
    queue.lpop(models)  # no models worker consumes it in tests
