"""The verification grid in real Chromium: a worker who misses the hidden gold has the grid's
votes voided and the grid goes back to the pool; the next worker catches the gold and marks a
mask poor, which is then rejected while the others are accepted."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from annotation.models import Annotation, Assignment, Stage, Task, WorkerProfile
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GridCell, GridOutcome, VerificationVote
from annotation.stages.verification import verification_post_grids
from tests.annotation.stages.test_verification import add_gold, make_mask
from tests.browser.conftest import log_in
from tests.browser.test_labeling import stored_photo
from tests.conftest import PASSWORD


def mark(page, cell_ids) -> None:  # type: ignore[no-untyped-def]
    for cell_id in cell_ids:
        page.locator(f"[data-cell-id='{cell_id}']").click()


def submit_and_wait(page, submitted: int) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("submit").click()
    page.wait_for_function(
        f"document.getElementById('verify-tool').dataset.submitted === '{submitted}'"
    )


@pytest.mark.django_db(transaction=True)
def test_a_grid_with_gold_missed_and_then_caught(page, coco_project, make_worker):
    # One vote per mask, so a single answer settles the grid in this test.
    coco_project.stage_settings = {
        "verification_grid_size": 8,
        "verification_first_votes": 1,
        "verification_total_votes": 1,
        "verification_min_good": 1,
    }
    coco_project.save()
    photo = stored_photo(coco_project)
    segmenter = make_worker(WorkerProfile.Role.ANNOTATOR)
    masks = [make_mask(coco_project, segmenter, image=photo, x=20 + 60 * i) for i in range(4)]
    add_gold(coco_project, make_worker(WorkerProfile.Role.EXPERT))
    (grid,) = verification_post_grids(project=coco_project)
    cells = list(GridCell.objects.filter(task=grid))
    gold = [c.cell_id for c in cells if c.is_gold]
    by_mask = {c.segmentation_id: c.cell_id for c in cells if not c.is_gold}
    make_worker(WorkerProfile.Role.ANNOTATOR, "careless")
    make_worker(WorkerProfile.Role.ANNOTATOR, "careful")

    # A careless worker catches only 2 of the 4 gold cells: the answer is void.
    log_in(page, "careless", PASSWORD)
    page.goto("/verification/")
    page.get_by_test_id("work").wait_for(state="visible")
    shown = page.locator("[data-testid=cell]")
    assert shown.count() == 8
    assert {shown.nth(i).get_attribute("data-cell-id") for i in range(8)} == {
        c.cell_id for c in cells
    }
    # Each cell shows the picture the lease payload names for it (its `picture` URL).
    pictures = page.evaluate(
        "[...document.querySelectorAll('[data-testid=cell]')]"
        ".map((c) => [c.dataset.cellId, new URL(c.querySelector('img').src).pathname])"
    )
    assert sorted(pictures) == sorted(
        [c.cell_id, reverse("verification-api:cell-picture", kwargs={"cell_id": c.cell_id})]
        for c in cells
    )
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=cell] img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    mark(page, [*gold[:2], by_mask[masks[0].id]])
    assert page.get_by_test_id("count").inner_text() == "3 marked poor"
    submit_and_wait(page, 1)
    page.get_by_text("No grids to verify right now").wait_for()

    outcome = GridOutcome.objects.get(worker__username="careless")
    assert (outcome.gold_caught, outcome.passed) == (2, False)
    assert not VerificationVote.objects.filter(counted=True).exists()
    assert Assignment.objects.get(id=outcome.assignment_id).status == Assignment.Status.REJECTED
    grid.refresh_from_db()
    assert grid.status == Task.Status.OPEN
    assert all(
        s == Segmentation.Status.PENDING
        for s in Segmentation.objects.values_list("status", flat=True)
    )

    # A careful worker catches all the gold and marks one real mask poor.
    page.context.clear_cookies()
    log_in(page, "careful", PASSWORD)
    page.goto("/verification/")
    page.get_by_test_id("work").wait_for(state="visible")
    mark(page, [*gold, by_mask[masks[1].id]])
    submit_and_wait(page, 1)
    page.get_by_text("No grids to verify right now").wait_for()

    assert GridOutcome.objects.get(worker__username="careful").passed
    statuses = {m.id: Segmentation.objects.get(id=m.id).status for m in masks}
    assert statuses[masks[1].id] == Segmentation.Status.REJECTED
    assert [statuses[m.id] for m in (masks[0], masks[2], masks[3])] == ["accepted"] * 3
    assert Annotation.objects.filter(origin="segmentation").count() == 3
    assert Task.objects.filter(
        stage=Stage.SEGMENTATION, instance=masks[1].instance, status=Task.Status.OPEN
    ).exists(), "the rejected instance is back in the segmentation pool"


@pytest.mark.django_db(transaction=True)
def test_a_grid_marked_and_submitted_by_keys_alone(page, coco_project, make_worker):
    """Arrows move between cells, Space marks a cell poor (again: unmarks), E enlarges it,
    Enter submits the grid."""
    coco_project.stage_settings = {"verification_grid_size": 8}
    coco_project.save()
    photo = stored_photo(coco_project)
    segmenter = make_worker(WorkerProfile.Role.ANNOTATOR)
    for i in range(4):
        make_mask(coco_project, segmenter, image=photo, x=20 + 60 * i)
    add_gold(coco_project, make_worker(WorkerProfile.Role.EXPERT))
    (grid,) = verification_post_grids(project=coco_project)
    make_worker(WorkerProfile.Role.ANNOTATOR, "keys")
    log_in(page, "keys", PASSWORD)
    page.goto("/verification/")
    page.get_by_test_id("work").wait_for(state="visible")
    shown = page.locator("[data-testid=cell]")
    expect(shown).to_have_count(8)
    order = [shown.nth(i).get_attribute("data-cell-id") for i in range(8)]

    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    page.keyboard.press("Space")  # changed my mind
    page.keyboard.press("End")
    page.keyboard.press("x")
    assert page.get_by_test_id("count").inner_text() == "2 marked poor"
    page.keyboard.press("e")
    expect(page.get_by_test_id("preview")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('verify-tool').dataset.submitted === '1'")
    answer = Assignment.objects.get(task=grid, worker__username="keys").answer
    assert sorted(answer["poor"]) == sorted([order[1], order[7]])
