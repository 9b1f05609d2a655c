"""The instance spotting tool in real Chromium: the primed icon, crosses placed, capped,
moved, removed and undone, by pointer and by keys, the magnifying glass, zoom, "there is
none", submit."""

from __future__ import annotations

import pytest

from annotation.models import Assignment, Category, Stage
from annotation.services import task_engine
from tests.browser.conftest import LAPTOP, log_in, photo_point
from tests.browser.test_labeling import stored_photo
from tests.conftest import PASSWORD

DOG = 18


def open_spotting_tool(page, project, max_spots=3):  # type: ignore[no-untyped-def]
    task = task_engine.task_post(
        project=project,
        stage=Stage.SPOTTING,
        answers_needed=1,
        image=stored_photo(project),
        category=Category.objects.get(taxonomy__project=project, coco_id=DOG),
        payload={"primed": [{"x": 160.0, "y": 120.0}], "max_spots": max_spots},
    )
    log_in(page, "ann", PASSWORD)
    page.goto("/spotting/")
    page.get_by_test_id("work").wait_for(state="visible")
    page.wait_for_function("document.querySelector('[data-testid=photo]').naturalWidth > 0")
    return task


def near(got: list[tuple[float, float]], expected: list[tuple[float, float]], tol=1.0) -> bool:
    """Same points within a pixel (clicks land on whole screen pixels)."""
    return len(got) == len(expected) and all(
        abs(gx - ex) <= tol and abs(gy - ey) <= tol
        for (gx, gy), (ex, ey) in zip(got, expected, strict=True)
    )


def crosses(page) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    """The crosses drawn, in image pixels of the 320x240 photo."""
    return [
        (float(c.get_attribute("data-x")), float(c.get_attribute("data-y")))
        for c in page.locator(".cross").all()
    ]


@pytest.mark.django_db(transaction=True)
def test_an_annotator_places_caps_moves_undoes_magnifies_and_submits(page, annotator, coco_project):
    task = open_spotting_tool(page, coco_project, max_spots=3)
    assert page.get_by_test_id("category").inner_text() == "dog"
    primed = page.get_by_test_id("primed")
    assert primed.count() == 1
    assert primed.evaluate("el => getComputedStyle(el).animationName") == "blink"
    assert page.get_by_test_id("submit").is_disabled()
    assert "Ctrl+Z" in page.get_by_test_id("shortcuts").inner_text(), "the keys are on screen"

    for x, y in [(40, 40), (80, 60), (120, 200)]:
        page.mouse.click(*photo_point(page, x, y))
    assert page.get_by_test_id("count").inner_text() == "3 / 3"
    page.mouse.click(*photo_point(page, 300, 30))
    assert page.get_by_test_id("count").inner_text() == "3 / 3", "the cap holds"
    assert "At most 3 crosses" in page.get_by_test_id("status").inner_text()
    assert page.get_by_test_id("none").is_disabled()

    page.get_by_test_id("undo").click()
    assert near(crosses(page), [(40, 40), (80, 60)])
    page.mouse.click(*photo_point(page, 250, 150))
    assert near(crosses(page), [(40, 40), (80, 60), (250, 150)])

    page.mouse.move(*photo_point(page, 40, 40))
    page.mouse.down()
    page.mouse.move(*photo_point(page, 20, 220), steps=5)
    page.mouse.up()
    assert near(crosses(page)[:1], [(20, 220)]), "a cross moves by dragging"
    page.keyboard.press("u")
    assert near(crosses(page)[:1], [(40, 40)]), "undo puts a moved cross back"
    page.keyboard.press("Control+Shift+z")
    assert near(crosses(page)[:1], [(20, 220)]), "redo moves it again"
    page.keyboard.press("Control+z")

    lens = page.get_by_test_id("lens")
    assert lens.is_hidden()
    page.get_by_test_id("magnifier").click()
    assert page.get_by_test_id("magnifier").get_attribute("aria-pressed") == "true"
    page.mouse.move(*photo_point(page, 160, 120))
    assert lens.is_visible()
    photo_width = page.get_by_test_id("photo").bounding_box()["width"]
    lens_width = float(lens.evaluate("el => parseFloat(getComputedStyle(el).backgroundSize)"))
    assert lens_width == pytest.approx(2 * photo_width, abs=1), "twice the displayed resolution"
    page.keyboard.press("m")
    assert lens.is_hidden()

    page.get_by_test_id("submit").click()
    page.get_by_text("No more photos to spot for now").wait_for()
    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    assert answer["none"] is False
    assert near([(s["x"], s["y"]) for s in answer["spots"]], [(40, 40), (80, 60), (250, 150)])


@pytest.mark.django_db(transaction=True)
def test_spotting_by_keys_alone_and_while_zoomed(page, annotator, coco_project):
    """A cross at the pointer (X), a cursor moved with the arrows (Space puts a cross),
    Delete removes the cross under the cursor, Enter submits; zoomed in, the crosses still
    land on the image pixels under the pointer."""
    task = open_spotting_tool(page, coco_project, max_spots=5)
    page.mouse.move(*photo_point(page, 100, 100))
    page.keyboard.press("x")
    assert near(crosses(page), [(100, 100)]), "a cross at the pointer"

    scale = float(page.get_by_test_id("stage").get_attribute("data-scale"))
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    step = 12 / scale  # a cursor step is 12 screen pixels
    assert near(crosses(page), [(100, 100), (100 + 5 * step, 100 + step)], tol=0.02)
    page.keyboard.press("Delete")
    assert near(crosses(page), [(100, 100)]), "Delete removes the cross at the cursor"
    page.keyboard.press("Control+z")
    assert len(crosses(page)) == 2

    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press("Shift+ArrowLeft")
    assert float(page.get_by_test_id("stage").get_attribute("data-zoom")) == pytest.approx(
        1.5625, abs=0.01
    )
    page.mouse.click(*photo_point(page, 200, 50))
    assert near(crosses(page)[2:], [(200, 50)], tol=0.5)
    page.keyboard.press("Enter")
    page.get_by_text("No more photos to spot for now").wait_for()
    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    assert len(answer["spots"]) == 3


@pytest.mark.django_db(transaction=True)
def test_there_is_none_is_an_answer(page, annotator, coco_project):
    task = open_spotting_tool(page, coco_project)
    page.get_by_test_id("none").click()
    page.get_by_text("No more photos to spot for now").wait_for()
    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    assert answer == {"none": True, "spots": []}


@pytest.mark.django_db(transaction=True)
def test_photo_and_buttons_fit_a_laptop_screen(page, annotator, coco_project):
    open_spotting_tool(page, coco_project)
    for testid in ("stage", "submit", "none", "undo"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box["y"] + box["height"] <= LAPTOP["height"], f"{testid} is on screen"
