"""Structured logs: one JSON line per request and per Celery task, sharing a request id."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from config.celery import app as celery_app
from ops.logging import JsonLineFormatter, RequestIdFilter, request_id_var
from pipelines.tasks import ping, release_expired_leases

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The records of the root logger, written as LOGGING's json formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def records(stream: io.StringIO, logger: str) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == logger]


@pytest.mark.django_db
def test_each_request_is_one_json_line_with_user_status_and_duration(client, annotator, json_lines):
    client.force_login(annotator)
    response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="trace-42")
    assert response["X-Request-ID"] == "trace-42"
    [line] = records(json_lines, "cocoforge.request")
    assert line["request_id"] == "trace-42"
    assert line["user_id"] == annotator.pk
    assert (line["method"], line["path"], line["status"]) == (
        "GET",
        "/api/v1/me/",
        response.status_code,
    )
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["message"] == "request"


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_fresh_one_and_a_bogus_id_is_replaced(client, json_lines):
    first = client.get("/healthz")
    second = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith a newline")
    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(len(i) == 32 for i in ids) and ids[0] != ids[1]
    lines = records(json_lines, "cocoforge.request")
    assert [line["request_id"] for line in lines] == ids
    assert [line["user_id"] for line in lines] == [None, None]


@pytest.mark.django_db
def test_a_token_request_logs_the_token_user(api_client, annotator, json_lines):
    token = Token.objects.create(user=annotator)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    api_client.get("/api/v1/me/")
    [line] = records(json_lines, "cocoforge.request")
    assert line["user_id"] == annotator.pk


@pytest.mark.django_db
def test_each_celery_task_is_one_json_line_with_id_name_state_and_duration(json_lines):
    result = release_expired_leases.delay()
    [line] = records(json_lines, "cocoforge.task")
    assert line["task_id"] == result.id
    assert line["task_name"] == "pipelines.tasks.engine.release_expired_leases"
    assert line["state"] == "SUCCESS"
    assert isinstance(line["duration_ms"], float)


def run_with_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DEBUG"}}
    environment.update(
        DJANGO_SETTINGS_MODULE=module,
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL="sqlite:////tmp/cocoforge-log-check.sqlite3",
        **env,
    )
    code = "import django, logging; django.setup(); logging.getLogger('demo').warning('hello')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_production_logs_json_by_default_and_text_on_request():
    json_run = run_with_settings("config.settings.production")
    assert json_run.returncode == 0, json_run.stderr
    line = json.loads(json_run.stderr.strip().splitlines()[-1])
    assert (line["logger"], line["level"], line["message"]) == ("demo", "WARNING", "hello")

    text_run = run_with_settings("config.settings.production", LOG_FORMAT="text")
    assert text_run.returncode == 0, text_run.stderr
    assert text_run.stderr.strip().splitlines()[-1].endswith("WARNING demo [-] hello")

    wrong = run_with_settings("config.settings.production", LOG_FORMAT="xml")
    assert wrong.returncode != 0 and "LOG_FORMAT must be 'json' or 'text'" in wrong.stderr


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_its_tasks_as_json_with_the_request_id_that_queued_them(tmp_path):
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs PostgreSQL and Redis (the embedded default runs tasks in-process)")
    db = connection.settings_dict
    queue = f"cocoforge-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SECRET_KEY": "worker-test",
        "COCOFORGE_VAR_DIR": str(tmp_path),
        "LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
             "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    token = request_id_var.set("from-the-request")
    try:
        result = ping.apply_async(queue=queue)
        assert result.get(timeout=60) == "pong"
    finally:
        request_id_var.reset(token)
        celery_app.conf.task_always_eager = eager
        worker.terminate()
        worker.wait(timeout=30)
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # the worker's startup banner is printed, not logged
    [task_line] = [line for line in lines if line.get("logger") == "cocoforge.task"]
    assert task_line["task_id"] == result.id
    assert task_line["task_name"] == ping.name
    assert task_line["state"] == "SUCCESS"
    assert task_line["request_id"] == "from-the-request"
    assert isinstance(task_line["duration_ms"], float)
