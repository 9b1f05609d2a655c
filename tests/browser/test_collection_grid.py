"""The iconic-filtering grid in real Chromium: mark with the mouse and the keyboard, submit,
get the next grid; the votes decide which candidates become images."""

from __future__ import annotations

import functools

import pytest
from playwright.sync_api import expect

from annotation.models import Image, Stage, Task
from annotation.models.collection import Candidate
from annotation.services import task_engine
from annotation.services.projects import project_create
from annotation.stages import collection
from annotation.stages.collection import CandidateOffer
from tests.annotation.sources.flickr_server import photo_bytes
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


def pool_of(project, count: int) -> list[Candidate]:  # type: ignore[no-untyped-def]
    found = []
    for seed in range(count):
        data = photo_bytes(seed)
        offer = CandidateOffer(
            source="flickr", source_ref=f"flickr:{seed}", file_name=f"{seed}.jpg",
            fetch=functools.partial(bytes, data), photographer=f"owner{seed}", photographer_id=f"owner{seed}",
        )  # fmt: skip
        found.append(
            collection.collection_candidate_offer(
                project=project, query=None, offer=offer
            ).candidate
        )
    return found


def cell(page, candidate):  # type: ignore[no-untyped-def]
    return page.locator(f"[data-testid=cell][data-candidate-id='{candidate.id}']")


@pytest.mark.django_db(transaction=True)
def test_an_annotator_filters_grids_and_the_votes_decide(page, annotator, make_worker):
    project = project_create(name="Streets", categories=[{"name": "dog"}, {"name": "car"}])
    project.stage_settings = {"collection_grid_size": 4, "collection_answers_per_grid": 2}
    project.save()
    c = pool_of(project, 6)
    first_grid, second_grid = collection.collection_grids_post(project=project)
    # Another worker answered the first grid already: c0 is iconic to them.
    other = make_worker()
    lease = task_engine.task_next_for_worker(worker=other, stage=Stage.COLLECTION)
    assert lease.task_id == first_grid.id
    task_engine.assignment_submit(
        assignment_id=lease.id, worker=other, answer={"marked": [c[0].id]}, key="other-1"
    )

    log_in(page, "ann", PASSWORD)
    page.locator("[data-stage=collection] a", has_text="Start").click()
    page.wait_for_url("**/collection/")
    assert page.get_by_test_id("instructions").is_visible()
    expect(page.get_by_test_id("grid-name")).to_have_text(f"Grid {first_grid.id}")
    expect(page.get_by_test_id("cell")).to_have_count(4)
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=cell] img')].every(i => i.naturalWidth > 0)"
    )

    # Mouse: mark c0, change my mind, mark c1 instead.
    cell(page, c[0]).click()
    cell(page, c[0]).click()
    cell(page, c[1]).click()
    assert cell(page, c[0]).get_attribute("aria-pressed") == "false"
    assert cell(page, c[1]).get_attribute("aria-pressed") == "true"
    # Keyboard: from c1, one step right is c2; Space marks it.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    assert cell(page, c[2]).get_attribute("aria-pressed") == "true"
    assert page.get_by_test_id("marked-count").inner_text() == "2"
    page.get_by_test_id("submit-grid").click()

    # The next grid comes; mark its first photo with the keyboard and submit with Enter.
    expect(page.get_by_test_id("grid-name")).to_have_text(f"Grid {second_grid.id}")
    expect(page.get_by_test_id("cell")).to_have_count(2)
    page.keyboard.press("x")
    assert cell(page, c[4]).get_attribute("aria-pressed") == "true"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("grid-status")).to_contain_text("No more grids")

    # Grid 1 has both answers: with 2 answers a photo needs both keep votes.
    first_grid.refresh_from_db()
    assert first_grid.status == Task.Status.COMPLETE
    status = dict(Candidate.objects.values_list("id", "status"))
    assert [status[x.id] for x in c[:4]] == ["iconic", "iconic", "iconic", "accepted"]
    assert [status[x.id] for x in c[4:]] == ["in_grid", "in_grid"], "grid 2 still needs an answer"
    images = Image.objects.filter(project=project)
    assert [i.candidate.id for i in images] == [c[3].id]
    assert images[0].split in {"train", "val", "test"}
    answer = first_grid.assignments.get(worker=annotator).answer
    assert answer == {"marked": [c[1].id, c[2].id]}


@pytest.mark.django_db(transaction=True)
def test_thumbnails_are_served_small_and_cacheable(page, annotator):
    project = project_create(name="Thumbs", categories=[{"name": "dog"}])
    (candidate,) = pool_of(project, 1)
    log_in(page, "ann", PASSWORD)
    response = page.request.get(f"/collection/thumbs/{candidate.id}.jpg")
    assert response.status == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert "max-age=" in response.headers["cache-control"]
    again = page.request.get(
        f"/collection/thumbs/{candidate.id}.jpg",
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status == 304


@pytest.mark.django_db(transaction=True)
def test_whole_photos_letterboxed_and_enlarged_by_key_or_hover(page, annotator):
    """The thumbnails are never cropped; E enlarges the focused photo (zoomable on the
    drawing surface), Escape closes it, resting the pointer on another photo enlarges that."""
    project = project_create(name="Whole", categories=[{"name": "dog"}])
    project.stage_settings = {"collection_grid_size": 4, "collection_answers_per_grid": 1}
    project.save()
    c = pool_of(project, 4)
    collection.collection_grids_post(project=project)
    log_in(page, "ann", PASSWORD)
    page.goto("/collection/")
    expect(page.get_by_test_id("cell")).to_have_count(4)
    fit = cell(page, c[0]).locator("img").evaluate("img => getComputedStyle(img).objectFit")
    assert fit == "contain"

    preview = page.get_by_test_id("preview")
    assert preview.is_hidden()
    page.keyboard.press("e")
    expect(preview).to_be_visible()
    enlarged = preview.get_by_test_id("photo")
    src = cell(page, c[0]).locator("img").evaluate("img => img.src")
    expect(enlarged).to_have_attribute("src", src)
    assert enlarged.bounding_box()["width"] > 2 * cell(page, c[0]).bounding_box()["width"]
    page.keyboard.press("Escape")
    expect(preview).to_be_hidden()
    assert cell(page, c[0]).get_attribute("aria-pressed") == "false", "enlarging marks nothing"

    cell(page, c[2]).hover()
    expect(preview).to_be_visible()
    expect(preview.get_by_test_id("photo")).to_have_attribute(
        "src", cell(page, c[2]).locator("img").evaluate("img => img.src")
    )
    page.mouse.move(0, 0)
    expect(preview).to_be_hidden()
