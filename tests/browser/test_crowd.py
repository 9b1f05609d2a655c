"""Crowd painting in real Chromium: paint a stroke with the brush, resize it, erase part of
it, submit; the stored RLE crowd annotation covers exactly the painted pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from playwright.sync_api import expect
from pycocotools import mask as coco_mask

from annotation.models import Annotation, Category
from annotation.models.segmentation import SegmentationProgress
from annotation.stages.crowd import crowd_post_tasks
from tests.annotation.stages.test_verification import make_mask
from tests.browser.conftest import LAPTOP, log_in
from tests.browser.test_labeling import stored_photo
from tests.conftest import PASSWORD

PERSON = 1


def screen(page, x: float, y: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Where image pixel (x, y) of the 320x240 photo is on the page."""
    box = page.get_by_test_id("paint").bounding_box()
    return box["x"] + x * box["width"] / 320, box["y"] + y * box["height"] / 240


def painted(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.get_by_test_id("work").evaluate("() => window.paintTool.paintedPixels()"))


@pytest.mark.django_db(transaction=True)
def test_paint_erase_and_submit_a_crowd_region(page, annotator, coco_project, make_worker):
    photo = stored_photo(coco_project)
    person = Category.objects.get(taxonomy__project=coco_project, coco_id=PERSON)
    mask = make_mask(coco_project, make_worker(), image=photo, x=200)
    mask.category = person
    mask.save()
    SegmentationProgress.objects.create(
        image=photo, category=person, state=SegmentationProgress.State.CROWD
    )
    crowd_post_tasks(project=coco_project)

    log_in(page, "ann", PASSWORD)
    page.goto("/crowd/")
    page.get_by_test_id("work").wait_for(state="visible")
    assert page.get_by_test_id("category").inner_text() == "person"
    expect(page.locator("[data-testid=segmented-instance]")).to_have_count(1)
    assert page.get_by_test_id("submit").is_disabled(), "an empty painting cannot be sent"

    # Brush 20 px wide: a horizontal stroke from x=40 to x=140 at y=60.
    page.get_by_test_id("size").fill("20")
    page.mouse.move(*screen(page, 40, 60))
    page.mouse.down()
    for x in range(50, 141, 10):
        page.mouse.move(*screen(page, x, 60))
    page.mouse.up()
    stroke = painted(page)
    capsule = 100 * 20 + math.pi * 10**2  # the stroke's area: a rectangle and two half disks
    assert abs(stroke - capsule) < 0.1 * capsule

    # A separate dab, then the eraser (10 px) through the middle of the stroke.
    page.keyboard.press("]")  # brush 22 px
    page.mouse.click(*screen(page, 100, 180))
    dab = painted(page) - stroke
    assert abs(dab - math.pi * 11**2) < 0.2 * math.pi * 11**2
    page.get_by_test_id("eraser").click()
    page.get_by_test_id("size").fill("10")
    page.mouse.click(*screen(page, 90, 60))
    erased = stroke + dab - painted(page)
    assert abs(erased - math.pi * 5**2) < 0.3 * math.pi * 5**2
    expected = painted(page)

    page.get_by_test_id("submit").click()
    page.get_by_text("Nothing to paint right now").wait_for()

    annotation = Annotation.objects.get(origin=Annotation.Origin.CROWD)
    assert annotation.iscrowd and annotation.category == person
    assert annotation.area == expected
    rle = annotation.segmentation
    assert rle["size"] == [240, 320] and isinstance(rle["counts"], str)
    decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    assert int(decoded.sum()) == expected
    assert decoded[60, 90] == 0, "the erased spot is not part of the region"
    assert decoded[60, 50] == 1 and decoded[180, 100] == 1
    x, y, w, _h = annotation.bbox_xywh
    assert 28 <= x <= 32 and 48 <= y <= 52 and np.isclose(x + w, 150, atol=2)


