"""Pre-annotation in real Chromium at 1366x768: spotting suggestions accepted by click or key
(or ignored), "Start from suggestion" and click-to-mask in the segmentation editor (from a
stored model proposal, and the message when nothing is found), and the confirmations the
first time a worker ends a segmentation task without an outline."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.models import Assignment, Category, ImageProposals, Stage, Task
from annotation.models.segmentation import Qualification, Segmentation
from annotation.services import task_engine
from annotation.stages.segmentation import segmentation_post_for_completed_spotting
from tests.annotation.api.test_proposals import proposal_for
from tests.annotation.stages.test_segmentation import spot_pair
from tests.browser.conftest import log_in, photo_point
from tests.browser.test_labeling import stored_photo
from tests.browser.test_segmentation import outline_points
from tests.browser.test_spotting import crosses, near
from tests.conftest import PASSWORD

DOG = 18
BOX = (100, 80, 220, 160)  # x0, y0, x1, y1 of the proposed mask in the 320x240 photo


def square_proposal() -> dict:
    mask = np.zeros((240, 320), dtype=bool)
    x0, y0, x1, y1 = BOX
    mask[y0:y1, x0:x1] = True
    return proposal_for(mask, 0.9)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


@pytest.mark.django_db(transaction=True)
def test_spotting_suggestions_are_accepted_by_click_or_key_or_ignored(
    page, annotator, coco_project
):
    task = task_engine.task_post(
        project=coco_project,
        stage=Stage.SPOTTING,
        answers_needed=1,
        image=stored_photo(coco_project),
        category=Category.objects.get(taxonomy__project=coco_project, coco_id=DOG),
        payload={"max_spots": 5, "suggestions": [
            {"x": 60.0, "y": 50.0, "score": 0.9}, {"x": 250.0, "y": 180.0, "score": 0.7},
            {"x": 200.0, "y": 40.0, "score": 0.6}]},
    )  # fmt: skip
    log_in(page, "ann", PASSWORD)
    page.goto("/spotting/")
    page.get_by_test_id("work").wait_for(state="visible")
    page.wait_for_function("document.querySelector('[data-testid=photo]').naturalWidth > 0")
    assert page.get_by_test_id("suggestion").count() == 3
    assert page.get_by_test_id("suggestions").is_visible()
    assert crosses(page) == [], "a suggestion is not an answer until accepted"

    # A click near a suggestion puts the cross exactly on it.
    page.mouse.click(*photo_point(page, 62, 52))
    assert near(crosses(page), [(60, 50)], tol=0.01)
    assert page.get_by_test_id("suggestion").count() == 2
    # A key accepts the one nearest the cursor.
    page.mouse.move(*photo_point(page, 240, 170))
    page.keyboard.press("a")
    assert near(crosses(page), [(60, 50), (250, 180)], tol=0.01)
    page.keyboard.press("Control+z")
    assert page.get_by_test_id("suggestion").count() == 2, "undo brings the suggestion back"
    page.keyboard.press("Control+Shift+z")
    # Ignored: hidden, and the last one never becomes an answer.
    page.keyboard.press("h")
    assert page.get_by_test_id("suggestion").count() == 0
    page.mouse.click(*photo_point(page, 100, 200))
    page.get_by_test_id("submit").click()
    page.get_by_text("No more photos to spot").wait_for()
    answer = Assignment.objects.get(task=task).answer
    assert [(s["x"], s["y"]) for s in answer["spots"]][:2] == [(60.0, 50.0), (250.0, 180.0)]
    assert len(answer["spots"]) == 3


@pytest.mark.django_db(transaction=True)
def test_spotting_without_suggestions_shows_none(page, annotator, coco_project):
    task_engine.task_post(
        project=coco_project, stage=Stage.SPOTTING, answers_needed=1,
        image=stored_photo(coco_project),
        category=Category.objects.get(taxonomy__project=coco_project, coco_id=DOG),
        payload={"max_spots": 5, "suggestions": []},
    )  # fmt: skip
    log_in(page, "ann", PASSWORD)
    page.goto("/spotting/")
    page.get_by_test_id("work").wait_for(state="visible")
    assert page.get_by_test_id("suggestion").count() == 0
    assert not page.get_by_test_id("suggestions").is_visible()


def open_segmentation(page, annotator, project, make_worker, capture, proposals, first=True):  # type: ignore[no-untyped-def]
    image = stored_photo(project, color=(40, 120, 200) if first else (200, 90, 40))
    if proposals:
        ImageProposals.objects.create(image=image, model_version="sharpmask/v0001",
                                      proposals=proposals)  # fmt: skip
    spot_pair(project, [[(160, 120)]], make_worker, capture, image=image)
    segmentation_post_for_completed_spotting(project=project)
    if first:
        dog = Category.objects.get(taxonomy__project=project, coco_id=DOG)
        Qualification.objects.create(worker=annotator, category=dog, passed=True, tries=1)
        log_in(page, "ann", PASSWORD)
    page.goto("/segmentation/")
    page.get_by_test_id("work").wait_for(state="visible")
    return image


@pytest.mark.django_db(transaction=True)
def test_start_from_suggestion_and_click_to_mask_load_editable_undoable_outlines(
    page, annotator, coco_project, make_worker, capture
):
    image = open_segmentation(page, annotator, coco_project, make_worker, capture,
                              [square_proposal()])  # fmt: skip
    start = page.get_by_test_id("start-suggestion")
    assert start.is_visible()
    start.click()
    parts = outline_points(page)
    assert len(parts) == 1 and len(parts[0]) == 4
    xs = sorted({round(x) for x, _ in parts[0]})
    assert xs[0] == BOX[0] and xs[-1] == BOX[2]
    page.keyboard.press("Control+z")
    assert outline_points(page) == [], "undo takes the suggestion away"

    # Click-to-mask with the key: the stored model proposal under the click.
    page.keyboard.press("k")
    assert page.get_by_test_id("click-mask").get_attribute("aria-pressed") == "true"
    page.mouse.click(*photo_point(page, 150, 100))
    page.get_by_text("Outline from the model loaded").wait_for()
    assert len(outline_points(page)) == 1
    assert page.get_by_test_id("click-mask").get_attribute("aria-pressed") == "false"

    page.keyboard.press("s")  # start from suggestion by key, then submit it
    page.get_by_test_id("submit").click()
    page.get_by_text("No more objects to outline for now").wait_for()
    saved = Segmentation.objects.get(image=image)
    assert saved.from_suggestion
    assert abs(saved.area - (BOX[2] - BOX[0]) * (BOX[3] - BOX[1])) < 200


@pytest.mark.django_db(transaction=True)
def test_click_to_mask_says_so_when_nothing_is_found(page, annotator, coco_project, make_worker,
                                                     capture):  # fmt: skip
    # No model proposals and a photo of one flat colour: GrabCut finds no object.
    open_segmentation(page, annotator, coco_project, make_worker, capture, [])
    assert not page.get_by_test_id("start-suggestion").is_visible()
    page.get_by_test_id("click-mask").click()
    page.mouse.click(*photo_point(page, 160, 120))
    page.get_by_text("No outline found around that click").wait_for()
    assert outline_points(page) == []


@pytest.mark.django_db(transaction=True)
def test_ending_a_task_without_an_outline_asks_the_first_time_only(
    page, annotator, coco_project, make_worker, capture
):
    image = open_segmentation(page, annotator, coco_project, make_worker, capture, [])
    no_object, submit = page.get_by_test_id("no-object"), page.get_by_test_id("submit")
    style = "el => getComputedStyle(el).backgroundColor + '|' + getComputedStyle(el).color"
    assert no_object.evaluate(style) != submit.evaluate(style), "not like Submit"
    assert page.get_by_test_id("all-done").evaluate(style) == no_object.evaluate(style)

    # Keyboard only: Tab to the button, Enter; the dialog opens on Cancel; Escape cancels.
    no_object.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_test_id("confirm")
    dialog.wait_for(state="visible")
    assert "no such object" in page.get_by_test_id("confirm-text").inner_text()
    assert page.evaluate("document.activeElement.dataset.testid") == "confirm-cancel"
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    task = Task.objects.get(stage=Stage.SEGMENTATION, image=image)
    assert task.status == Task.Status.OPEN, "nothing sent after Cancel"

    no_object.focus()
    page.keyboard.press("Enter")
    dialog.wait_for(state="visible")
    page.keyboard.press("Tab")  # to "Yes, send it"
    page.keyboard.press("Enter")
    page.get_by_text("No more objects to outline for now").wait_for()
    task.refresh_from_db()
    assert task.result["outcome"] == "no_such_object"
    assert page.evaluate("localStorage.getItem('cocoforge:confirmed:no_such_object')") == "1"

    # The second time in this browser: no question.
    open_segmentation(page, annotator, coco_project, make_worker, capture, [], first=False)
    page.get_by_test_id("no-object").click()
    page.get_by_text("No more objects to outline for now").wait_for()
    assert not dialog.is_visible()
    assert (
        Task.objects.filter(stage=Stage.SEGMENTATION, result__outcome="no_such_object").count() == 2
    )
