"""The permission matrix: every API endpoint and page (read from the URL resolver, so a new
one is covered the day it is added) is requested by six people: anonymous, an annotator of
this project, an annotator of another project, an expert, an admin and an API token. Nobody
gets a 5xx; the anonymous get nothing; and no response to anyone but an admin carries a gold
item's outline, a reference's vertices, another worker's answer or id, or a test-split mask
outside a held lease. Known endpoints also have their expected answers per person."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Assignment, Category, Image, Stage, WorkerProfile
from annotation.models.segmentation import Qualification, Segmentation
from annotation.services import qualification, task_engine
from annotation.services.evaluation_server import release_create
from annotation.services.membership import membership_add
from annotation.services.projects import project_create
from annotation.stages.verification import gold_create
from tests.annotation.stages.test_labeling import make_image
from tests.annotation.stages.test_verification import DOG, make_mask
from tests.annotation.test_access import coco_ground_truth

PERSONAS = ["anonymous", "member", "outsider", "expert", "admin", "token"]
NOT_ADMIN = ["member", "outsider", "expert", "token"]
WORKERS = ["member", "outsider", "token"]  # annotators: the least knowledge applies in full

# Coordinates that appear in nothing but the secret they mark.
TEST_MASK_X = 61.375  # a test-split mask (hidden ground truth of the release)
REFERENCE_X = 83.625  # an expert's reference outline (training answer)
GOLD_X = 97.875  # a gold item's outline
OTHERS_ANSWER = "other-workers-answer-7f3a"


def square(x: float, y: float = 21.25, size: float = 20) -> list[list[float]]:
    return [[x, y, x + size, y, x + size, y + size, x, y + size]]


@dataclass
class World:
    people: dict[str, Any]
    clients: dict[str, APIClient]
    kwargs: dict[str, Any]
    spotter_id: int
    other_worker_id: int


def url_patterns() -> list[tuple[str, str | None, URLPattern]]:
    """(route, name, pattern) of every URL the project serves, but the Django admin's own
    pages (checked separately: staff only) and static files."""

    def walk(patterns, prefix=""):  # type: ignore[no-untyped-def]
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            else:
                yield prefix + str(entry.pattern), entry.name, entry

    return [row for row in walk(get_resolver().url_patterns) if not row[0].startswith("admin/")]


def concrete(route: str, world: World) -> str:
    """The route with its parameters filled from the world (by name, then by converter)."""
    route = route.lstrip("^").rstrip("$")
    route = re.sub(r"\(\?P<path>[^)]*\)", "nothing-here.jpg", route)

    def value(match: re.Match) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if name in world.kwargs:
            return str(world.kwargs[name])
        return {"int": str(world.kwargs["pk"]), "slug": world.kwargs["slug"]}.get(converter, "x")

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


def route_key(route: str, name: str | None) -> str:
    return name or route


def build_world(make_worker, django_capture_on_commit_callbacks) -> World:  # type: ignore[no-untyped-def]
    project = project_create(name="Matrix COCO", template="coco")
    other_project = project_create(name="Elsewhere", categories=[{"name": "bird"}])
    people = {
        "member": make_worker(WorkerProfile.Role.ANNOTATOR, "member", member=False),
        "outsider": make_worker(WorkerProfile.Role.ANNOTATOR, "outsider", member=False),
        "expert": make_worker(WorkerProfile.Role.EXPERT, "expert", member=False),
        "admin": make_worker(WorkerProfile.Role.ADMIN, "admin", member=False),
        "token": make_worker(WorkerProfile.Role.ANNOTATOR, "scripted", member=False),
    }
    for name in ("member", "token"):
        membership_add(project=project, user=people[name])
    membership_add(project=project, user=people["expert"], role="expert")
    membership_add(project=other_project, user=people["outsider"])
    segmenter, spotter = make_worker(member=False), make_worker(member=False)
    membership_add(project=project, user=make_worker(username="leaver", member=False))

    # A release whose test-split mask is hidden ground truth.
    test_mask = make_mask(project, segmenter, x=TEST_MASK_X)
    Segmentation.objects.filter(id=test_mask.id).update(
        polygons=square(TEST_MASK_X), status=Segmentation.Status.ACCEPTED
    )
    test_mask.refresh_from_db()
    Image.objects.filter(id=test_mask.image_id).update(split="test")
    release = release_create(
        project=project,
        name="matrix-dev",
        ground_truth_json=coco_ground_truth([test_mask]),
        iou_types=["segm"],
    )
    dog = Category.objects.get(taxonomy__project=project, coco_id=DOG)
    for name in ("member", "token"):  # qualified: they get the segmentation task
        Qualification.objects.create(worker=people[name], category=dog, passed=True, tries=1)
    image = make_image(project, width=200, height=100)
    qualification.reference_create(
        author=people["expert"], image=image, category=dog, polygons=square(REFERENCE_X)
    )
    gold_create(author=people["expert"], image=image, category=dog, polygons=square(GOLD_X))
    # An open segmentation task whose stored payload names its spotter; another worker's
    # submitted answer on a labeling task.
    task_engine.task_post(
        project=project, stage=Stage.SEGMENTATION, answers_needed=1, image=image,
        category=dog, payload={"spot": {"id": 1, "x": 30, "y": 30, "worker": spotter.id}},
    )  # fmt: skip
    answered = task_engine.task_post(
        project=project, stage=Stage.LABELING, answers_needed=2, image=image,
        payload={"supercategories": []},
    )  # fmt: skip
    slot = answered.assignments.first()
    assert slot is not None
    Assignment.objects.filter(id=slot.id).update(
        status="submitted", worker=segmenter, answer={"secret": OTHERS_ANSWER}
    )

    clients = {}
    for persona in PERSONAS:
        client = APIClient()
        if persona == "token":
            key = Token.objects.create(user=people["token"]).key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        elif persona != "anonymous":
            client.force_login(people[persona])
        clients[persona] = client
    kwargs = {
        "pk": project.id,
        "slug": release.slug,
        "category_id": DOG,
        "cell_id": "0" * 16,
        "name": "annotations.json",
        "username": "leaver",  # the admin's DELETE takes them off the project
        "candidate_id": 1,
    }
    return World(people, clients, kwargs, spotter.id, segmenter.id)


def leaks(body: str, persona: str, world: World) -> list[str]:
    """What a non-admin's response must not carry."""
    found = []
    for marker, what in (
        (TEST_MASK_X, "a test-split mask"),
        (REFERENCE_X, "a reference outline"),
        (GOLD_X, "a gold outline"),
        (OTHERS_ANSWER, "another worker's answer"),
    ):
        if str(marker) in body:
            found.append(what)
    if re.search(r'"(is_)?gold"\s*:', body):
        found.append("a gold flag")
    own_id = world.people["token" if persona == "token" else persona].id
    for key, value in re.findall(r'"(\w*(?:worker|user)\w*)"\s*:\s*(\d+)', body):
        if int(value) != own_id:
            found.append(f"another worker's id ({key}={value})")
    return found


