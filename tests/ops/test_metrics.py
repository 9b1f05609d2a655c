"""/metrics: request metrics from django-prometheus and the pipeline's gauges, for the
operator only (loopback or a bearer token)."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from annotation.models import Stage
from annotation.services import task_engine
from config.celery import app as celery_app
from pipelines.tasks import ping


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.django_db
def test_metrics_count_tasks_per_stage_and_status_and_leases_outstanding(
    client, coco_project, choice_stage, annotator, make_worker
):
    for _ in range(3):
        task_engine.task_post(
            project=coco_project, stage=Stage.LABELING, answers_needed=1, payload={"options": ["a"]}
        )
    task_engine.task_next_for_worker(worker=annotator, stage=Stage.LABELING)
    task_engine.task_next_for_worker(worker=make_worker(), stage=Stage.LABELING)

    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content.decode())
    assert found[("cocoforge_tasks", (("stage", "labeling"), ("status", "open")))] == 3
    assert found[("cocoforge_leases_outstanding", (("stage", "labeling"),))] == 2
    # django-prometheus' request latency histogram is there, with /healthz's request in it
    assert any(
        name == "django_http_requests_latency_seconds_by_view_method_count"
        and dict(labels).get("view") == "healthz"
        and value >= 1
        for (name, labels), value in found.items()
    )


@pytest.mark.django_db
def test_metrics_report_the_depth_of_each_celery_queue(client):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("queue depth is read from the Redis broker")
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        before = samples(client.get("/metrics").content.decode())
        for _ in range(4):
            ping.apply_async(queue=queue)  # no worker consumes this test's prefix
        after = samples(client.get("/metrics").content.decode())
    finally:
        celery_app.conf.task_always_eager = eager
        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(prefix + queue)
    key = ("cocoforge_celery_queue_length", (("queue", queue),))
    assert after[key] - before[key] == 4
    assert after[("cocoforge_broker_up", ())] == 1


@pytest.mark.django_db
def test_metrics_are_refused_to_other_addresses_and_wrong_tokens(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    token = uuid.uuid4().hex
    with override_settings(METRICS_BEARER_TOKEN=token):
        wrong = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope")
        right = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {token}")
        spoofed = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert (wrong.status_code, right.status_code, spoofed.status_code) == (403, 200, 403)
    assert "METRICS_ALLOWED_ADDRESSES" in wrong.json()["detail"]
    with override_settings(METRICS_ALLOWED_ADDRESSES=["10.1.0.0/16"]):
        assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


@pytest.mark.django_db
def test_an_annotator_cannot_read_metrics_from_outside(client, annotator):
    client.force_login(annotator)
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
