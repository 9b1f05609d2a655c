"""Hostile numbers in answers (issue 17): NaN, inf, 1e308 and a million vertices, sent over
the API as an annotator would. Each is a 400 (or 413) with a reason; the lease stays open and
nothing is stored."""

from __future__ import annotations

import json

import pytest

from annotation.models import Assignment, Stage
from annotation.services import task_engine
from tests.annotation.stages.test_labeling import labeling_answer, post_labeling_task

PERSON = 1


def _lease(coco_project, annotator):  # type: ignore[no-untyped-def]
    post_labeling_task(coco_project, width=640, height=480)
    lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
    assert lease is not None
    return lease


def _post_raw(api_client, lease, body: str):  # type: ignore[no-untyped-def]
    return api_client.generic(
        "POST",
        f"/api/v1/assignments/{lease.id}/submit/",
        body,
        content_type="application/json",
    )


def _nothing_stored(lease) -> None:  # type: ignore[no-untyped-def]
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.LEASED and lease.answer is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("x", "reason"),
    [
        (1e308, "is outside the image (640x480 pixels)"),
        (-1e308, "is outside the image"),
        (10**400, "must be a number of pixels"),  # an int beyond any float
        ("12", "must be a number of pixels"),
    ],
)
def test_icons_placed_at_absurd_coordinates_are_refused(
    coco_project, annotator, api_client, x, reason
):
    lease = _lease(coco_project, annotator)
    answer = labeling_answer(coco_project, {PERSON: (10.0, 10.0)})
    answer["categories"][0]["x"] = x
    api_client.force_authenticate(annotator)
    response = api_client.post(
        f"/api/v1/assignments/{lease.id}/submit/",
        {"answer": answer, "idempotency_key": "k"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert reason in response.json()["detail"]
    _nothing_stored(lease)


@pytest.mark.django_db
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_and_are_refused_by_the_parser(
    coco_project, annotator, api_client, literal
):
    lease = _lease(coco_project, annotator)
    answer = labeling_answer(coco_project, {PERSON: (10.0, 10.0)})
    body = json.dumps({"answer": answer, "idempotency_key": "k"}).replace("10.0", literal, 1)
    assert literal in body
    api_client.force_authenticate(annotator)
    response = _post_raw(api_client, lease, body)
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"
    _nothing_stored(lease)


@pytest.mark.django_db
def test_a_million_vertices_is_a_json_413_before_it_is_parsed(coco_project, annotator, api_client):
    lease = _lease(coco_project, annotator)
    polygon = [float(i % 600) for i in range(2 * 10**6)]
    body = json.dumps({"answer": {"polygons": [polygon]}, "idempotency_key": "k"})
    api_client.force_authenticate(annotator)
    response = _post_raw(api_client, lease, body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    _nothing_stored(lease)


@pytest.mark.django_db
def test_a_truncated_json_body_is_a_400(coco_project, annotator, api_client):
    lease = _lease(coco_project, annotator)
    api_client.force_authenticate(annotator)
    response = _post_raw(api_client, lease, '{"answer": {"categories": [')
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"
    _nothing_stored(lease)