def body_of(response) -> str:  # type: ignore[no-untyped-def]
    if getattr(response, "streaming", False):
        return ""
    content = response.content
    try:
        return content.decode()
    except UnicodeDecodeError:
        return ""  # a picture


# What known endpoints answer each person (GET unless the route only takes POST).
# "ok": 2xx; "denied": 401/403/404 (or a redirect to the login page for pages).
ADMIN_ONLY = {
    "project-members", "project-member", "collection-queries", "collection-plan",
    "collection-grids", "collection-summary", "tasks-post", "quality", "precision-line",
    "image-spots", "pass-rates", "grids", "crowd-tasks", "export-start", "export-job",
    "export-file", "labeling-quality", "segmentation-pass-rates", "export-page",
    "export-download", "stats-page", "marketplace",
}  # fmt: skip
# Experts review, retire and generate gold: these show gold to them and to no annotator.
EXPERT_ONLY = {"gold", "gold-picture", "gold-active", "gold-generate", "verification-gold"}
# Signing in, and the API's schema and its browsable docs (they describe, they hold no data).
PUBLIC = {"login", "logout", "token", "api-schema", "api-docs", "healthz", "readyz"}
# /metrics is limited by the caller's address, not the person: the test client comes from
# loopback, which may read it (tests/ops/test_metrics.py refuses everyone else).
PUBLIC |= {"metrics"}
# The MTurk HIT page: MTurk's iframe arrives without a session. Its preview shows a HIT's
# instructions only; accepted, it signs in by the worker id (docs/admin/security-model.md;
# what it refuses and gives: tests/marketplace/test_worker_entry.py).
PUBLIC |= {"mturk-external"}
MEMBERS_ONLY = {"project", "project-images", "panel", "training"}


