"""MTurk tests: the real boto3 `mturk` client of annotation/services/mturk.py with botocore's
Stubber on it (requests and responses validated against the shipped service model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from annotation.models import (
    Assignment,
    Category,
    MTurkAssignment,
    MTurkHIT,
    MTurkWorker,
    Stage,
    Task,
    WorkerProfile,
)
from annotation.services import mturk, task_engine
from annotation.services.people import worker_create
from tests.annotation.stages.test_labeling import DOG
from tests.conftest import PASSWORD

SITE = "https://cocoforge.example.org"


@pytest.fixture
def aws(monkeypatch, settings):  # type: ignore[no-untyped-def]
    """Requester credentials in the environment, as a deployment has them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEREQUESTER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.SITE_URL = SITE
    settings.MTURK_PRODUCTION = False
    mturk._clients.clear()
    yield
    mturk._clients.clear()


@pytest.fixture
def stub(aws) -> Iterator[Stubber]:  # type: ignore[no-untyped-def]
    """The Stubber on the very client the service uses (the sandbox one)."""
    client = mturk.mturk_client()
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def open_tasks(project, count: int = 3, answers: int = 2, stage: str = Stage.LABELING):  # type: ignore[no-untyped-def]
    return task_engine.tasks_post_many(
        project=project, stage=stage, answers_needed=answers, items=[{} for _ in range(count)]
    )


def make_hit(project, task: Task, hit_id: str = "HIT1", **fields) -> MTurkHIT:  # type: ignore[no-untyped-def]
    return MTurkHIT.objects.create(
        project=project,
        task=task,
        stage=task.stage,
        hit_id=hit_id,
        sandbox=fields.pop("sandbox", True),
        reward=fields.pop("reward", "0.05"),
        max_assignments=fields.pop("max_assignments", task.answers_needed),
        lifetime_seconds=3600,
        auto_approval_delay_seconds=3600,
        **fields,
    )


def mturk_worker(worker_id: str) -> MTurkWorker:
    user = worker_create(username=f"mturk-{worker_id.lower()}", password=PASSWORD, role="annotator")
    return MTurkWorker.objects.create(worker_id=worker_id, user=user)


def answered(hit: MTurkHIT, worker: MTurkWorker, assignment_id: str,
             status: str = MTurkAssignment.Status.SUBMITTED) -> MTurkAssignment:  # fmt: skip
    """What the worker side leaves after a worker from MTurk answered the HIT's task: the
    answer slot submitted by their account, linked to the MTurk assignment."""
    assert hit.task is not None
    slot = hit.task.assignments.filter(status=Assignment.Status.FREE).first()
    assert slot is not None
    slot.worker = worker.user
    slot.status = Assignment.Status.SUBMITTED
    slot.answer = {}
    slot.save()
    return MTurkAssignment.objects.create(
        hit=hit, assignment_id=assignment_id, worker=worker, answer_slot=slot, status=status
    )


@pytest.fixture
def dog(coco_project) -> Category:  # type: ignore[no-untyped-def]
    return Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)


@pytest.fixture
def expert(make_worker):  # type: ignore[no-untyped-def]
    return make_worker(WorkerProfile.Role.EXPERT, "expert")
