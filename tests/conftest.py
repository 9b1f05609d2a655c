"""Shared fixtures: people with roles, a COCO project, a stage registered for the engine."""

from __future__ import annotations

import io
from collections.abc import Iterator

import PIL.Image
import pytest
from django.db import connection
from django.db.models.signals import post_save
from rest_framework.test import APIClient

from annotation import stages
from annotation.errors import AnswerInvalid
from annotation.models import Project, Stage, WorkerProfile
from annotation.services.membership import membership_add
from annotation.services.people import profile_for, worker_create
from annotation.services.projects import project_create

PASSWORD = "correct horse battery staple"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):  # type: ignore[no-untyped-def]
    """Everything under tests/browser/ is a browser test (before `-m` selection runs)."""
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def make_worker(db):  # type: ignore[no-untyped-def]
    """Make a person with a role. An ordinary test's people are members of every project
    the test has or makes (annotators as annotators, experts as experts); pass
    `member=False` for a person who belongs to no project (admins see every project)."""
    counter = iter(range(1, 10_000))
    members: list = []

    def join(user, project) -> None:  # type: ignore[no-untyped-def]
        role = profile_for(user).role
        if role != WorkerProfile.Role.ADMIN:
            membership_add(project=project, user=user, role=role)

    def on_project_saved(sender, instance, created, **kwargs):  # type: ignore[no-untyped-def]
        if created:
            for user in members:
                join(user, instance)

    def make(  # type: ignore[no-untyped-def]
        role: str = WorkerProfile.Role.ANNOTATOR, username: str | None = None, member: bool = True
    ):
        user = worker_create(
            username=username or f"{role}{next(counter)}", password=PASSWORD, role=role
        )
        if member:
            members.append(user)
            for project in Project.objects.all():
                join(user, project)
        return user

    post_save.connect(on_project_saved, sender=Project, dispatch_uid="test-members")
    yield make
    post_save.disconnect(sender=Project, dispatch_uid="test-members")


@pytest.fixture
def annotator(make_worker):  # type: ignore[no-untyped-def]
    return make_worker(WorkerProfile.Role.ANNOTATOR, "ann")


@pytest.fixture
def admin_user(make_worker):  # type: ignore[no-untyped-def]
    return make_worker(WorkerProfile.Role.ADMIN, "boss")


@pytest.fixture
def coco_project(db) -> Project:  # type: ignore[no-untyped-def]
    return project_create(name="Test COCO", template="coco")


def validate_choice(task, answer):  # type: ignore[no-untyped-def]
    """A small real validator: the answer must name one of the task payload's options."""
    if not isinstance(answer, dict) or answer.get("choice") not in task.payload.get("options", []):
        raise AnswerInvalid(f"choice must be one of {task.payload.get('options', [])}")
    return {"choice": answer["choice"]}


def record_majority(task) -> None:  # type: ignore[no-untyped-def]
    answers = [a.answer["choice"] for a in task.assignments.filter(status="submitted")]
    task.result = {"majority": max(set(answers), key=answers.count), "votes": len(answers)}
    task.save(update_fields=["result"])


@pytest.fixture
def choice_stage() -> Iterator[stages.StageRules]:
    """Registers a generic multiple-choice rule set on the labeling stage for engine tests."""
    rules = stages.StageRules(
        stage=Stage.LABELING, validate_answer=validate_choice, on_task_complete=record_majority
    )
    with stages.registered(rules):
        yield rules


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def jpeg_bytes(width: int = 64, height: int = 48, color=(200, 30, 30), exif=None) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    image = PIL.Image.new("RGB", (width, height), color)
    if exif is not None:
        image.save(buffer, "JPEG", exif=exif)
    else:
        image.save(buffer, "JPEG")
    return buffer.getvalue()
