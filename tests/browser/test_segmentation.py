"""The polygon editor in real Chromium: trace an outline with the mouse, move, insert and
delete points, zoom and pan, undo and redo, submit; fail and then pass a training task."""

from __future__ import annotations

import re
import statistics

import pytest
from playwright.sync_api import expect

from annotation.models import Category, Stage, Task, WorkerProfile
from annotation.models.segmentation import (
    Qualification,
    ReferenceMask,
    Segmentation,
    SegmentationProgress,
)
from annotation.services import qualification
from annotation.stages.segmentation import segmentation_post_for_completed_spotting
from tests.annotation.stages.test_segmentation import answer_next, qualified, spot_pair, square
from tests.browser.conftest import LAPTOP, log_in
from tests.browser.test_labeling import stored_photo
from tests.conftest import PASSWORD

DOG = 18
# Effort measured on this file's own tracing (seconds, vertices per instance), printed at
# the end of the session for the closing note (run with -s).
EFFORT: list[tuple[float, int]] = []


def view(page) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """The drawing surface's pan and zoom: screen = image * scale + (tx, ty)."""
    data = page.get_by_test_id("stage").evaluate("el => ({...el.dataset})")
    return float(data["tx"]), float(data["ty"]), float(data["scale"])


def screen(page, x: float, y: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Where image pixel (x, y) is on the page now."""
    box = page.get_by_test_id("stage").bounding_box()
    tx, ty, scale = view(page)
    return box["x"] + tx + x * scale, box["y"] + ty + y * scale


def click_at(page, x: float, y: float) -> None:  # type: ignore[no-untyped-def]
    page.mouse.click(*screen(page, x, y))


def outline_points(page) -> list[list[tuple[float, float]]]:  # type: ignore[no-untyped-def]
    """The parts drawn by the editor, in image pixels."""
    parts = []
    for shape in page.locator(".layer-editor .part").all():
        numbers = [float(v) for v in re.split(r"[ ,]+", shape.get_attribute("points").strip())]
        parts.append(list(zip(numbers[0::2], numbers[1::2], strict=True)))
    return parts


def close_to(got, expected, tolerance: float) -> bool:  # type: ignore[no-untyped-def]
    return len(got) == len(expected) and all(
        abs(a - c) <= tolerance and abs(b - d) <= tolerance
        for (a, b), (c, d) in zip(got, expected, strict=True)
    )


def trace(page, points) -> None:  # type: ignore[no-untyped-def]
    for x, y in points:
        click_at(page, x, y)
    click_at(page, *points[0])  # clicking the first point closes the outline


@pytest.fixture
def capture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


def open_one_spot_task(page, annotator, coco_project, make_worker, capture):  # type: ignore[no-untyped-def]
    """A photo with one spotted dog and the annotator, qualified on dogs, on the tool's page
    with that task; returns (photo, dog category)."""
    image = stored_photo(coco_project)
    spot_pair(coco_project, [[(160, 120)]], make_worker, capture, image=image)
    segmentation_post_for_completed_spotting(project=coco_project)
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    Qualification.objects.create(worker=annotator, category=dog, passed=True, tries=1)
    log_in(page, "ann", PASSWORD)
    page.goto("/segmentation/")
    return image, dog


@pytest.mark.django_db(transaction=True)
def test_trace_edit_zoom_undo_and_submit(page, annotator, coco_project, make_worker, capture):
    image, _dog = open_one_spot_task(page, annotator, coco_project, make_worker, capture)
    page.get_by_test_id("work").wait_for(state="visible")
    assert page.get_by_test_id("category").inner_text() == "dog"
    assert page.locator("[data-testid=icon] img").get_attribute("src").endswith("dog.svg")
    assert page.get_by_test_id("spot").count() == 1
    assert "Ctrl+Z" in page.get_by_test_id("shortcuts").inner_text(), "shortcuts on screen"
    for testid in ("stage", "submit", "undo"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box["y"] + box["height"] <= LAPTOP["height"], f"{testid} fits 1366x768"
    assert page.get_by_test_id("submit").is_disabled()
    _tx, _ty, fit_scale = view(page)
    tolerance = 1.5 / fit_scale  # a click lands on a whole screen pixel

    square = [(120, 80), (200, 80), (220, 130), (200, 170), (120, 170)]
    trace(page, square)
    assert close_to(outline_points(page)[0], square, tolerance)
    assert page.locator(".part.closed").count() == 1
    assert page.get_by_test_id("count").inner_text() == "5 points, 1 part"

    # Drag a point to move it.
    page.mouse.move(*screen(page, 220, 130))
    page.mouse.down()
    page.mouse.move(*screen(page, 240, 130), steps=4)
    page.mouse.up()
    moved = [(120, 80), (200, 80), (240, 130), (200, 170), (120, 170)]
    assert close_to(outline_points(page)[0], moved, tolerance)

    # Click on a line to insert a point, Alt+click to delete it, undo and redo.
    click_at(page, 120, 125)
    inserted = [*moved, (120, 125)]
    assert close_to(outline_points(page)[0], inserted, tolerance)
    page.keyboard.down("Alt")
    click_at(page, 120, 125)
    page.keyboard.up("Alt")
    assert close_to(outline_points(page)[0], moved, tolerance)
    page.keyboard.press("Control+z")
    assert close_to(outline_points(page)[0], inserted, tolerance), "undo brings the point back"
    page.keyboard.press("Control+y")
    assert close_to(outline_points(page)[0], moved, tolerance), "redo deletes it again"
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert close_to(outline_points(page)[0], square, tolerance), "undo goes back to the move"
    page.get_by_test_id("redo").click()
    assert close_to(outline_points(page)[0], moved, tolerance)

    # Zoom with keys and the wheel, pan with the arrows: points stay on the photo.
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert float(page.get_by_test_id("stage").get_attribute("data-zoom")) == pytest.approx(
        1.5625, abs=0.01
    )
    page.mouse.move(*screen(page, 200, 80))
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        "parseFloat(document.querySelector('[data-testid=stage]').dataset.zoom) > 1.6"
    )
    tx_before, ty_before, zoomed_scale = view(page)
    page.keyboard.press("ArrowLeft")
    tx_after, ty_after, _ = view(page)
    assert tx_after == pytest.approx(tx_before + 60) and ty_after == ty_before
    corner = page.locator(".vertex[data-part='0'][data-index='1']").bounding_box()
    expected = screen(page, *moved[1])
    assert abs(corner["x"] + corner["width"] / 2 - expected[0]) < 1.5
    assert abs(corner["y"] + corner["height"] / 2 - expected[1]) < 1.5
    # A second part, traced while zoomed in (an object split by occlusion).
    small = [(230, 60), (250, 60), (250, 75)]
    trace(page, small)
    assert len(outline_points(page)) == 2
    assert close_to(outline_points(page)[1], small, 1.5 / zoomed_scale)
    page.keyboard.press("0")
    assert view(page)[2] == pytest.approx(fit_scale)

    page.get_by_test_id("submit").click()
    page.get_by_text("No more objects to outline for now").wait_for()
    mask = Segmentation.objects.get(image=image)
    assert mask.worker == annotator
    assert len(mask.polygons) == 2
    assert mask.area == pytest.approx(80 * 90 + 90 * 40 / 2 + 20 * 15 / 2, rel=0.01)
    assert mask.vertices == 5 + 1 + 3 and mask.edits >= 6
    assert mask.seconds is not None and mask.seconds > 0
    EFFORT.append((mask.seconds, mask.vertices))


@pytest.mark.django_db(transaction=True)
def test_no_such_object_is_an_answer(page, annotator, coco_project, make_worker, capture):
    image, _dog = open_one_spot_task(page, annotator, coco_project, make_worker, capture)
    page.get_by_test_id("no-object").click()
    page.get_by_test_id("confirm-yes").click()  # asked the first time in this browser
    page.get_by_text("No more objects to outline for now").wait_for()
    task = Task.objects.get(stage=Stage.SEGMENTATION, image=image)
    assert task.result["outcome"] == "no_such_object"
    assert page.get_by_test_id("training-link").is_visible()


@pytest.mark.django_db(transaction=True)
def test_already_outlined_is_an_answer(page, annotator, coco_project, make_worker, capture):
    """A second cross just outside another worker's outline: "This object is already
    outlined" ends the task without a second outline."""
    image = stored_photo(coco_project)
    spot_pair(coco_project, [[(160, 120), (182, 120)]], make_worker, capture, image=image)
    segmentation_post_for_completed_spotting(project=coco_project)
    answer_next(qualified(make_worker, coco_project), {"polygons": square(140, 100, 40)}, capture)
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    Qualification.objects.create(worker=annotator, category=dog, passed=True, tries=1)
    log_in(page, "ann", PASSWORD)
    page.goto("/segmentation/")
    page.get_by_test_id("already-outlined").click()
    page.get_by_test_id("confirm-yes").click()  # asked the first time in this browser
    page.get_by_text("No more objects to outline for now").wait_for()
    task = Task.objects.get(stage=Stage.SEGMENTATION, image=image, payload__spot__x=182)
    assert task.result["outcome"] == "already_outlined"
    assert Segmentation.objects.filter(image=image).count() == 1


@pytest.mark.django_db(transaction=True)
def test_fail_and_then_pass_a_training_task(page, annotator, coco_project, make_worker):
    expert = make_worker(WorkerProfile.Role.EXPERT)
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    reference = [(100, 60), (220, 60), (220, 180), (100, 180)]
    for color in [(40, 120, 200), (200, 120, 40)]:  # a retry is another instance
        qualification.reference_create(
            author=expert,
            image=stored_photo(coco_project, color=color),
            category=dog,
            polygons=[[v for point in reference for v in point]],
        )
    log_in(page, "ann", PASSWORD)
    page.goto("/segmentation/training/")
    page.get_by_role("link", name="Train", exact=True).click()
    page.get_by_test_id("work").wait_for(state="visible")
    assert page.get_by_test_id("spot").count() == 1

    trace(page, [(100, 60), (160, 60), (160, 120), (100, 120)])  # a quarter of it
    page.get_by_test_id("submit").click()
    verdict = page.get_by_test_id("verdict")
    verdict.wait_for()
    assert verdict.inner_text().startswith("Not yet")
    assert page.locator(".feedback.reference polygon").count() == 0, "never the reference"
    assert page.locator(".feedback.yours polygon").count() == 1
    assert "left out" in verdict.inner_text()
    picture = page.get_by_test_id("feedback-picture")
    picture.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", picture.element_handle())
    assert not Qualification.objects.get(worker=annotator, category=dog).passed

    page.get_by_test_id("retry").click()
    page.get_by_text("as exactly as you can").wait_for()
    assert page.locator(".layer-editor .part").count() == 0, "a fresh start"
    started = page.evaluate("performance.now()")
    trace(page, [(101, 61), (219, 61), (219, 179), (101, 179)])
    traced_seconds = (page.evaluate("performance.now()") - started) / 1000
    page.get_by_test_id("submit").click()
    page.get_by_test_id("verdict").wait_for()
    assert page.get_by_test_id("verdict").inner_text().startswith("Passed")
    record = Qualification.objects.get(worker=annotator, category=dog)
    assert record.passed and record.tries == 2
    EFFORT.append((traced_seconds, 4))
    page.get_by_test_id("start").click()
    page.wait_for_url("**/segmentation/")


def teardown_module() -> None:
    if EFFORT:
        print(
            f"\nsegmentation editor effort per instance over {len(EFFORT)} tracings: median "
            f"{statistics.median(s for s, _ in EFFORT):.2f} s, "
            f"median {statistics.median(v for _, v in EFFORT)} vertices "
            f"(each: {', '.join(f'{s:.2f} s/{v}' for s, v in EFFORT)})"
        )


@pytest.mark.django_db(transaction=True)
def test_an_expert_authors_a_reference_in_the_same_editor(page, coco_project, make_worker, capture):
    make_worker(WorkerProfile.Role.EXPERT, "expert")
    image = stored_photo(coco_project)
    spot_pair(coco_project, [[(160, 120)]], make_worker, capture, image=image)
    log_in(page, "expert", PASSWORD)
    page.goto("/segmentation/expert/")
    page.get_by_role("link", name="Outline").click()
    page.get_by_test_id("work").wait_for(state="visible")
    assert page.get_by_test_id("spot").count() == 1
    trace(page, [(120, 80), (200, 80), (200, 160), (120, 160)])
    page.get_by_test_id("submit").click()
    page.get_by_text("saved").wait_for()
    reference = ReferenceMask.objects.get(image=image)
    assert reference.area == pytest.approx(80 * 80, rel=0.02)
    assert (reference.spot_x, reference.spot_y) == (160, 120)


@pytest.mark.django_db(transaction=True)
def test_these_are_a_crowd_is_an_answer(page, annotator, coco_project, make_worker, capture):
    """The red spot on a crowd: "These are a crowd" ends the task without an outline and,
    the pair's spots done, the pair goes to crowd painting."""
    image, dog = open_one_spot_task(page, annotator, coco_project, make_worker, capture)
    page.get_by_test_id("crowd").click()
    expect(page.get_by_test_id("confirm-text")).to_contain_text("These are a crowd")
    page.get_by_test_id("confirm-yes").click()  # asked the first time in this browser
    page.get_by_text("No more objects to outline for now").wait_for()
    task = Task.objects.get(stage=Stage.SEGMENTATION, image=image)
    assert task.result["outcome"] == "crowd"
    assert not Segmentation.objects.filter(image=image).exists()
    progress = SegmentationProgress.objects.get(image=image, category=dog)
    assert progress.state == SegmentationProgress.State.CROWD
