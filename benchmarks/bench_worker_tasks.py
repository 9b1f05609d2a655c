"""Benchmark a scripted worker finishing one task of each stage in Chromium at 1366x768:
wall time from the task on screen to the answer stored, and the actions it took (clicks,
drags, key presses), with the pointer and, where the tool has one, by keys alone.

    .venv/bin/python -m pytest benchmarks/bench_worker_tasks.py -o python_files='bench_*.py' \\
        -q -s

"Before": the same file run in an export of the commit before issue 16 (git archive
41ce8d5 into a folder, this file copied in, the same .venv); the keyboard paths are skipped
there (those tools had none). The times are a script's, not a person's: they show the
tools' own latency (lease, draw, submit); the action counts are what a person would do.
Needs PostgreSQL/Redis or COCOFORGE_TEST_BACKEND=sqlite like the test suite.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from playwright.sync_api import expect

from annotation.models import Category, Stage, WorkerProfile
from annotation.models.segmentation import Qualification, SegmentationProgress
from annotation.services import task_engine
from annotation.services.projects import project_create
from annotation.stages import collection
from annotation.stages.crowd import crowd_post_tasks
from annotation.stages.labeling import labeling_tasks_post
from annotation.stages.segmentation import segmentation_post_for_completed_spotting
from annotation.stages.verification import verification_post_grids
from tests.annotation.stages.test_segmentation import spot_pair
from tests.annotation.stages.test_verification import add_gold, make_mask
from tests.browser.conftest import log_in
from tests.browser.test_collection_grid import pool_of
from tests.browser.test_labeling import stored_photo
from tests.conftest import PASSWORD

DOG, PERSON = 18, 1
RESULTS: list[dict] = []


@pytest.fixture
def laptop(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 768})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


class Worker:
    """Counts what a person would do: a click, a drag, a key press is one action each."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.actions = 0
        self.started = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()

    def at(self, x: float, y: float, width: int = 320, height: int = 240) -> tuple[float, float]:
        box = self.page.get_by_test_id("photo").bounding_box()
        return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height

    def click_photo(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.at(x, y))
        self.actions += 1

    def click(self, locator) -> None:  # type: ignore[no-untyped-def]
        locator.click()
        self.actions += 1

    def key(self, name: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(name)
            self.actions += 1

    def drag(self, start: tuple[float, float], path: list[tuple[float, float]]) -> None:
        self.page.mouse.move(*start)
        self.page.mouse.down()
        for point in path:
            self.page.mouse.move(*point, steps=4)
        self.page.mouse.up()
        self.actions += 1

    def done(self, stage: str, how: str) -> None:
        RESULTS.append(
            {
                "stage": stage,
                "how": how,
                "seconds": time.perf_counter() - self.started,
                "actions": self.actions,
            }
        )


def has_keys(page) -> bool:  # type: ignore[no-untyped-def]
    return page.locator("[data-testid=shortcuts] kbd").count() > 0


def ready(page, selector: str = "[data-testid=photo]") -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("work").wait_for(state="visible")
    page.wait_for_function(
        f"document.querySelector('{selector}') && document.querySelector('{selector}').getBoundingClientRect().width > 0"
    )
    page.wait_for_timeout(300)


def collection_task(page, how: str) -> None:  # type: ignore[no-untyped-def]
    project = project_create(name="Streets", categories=[{"name": "dog"}])
    project.stage_settings = {"collection_grid_size": 8, "collection_answers_per_grid": 1}
    project.save()
    pool_of(project, 8)
    collection.collection_grids_post(project=project)
    log_in(page, "ann", PASSWORD)
    page.goto("/collection/")
    expect(page.get_by_test_id("cell")).to_have_count(8)
    if how == "keys" and not has_keys(page):
        pytest.skip("no keyboard path in this version")
    w = Worker(page)
    w.start()
    cells = page.get_by_test_id("cell")
    if how == "pointer":
        w.click(cells.nth(1))
        w.click(cells.nth(5))
        w.click(page.get_by_test_id("submit-grid"))
    else:
        w.key("ArrowRight")
        w.key("Space")
        w.key("ArrowDown")
        w.key("Space")
        w.key("Enter")
    expect(page.get_by_test_id("grid-status")).to_contain_text("No more grids")
    w.done("collection (8 photos, 2 marked)", how)


def labeling_task(page, project, how: str) -> None:  # type: ignore[no-untyped-def]
    project.stage_settings = {"labeling_answers_per_image": 1}
    project.save()
    labeling_tasks_post(project=project, images=[stored_photo(project)])
    log_in(page, "ann", PASSWORD)
    page.goto("/labeling/")
    ready(page)
    if how == "keys" and not has_keys(page):
        pytest.skip("no keyboard path in this version")
    w = Worker(page)
    w.start()
    dog = page.locator('.panel .icon[data-category-id="18"]')
    if how == "pointer":
        dog.scroll_into_view_if_needed()
        box = dog.bounding_box()
        w.drag((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2), [w.at(200, 100)])
        w.click(page.get_by_test_id("rest-no"))
        w.click(page.get_by_test_id("submit"))
    else:
        w.key("n")  # person: no
        w.key("n")  # vehicle: no
        w.key("n")  # outdoor: no
        dog.focus()  # Tab to the icon: counted as one action
        w.actions += 1
        w.key("Enter")
        w.key("ArrowRight", 3)
        w.key("Enter")
        page.get_by_test_id("rest-no").focus()
        w.actions += 1
        w.key("Enter")
        page.get_by_test_id("submit").focus()
        w.actions += 1
        w.key("Enter")
    page.get_by_text("No more photos to label").wait_for()
    w.done("labeling (1 category present)", how)


def spotting_task(page, project, how: str) -> None:  # type: ignore[no-untyped-def]
    task_engine.task_post(
        project=project,
        stage=Stage.SPOTTING,
        answers_needed=1,
        image=stored_photo(project),
        category=Category.objects.get(taxonomy__project=project, coco_id=DOG),
        payload={"primed": [{"x": 160.0, "y": 120.0}], "max_spots": 10},
    )
    log_in(page, "ann", PASSWORD)
    page.goto("/spotting/")
    ready(page)
    if how == "keys" and not has_keys(page):
        pytest.skip("no keyboard path in this version")
    w = Worker(page)
    w.start()
    if how == "pointer":
        for x, y in [(40, 40), (160, 120), (260, 200)]:
            w.click_photo(x, y)
        w.click(page.get_by_test_id("submit"))
    else:
        w.key("Space")  # the cursor starts in the middle
        w.key("ArrowLeft", 4)
        w.key("ArrowUp", 3)
        w.key("Space")
        w.key("ArrowRight", 8)
        w.key("Space")
        w.key("Enter")
    page.get_by_text("No more photos to spot").wait_for()
    w.done("spotting (3 instances)", how)


def segmentation_task(page, project, make_worker, capture) -> None:  # type: ignore[no-untyped-def]
    image = stored_photo(project)
    spot_pair(project, [[(160, 120)]], make_worker, capture, image=image)
    segmentation_post_for_completed_spotting(project=project)
    dog = Category.objects.get(taxonomy__project=project, coco_id=DOG)
    Qualification.objects.create(worker=page.annotator, category=dog, passed=True, tries=1)
    log_in(page, "ann", PASSWORD)
    page.goto("/segmentation/")
    ready(page)
    w = Worker(page)
    w.start()
    outline = [
        (120, 80),
        (160, 70),
        (200, 80),
        (220, 130),
        (200, 170),
        (160, 175),
        (120, 170),
        (110, 125),
    ]
    for x, y in [*outline, outline[0]]:
        w.click_photo(x, y)
    w.click(page.get_by_test_id("submit"))
    page.get_by_text("No more objects to outline").wait_for()
    w.done("segmentation (8-point outline)", "pointer")


def verification_task(page, project, make_worker) -> Worker:  # type: ignore[no-untyped-def]
    project.stage_settings = {"verification_grid_size": 8}
    project.save()
    photo = stored_photo(project)
    segmenter = make_worker(WorkerProfile.Role.ANNOTATOR)
    for i in range(4):
        make_mask(project, segmenter, image=photo, x=20 + 60 * i)
    add_gold(project, make_worker(WorkerProfile.Role.EXPERT))
    verification_post_grids(project=project)
    log_in(page, "ann", PASSWORD)
    page.goto("/verification/")
    page.get_by_test_id("work").wait_for(state="visible")
    expect(page.get_by_test_id("cell")).to_have_count(8)
    return Worker(page)


def crowd_task(page, project) -> None:  # type: ignore[no-untyped-def]
    photo = stored_photo(project)
    person = Category.objects.get(taxonomy__project=project, coco_id=PERSON)
    SegmentationProgress.objects.create(
        image=photo, category=person, state=SegmentationProgress.State.CROWD
    )
    crowd_post_tasks(project=project)
    log_in(page, "ann", PASSWORD)
    page.goto("/crowd/")
    ready(page)
    w = Worker(page)
    w.start()
    # A 100x60 crowd region: brush strokes (20 px) back and forth, or one lasso.
    if page.get_by_test_id("lasso").count():
        w.key("l")
        w.drag(w.at(100, 100), [w.at(200, 100), w.at(200, 160), w.at(100, 160), w.at(100, 101)])
        how = "lasso"
    else:
        for y in (110, 130, 150):
            w.drag(w.at(100, y), [w.at(200, y)])
        how = "brush strokes"
    w.click(page.get_by_test_id("submit"))
    page.get_by_text("Nothing to paint right now").wait_for()
    w.done("crowd painting (100x60 region)", how)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["pointer", "keys"])