def request(client: APIClient, pattern: URLPattern, url: str):  # type: ignore[no-untyped-def]
    """GET what can be read; an endpoint without GET is sent an empty POST (DELETE for the
    membership row): what any person can send, and it must not fail with a 5xx."""
    view_class = getattr(pattern.callback, "view_class", None) or getattr(
        pattern.callback, "cls", None
    )
    methods = (
        {m for m in ("get", "post", "delete") if hasattr(view_class, m)} if view_class else {"get"}
    )
    if "get" in methods:
        return client.get(url)
    if "post" in methods:
        return client.post(url, {}, format="json")
    return client.delete(url)


@pytest.fixture
def world(make_worker, django_capture_on_commit_callbacks) -> World:  # type: ignore[no-untyped-def]
    cache.clear()
    return build_world(make_worker, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_every_endpoint_and_page_answers_each_person_as_the_matrix_says(world):
    patterns = url_patterns()
    assert len(patterns) > 40  # the resolver walk found the whole site
    problems: list[str] = []
    for route, name, pattern in patterns:
        url = concrete(route, world)
        key = route_key(route, name)
        for persona in PERSONAS:
            response = request(world.clients[persona], pattern, url)
            status = response.status_code
            where = f"{persona:9} {url} ({key}): {status}"
            if status >= 500:
                problems.append(f"{where} server error")
                continue
            is_page = not route.startswith("api/")
            if persona == "anonymous" and name not in PUBLIC:
                refused = status in {401, 403} or (
                    is_page and status == 302 and "/login/" in response.get("Location", "")
                )
                if not refused and not (is_page and name is None):
                    problems.append(f"{where} the anonymous were let in")
            if persona in NOT_ADMIN and not (name in EXPERT_ONLY and persona == "expert"):
                found = leaks(body_of(response), persona, world)
                if found:
                    problems.append(f"{where} carries {', '.join(found)}")
            denied = status in {401, 403, 404} or (
                status == 302 and "/login/" in response.get("Location", "")
            )
            if name in ADMIN_ONLY and persona in NOT_ADMIN and not denied:
                problems.append(f"{where} is for admins only")
            if name in EXPERT_ONLY and persona in {"member", "outsider", "token"} and not denied:
                problems.append(f"{where} is for experts and admins only")
            if name in MEMBERS_ONLY:
                if persona == "outsider" and not denied:
                    problems.append(f"{where} a non-member saw this project")
                if persona in {"member", "token", "expert", "admin"} and status != 200:
                    problems.append(f"{where} a member was refused")
    assert problems == [], "\n".join(problems)


@pytest.mark.django_db
def test_the_hidden_test_mask_is_readable_by_the_admin_so_the_leak_check_can_fail(world):
    """The markers are real: the admin (who may) does read the test mask and the
    segmentation payload's spotter; annotators and experts without a lease do not."""
    image_id = Segmentation.objects.get(polygons=square(TEST_MASK_X)).image_id
    url = f"/api/v1/segmentation/images/{image_id}/masks/"
    assert str(TEST_MASK_X) in body_of(world.clients["admin"].get(url))
    assert world.clients["member"].get(url).status_code == 403
    assert world.clients["expert"].get(url).status_code == 403
    lease = world.clients["admin"].post("/api/v1/tasks/next/", {"stage": "segmentation"})
    assert lease.json()["task"]["payload"]["spot"]["worker"] == world.spotter_id
    assert leaks(json.dumps(lease.json()), "member", world)


@pytest.mark.django_db
def test_a_leased_segmentation_task_shows_a_worker_no_one_elses_id(world):
    lease = world.clients["member"].post("/api/v1/tasks/next/", {"stage": "segmentation"})
    assert lease.status_code == 200 and lease.json()["task"]["payload"]["spot"]["x"] == 30
    assert leaks(body_of(lease), "member", world) == []
    outsider = world.clients["outsider"].post("/api/v1/tasks/next/", {}, format="json")
    assert outsider.status_code == 204


@pytest.mark.django_db
def test_the_django_admin_is_for_admins_only(world):
    for persona in PERSONAS:
        response = world.clients[persona].get("/admin/annotation/membership/")
        if persona == "admin":
            assert response.status_code == 200
        else:
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