@pytest.mark.django_db(transaction=True)
def test_paint_zoomed_in_undo_redo_and_lasso(page, annotator, coco_project, make_worker):
    """Zoomed in with the wheel, a dab lands on the image pixels under the pointer; Ctrl+Z
    and Ctrl+Shift+Z undo and redo whole strokes; the lasso fills the area it surrounds."""
    photo = stored_photo(coco_project)
    person = Category.objects.get(taxonomy__project=coco_project, coco_id=PERSON)
    SegmentationProgress.objects.create(
        image=photo, category=person, state=SegmentationProgress.State.CROWD
    )
    crowd_post_tasks(project=coco_project)
    log_in(page, "ann", PASSWORD)
    page.goto("/crowd/")
    page.get_by_test_id("work").wait_for(state="visible")
    assert "Ctrl+Shift+Z" in page.get_by_test_id("shortcuts").inner_text()
    for testid in ("stage", "submit", "undo", "lasso"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box["y"] + box["height"] <= LAPTOP["height"], f"{testid} fits 1366x768"

    page.mouse.move(*screen(page, 100, 100))
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        "parseFloat(document.querySelector('[data-testid=stage]').dataset.zoom) > 1.5"
    )
    page.get_by_test_id("size").fill("10")
    page.mouse.click(*screen(page, 100, 100))
    dab = painted(page)
    assert abs(dab - math.pi * 25) < 0.3 * math.pi * 25
    page.keyboard.press("0")  # whole photo again

    # Lasso: a 60x40 rectangle drawn around, filled on release.
    page.keyboard.press("l")
    page.mouse.move(*screen(page, 150, 150))
    page.mouse.down()
    for x, y in [(210, 150), (210, 190), (150, 190), (150, 151)]:
        page.mouse.move(*screen(page, x, y), steps=4)
    page.mouse.up()
    lasso = painted(page) - dab
    assert abs(lasso - 60 * 40) < 0.06 * 60 * 40

    page.keyboard.press("Control+z")
    assert painted(page) == dab, "undo removes the whole lasso fill"
    page.keyboard.press("Control+z")
    assert painted(page) == 0
    page.keyboard.press("Control+Shift+z")
    page.keyboard.press("Control+Shift+z")
    assert painted(page) == dab + lasso, "redo puts both back"
    page.keyboard.press("e")
    page.keyboard.press("[")
    assert page.get_by_test_id("size-value").inner_text() == "18", "the eraser keeps its own size"
    page.keyboard.press("b")
    assert page.get_by_test_id("size-value").inner_text() == "10", "and the brush its own"
    page.get_by_test_id("submit").click()
    page.get_by_text("Nothing to paint right now").wait_for()
    annotation = Annotation.objects.get(origin=Annotation.Origin.CROWD)
    assert annotation.area == dab + lasso


@pytest.mark.django_db(transaction=True)
def test_touch_one_finger_paints_two_fingers_zoom(browser, live_server, annotator, coco_project):
    """On a touch screen one finger paints; a second finger turns the gesture into a pinch
    that zooms the photo and paints nothing."""
    photo = stored_photo(coco_project)
    person = Category.objects.get(taxonomy__project=coco_project, coco_id=PERSON)
    SegmentationProgress.objects.create(
        image=photo, category=person, state=SegmentationProgress.State.CROWD
    )
    crowd_post_tasks(project=coco_project)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1366, "height": 768}, has_touch=True
    )
    page = context.new_page()
    try:
        log_in(page, "ann", PASSWORD)
        page.goto("/crowd/")
        page.get_by_test_id("work").wait_for(state="visible")
        cdp = context.new_cdp_session(page)

        def touch(kind: str, *points: tuple[float, float]) -> None:
            cdp.send(
                "Input.dispatchTouchEvent",
                {
                    "type": kind,
                    "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)],
                },
            )

        touch("touchStart", screen(page, 40, 60))
        for x in range(50, 141, 10):
            touch("touchMove", screen(page, x, 60))
        touch("touchEnd")
        stroke = painted(page)
        assert stroke > 100 * 15, "one finger paints"

        a, b = screen(page, 150, 150), screen(page, 170, 150)
        touch("touchStart", a)
        touch("touchStart", a, b)
        for step in range(1, 8):
            touch("touchMove", (a[0] - 10 * step, a[1]), (b[0] + 10 * step, b[1]))
        touch("touchEnd")
        assert float(page.get_by_test_id("stage").get_attribute("data-zoom")) > 1.5
        assert painted(page) == stroke, "the pinch painted nothing"
    finally:
        context.close()
