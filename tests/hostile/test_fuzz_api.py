"""Schemathesis against the project's own OpenAPI schema (/api/schema/), as an annotator and
as an admin (issue 17): no request it generates gets a 5xx, every response conforms to the
schema and its status code is one the schema documents. Bounded (a few derandomised examples
per operation) so it stays in the test command; benchmarks/bench_fuzz_api.py runs it longer."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from annotation.models import Project, Stage
from annotation.services import task_engine
from tests.annotation.stages.test_labeling import make_image

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Per operation and role; benchmarks/bench_fuzz_api.py raises it for the long run.
EXAMPLES = int(os.environ.get("COCOFORGE_FUZZ_EXAMPLES", "3"))


# The project's own schema, as /api/schema/ serves it (to anyone: it reads no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _one_connection(db):  # type: ignore[no-untyped-def]
    """As Django's test client does: the requests run inside the test's transaction, so the
    handler must not close the connection after each one."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _token_for(make_worker, project: Project, role: str) -> str:  # type: ignore[no-untyped-def]
    """A signed-in person with something to work on: a project with photos and a labeling
    task leased."""
    for _ in range(2):
        image = make_image(project, width=64, height=48)
        task_engine.task_post(project=project, stage=Stage.LABELING, image=image, answers_needed=1)
    user = make_worker(role)
    task_engine.task_next_for_worker(worker=user, stage=Stage.LABELING)
    return Token.objects.create(user=user).key


@pytest.fixture
def annotator_token(make_worker, coco_project: Project) -> str:  # type: ignore[no-untyped-def]
    return _token_for(make_worker, coco_project, "annotator")


@pytest.fixture
def admin_token(make_worker, coco_project: Project) -> str:  # type: ignore[no-untyped-def]
    return _token_for(make_worker, coco_project, "admin")


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
NO_THROTTLES = override_settings(
    THROTTLE_RATES={
        k: "100000/minute" for k in ("lease", "submit", "token_address", "token_account")
    }
)


@schema.parametrize()
@FUZZ
@NO_THROTTLES
def test_as_an_annotator_no_server_errors_and_responses_as_the_schema_says(  # type: ignore[no-untyped-def]
    case, annotator_token
):
    case.call_and_validate(headers={"Authorization": f"Token {annotator_token}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ
@NO_THROTTLES
def test_as_an_admin_no_server_errors_and_responses_as_the_schema_says(case, admin_token):  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)