def test_collection(laptop, annotator, how):  # type: ignore[no-untyped-def]
    collection_task(laptop, how)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["pointer", "keys"])
def test_labeling(laptop, annotator, coco_project, how):  # type: ignore[no-untyped-def]
    labeling_task(laptop, coco_project, how)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["pointer", "keys"])
def test_spotting(laptop, annotator, coco_project, how):  # type: ignore[no-untyped-def]
    spotting_task(laptop, coco_project, how)


@pytest.mark.django_db(transaction=True)
def test_segmentation(
    laptop, annotator, coco_project, make_worker, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    laptop.annotator = annotator
    segmentation_task(laptop, coco_project, make_worker, django_capture_on_commit_callbacks)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["pointer", "keys"])
def test_verification(laptop, annotator, coco_project, make_worker, how):  # type: ignore[no-untyped-def]
    w = verification_task(laptop, coco_project, make_worker)
    if how == "keys" and not has_keys(laptop):
        pytest.skip("no keyboard path in this version")
    w.start()
    cells = laptop.get_by_test_id("cell")
    if how == "pointer":
        w.click(cells.nth(2))
        w.click(cells.nth(6))
        w.click(laptop.get_by_test_id("submit"))
    else:
        w.key("ArrowRight", 2)
        w.key("Space")
        w.key("ArrowRight", 4)
        w.key("Space")
        w.key("Enter")
    laptop.wait_for_function("document.getElementById('verify-tool').dataset.submitted === '1'")
    w.done("verification (8 cells, 2 marked)", how)


@pytest.mark.django_db(transaction=True)
def test_crowd(laptop, annotator, coco_project):  # type: ignore[no-untyped-def]
    crowd_task(laptop, coco_project)


def teardown_module() -> None:
    if not RESULTS:
        return
    print("\n| stage | path | seconds | actions |\n|---|---|---|---|")
    for r in RESULTS:
        print(f"| {r['stage']} | {r['how']} | {r['seconds']:.2f} | {r['actions']} |")
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as handle:
            json.dump(RESULTS, handle)
