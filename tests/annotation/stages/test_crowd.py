"""Crowd painting: a pair past the individual cap gets one painting task; the painted mask
is stored as ONE iscrowd Annotation holding a compressed COCO RLE whose area is the painted
pixel count; a mask of the wrong size or an empty one is refused and nothing is stored."""

from __future__ import annotations

import base64
import io

import numpy as np
import PIL.Image
import pytest
from pycocotools import mask as coco_mask

from annotation.models import Annotation, Assignment, Category, Stage, Task
from annotation.models.segmentation import SegmentationProgress
from annotation.models.verification import CrowdPainting
from annotation.services import task_engine
from annotation.stages.crowd import crowd_post_tasks, painted_region
from tests.annotation.stages.test_labeling import make_image

PERSON = 1
WIDTH, HEIGHT = 60, 40


def png_data_url(mask: np.ndarray, transparent_background: bool = True) -> str:
    """Painted pixels opaque red; the rest transparent (or opaque black)."""
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[mask, 0] = 255
    rgba[..., 3] = np.where(mask, 255, 0 if transparent_background else 255)
    buffer = io.BytesIO()
    PIL.Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def crowd_pair(project, width=WIDTH, height=HEIGHT, state=SegmentationProgress.State.CROWD):  # type: ignore[no-untyped-def]
    image = make_image(project, width=width, height=height)
    person = Category.objects.get(taxonomy__project=project, coco_id=PERSON)
    SegmentationProgress.objects.create(image=image, category=person, state=state)
    return image, person


@pytest.fixture
def crowd_task(coco_project) -> Task:  # type: ignore[no-untyped-def]
    crowd_pair(coco_project)
    (task,) = crowd_post_tasks(project=coco_project)
    return task


def lease_for(worker) -> Assignment:  # type: ignore[no-untyped-def]
    lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.CROWD)
    assert lease is not None
    return lease


@pytest.fixture
def capture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


@pytest.mark.django_db
def test_one_painting_task_per_pair_past_the_cap(coco_project):
    image, person = crowd_pair(coco_project)
    crowd_pair(coco_project, state=SegmentationProgress.State.SEGMENTING)
    crowd_pair(coco_project, state=SegmentationProgress.State.DONE)
    (task,) = crowd_post_tasks(project=coco_project)
    assert (task.stage, task.image, task.category, task.answers_needed) == (
        Stage.CROWD,
        image,
        person,
        1,
    )
    assert crowd_post_tasks(project=coco_project) == [], "posting twice posts nothing new"


@pytest.mark.django_db
def test_a_painting_becomes_one_crowd_annotation_with_the_painted_area(
    crowd_task, annotator, api_client, capture
):
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[5:15, 10:30] = True  # 200 px
    mask[30:38, 50:55] = True  # 40 px, a second part
    mask[8:10, 12:14] = False  # erased: 4 px
    lease = lease_for(annotator)
    api_client.force_authenticate(annotator)
    with capture(execute=True):
        response = api_client.post(
            f"/api/v1/assignments/{lease.id}/submit/",
            {"answer": {"png": png_data_url(mask)}, "idempotency_key": "p1"},
            format="json",
        )
    assert response.status_code == 200, response.content
    annotation = Annotation.objects.get()
    assert annotation.iscrowd and annotation.origin == Annotation.Origin.CROWD
    assert annotation.area == mask.sum() == 236
    rle = annotation.segmentation
    assert rle["size"] == [HEIGHT, WIDTH] and isinstance(rle["counts"], str)
    decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    assert np.array_equal(decoded.astype(bool), mask)
    assert annotation.bbox_xywh == [10.0, 5.0, 45.0, 33.0]
    painting = CrowdPainting.objects.get()
    assert painting.annotation == annotation and painting.area == 236
    crowd_task.refresh_from_db()
    assert crowd_task.result["annotation"] == annotation.coco_id


@pytest.mark.django_db
def test_black_background_paintings_and_list_rles_read_the_same(crowd_task):
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[1:4, 1:6] = True
    from annotation.stages.crowd import validate_painting

    by_png = validate_painting(crowd_task, {"png": png_data_url(mask, False)})
    flat = mask.flatten(order="F").astype(int)
    counts, current, run = [], 0, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    by_rle = validate_painting(crowd_task, {"rle": {"size": [HEIGHT, WIDTH], "counts": counts}})
    compressed = validate_painting(crowd_task, {"rle": by_png["rle"]})
    assert by_png == by_rle == compressed == painted_region(mask)
    assert by_png["area"] == 15


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"png": png_data_url(np.ones((HEIGHT, WIDTH + 1), dtype=bool))}, "61x40"),
        ({"png": png_data_url(np.zeros((HEIGHT, WIDTH), dtype=bool))}, "nothing is painted"),
        ({"rle": {"size": [HEIGHT, WIDTH], "counts": [HEIGHT * WIDTH]}}, "nothing is painted"),
        ({"rle": {"size": [10, 10], "counts": [100]}}, "but the photo is 60x40"),
        ({"png": "data:image/png;base64,@@@"}, "base64"),
        ({"png": "data:image/png;base64," + base64.b64encode(b"nope").decode()}, "decoded"),
        ({"png": "x", "none_left": True}, "exactly one"),
        ({}, "exactly one"),
    ],
)
def test_bad_paintings_are_refused_and_nothing_is_stored(
    crowd_task, annotator, api_client, answer, reason
):
    lease = lease_for(annotator)
    api_client.force_authenticate(annotator)
    response = api_client.post(
        f"/api/v1/assignments/{lease.id}/submit/",
        {"answer": answer, "idempotency_key": "bad"},
        format="json",
    )
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.LEASED and lease.answer is None
    assert not Annotation.objects.exists() and not CrowdPainting.objects.exists()


@pytest.mark.django_db
def test_nothing_left_stores_no_annotation(crowd_task, annotator, capture):
    lease = lease_for(annotator)
    with capture(execute=True):
        task_engine.assignment_submit(
            assignment_id=lease.id, worker=annotator, answer={"none_left": True}, key="n"
        )
    assert not Annotation.objects.exists()
    assert CrowdPainting.objects.get().area == 0
