"""The instance spotting tool in real Chromium: the primed icon, crosses placed, capped,
moved and undone, the magnifying glass, "there is none", submit."""

from __future__ import annotations

import pytest

from annotation.models import Assignment, Category, Stage
from annotation.services import task_engine
from tests.browser.conftest import log_in
from tests.browser.test_labeling import image_point, stored_photo
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


def near(got: list[tuple[float, float]], expected: list[tuple[float, float]]) -> bool:
    """Same points within a pixel (screen positions are rounded to device pixels)."""
    return len(got) == len(expected) and all(
        abs(gx - ex) <= 1 and abs(gy - ey) <= 1
        for (gx, gy), (ex, ey) in zip(got, expected, strict=True)
    )


def cross_centres(page) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    """Where the crosses are drawn, in image pixels of the 320x240 photo."""
    photo = page.get_by_test_id("photo").bounding_box()
    centres = []
    for cross in page.locator(".cross").all():
        box = cross.bounding_box()
        x = (box["x"] + box["width"] / 2 - photo["x"]) * 320 / photo["width"]
        y = (box["y"] + box["height"] / 2 - photo["y"]) * 240 / photo["height"]
        centres.append((x, y))
    return centres


@pytest.mark.django_db(transaction=True)
def test_an_annotator_places_caps_moves_undoes_magnifies_and_submits(page, annotator, coco_project):
    task = open_spotting_tool(page, coco_project, max_spots=3)
    layer = page.get_by_test_id("crosses")
    assert page.get_by_test_id("category").inner_text() == "dog"
    primed = page.get_by_test_id("primed")
    assert primed.count() == 1
    assert primed.evaluate("el => getComputedStyle(el).animationName") == "blink"
    assert page.get_by_test_id("submit").is_disabled()

    for x, y in [(40, 40), (80, 60), (120, 200)]:
        layer.click(position=image_point(page, x, y))
    assert page.get_by_test_id("count").inner_text() == "3 / 3"
    layer.click(position=image_point(page, 300, 30))
    assert page.get_by_test_id("count").inner_text() == "3 / 3", "the cap holds"
    assert "At most 3 crosses" in page.get_by_test_id("status").inner_text()
    assert page.get_by_test_id("none").is_disabled()

    page.get_by_test_id("undo").click()
    assert near(cross_centres(page), [(40, 40), (80, 60)])
    layer.click(position=image_point(page, 250, 150))
    assert near(cross_centres(page), [(40, 40), (80, 60), (250, 150)])

    page.locator(".cross").nth(0).drag_to(layer, target_position=image_point(page, 20, 220))
    assert near(cross_centres(page)[:1], [(20, 220)]), "a cross moves by dragging"
    page.keyboard.press("u")
    assert near(cross_centres(page)[:1], [(40, 40)]), "undo puts a moved cross back"

    lens = page.get_by_test_id("lens")
    assert lens.is_hidden()
    page.get_by_test_id("magnifier").click()
    assert page.get_by_test_id("magnifier").get_attribute("aria-pressed") == "true"
    at = image_point(page, 160, 120)
    layer.hover(position=at)
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
def test_there_is_none_is_an_answer(page, annotator, coco_project):
    task = open_spotting_tool(page, coco_project)
    page.get_by_test_id("none").click()
    page.get_by_text("No more photos to spot for now").wait_for()
    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    assert answer == {"none": True, "spots": []}
