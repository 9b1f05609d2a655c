"""The one lease loop every annotator tool uses (frontend/static/js/api.js), in real
Chromium against the real server: a submit whose response is lost is sent again with the
same idempotency key and counted once; a submit after the lease ran out keeps the work in
the browser and offers it back after leasing again; a failed lease says what to do."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Annotation, Assignment, Category, Stage
from annotation.models.segmentation import SegmentationProgress
from annotation.services import task_engine
from annotation.stages.crowd import crowd_post_tasks
from tests.browser.conftest import log_in, photo_point
from tests.browser.test_labeling import stored_photo
from tests.browser.test_spotting import open_spotting_tool
from tests.conftest import PASSWORD

PERSON = 1
SUBMIT = "**/api/v1/assignments/*/submit/"


@pytest.mark.django_db(transaction=True)
def test_a_submit_whose_response_is_lost_is_retried_and_counted_once(page, annotator, coco_project):
    task = open_spotting_tool(page, coco_project, max_spots=3)
    page.mouse.click(*photo_point(page, 40, 40))
    page.mouse.click(*photo_point(page, 90, 70))
    sent: list[dict] = []

    def drop_first_response(route):  # type: ignore[no-untyped-def]
        sent.append(json.loads(route.request.post_data))
        if len(sent) == 1:
            route.fetch()  # the server receives and stores the answer...
            route.abort("connectionreset")  # ...and the answer never reaches the browser
        else:
            route.continue_()

    page.route(SUBMIT, drop_first_response)
    page.get_by_test_id("submit").click()
    page.get_by_text("No more photos to spot for now").wait_for()

    assert len(sent) == 2, "the browser sent the answer again"
    assert sent[0]["idempotency_key"] == sent[1]["idempotency_key"], "with the same key"
    stored = Assignment.objects.filter(task=task, status=Assignment.Status.SUBMITTED)
    assert stored.count() == 1, "and the server counted it once"
    assert stored.get().submission_key == sent[0]["idempotency_key"]
    assert len(stored.get().answer["spots"]) == 2
    assert page.get_by_test_id("status").get_attribute("class").find("error") == -1


def open_crowd_task(page, project):  # type: ignore[no-untyped-def]
    photo = stored_photo(project)
    person = Category.objects.get(taxonomy__project=project, coco_id=PERSON)
    SegmentationProgress.objects.create(
        image=photo, category=person, state=SegmentationProgress.State.CROWD
    )
    crowd_post_tasks(project=project)
    log_in(page, "ann", PASSWORD)
    page.goto("/crowd/")
    page.get_by_test_id("work").wait_for(state="visible")


def painted(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("window.paintTool.paintedPixels()"))


@pytest.mark.django_db(transaction=True)
def test_after_the_lease_expired_the_work_is_kept_and_restored(page, annotator, coco_project):
    open_crowd_task(page, coco_project)
    page.mouse.move(*photo_point(page, 60, 60))
    page.mouse.down()
    page.mouse.move(*photo_point(page, 160, 90), steps=8)
    page.mouse.up()
    work = painted(page)
    assert work > 1000
    page.wait_for_timeout(400)  # the draft is saved a moment after the last change

    # The lease runs out while the worker paints; the slot goes back to the pool.
    held = Assignment.objects.get(worker=annotator, status=Assignment.Status.LEASED)
    Assignment.objects.filter(id=held.id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    task_engine.leases_release_expired()

    with page.expect_response(lambda r: "/submit/" in r.url) as late:
        page.get_by_test_id("submit").click()
    assert late.value.status == 409, "a late answer is a conflict, not a missing task"
    assert late.value.json()["error"] == "lease_expired"
    again = page.get_by_test_id("lease-again")
    again.wait_for()
    status = page.get_by_test_id("status").inner_text()
    assert "Your work is kept" in status
    assert "went back to the pool before the answer arrived" in status, "the server's reason"
    assert not Annotation.objects.filter(origin=Annotation.Origin.CROWD).exists()

    again.click()
    restore = page.get_by_test_id("restore-draft")
    restore.wait_for()
    assert painted(page) == 0, "the task starts empty until the worker restores the work"
    restore.click()
    assert painted(page) == work, "every painted pixel is back"
    page.get_by_test_id("submit").click()
    page.get_by_text("Nothing to paint right now").wait_for()
    annotation = Annotation.objects.get(origin=Annotation.Origin.CROWD)
    assert annotation.area == work
    assert (
        page.evaluate(
            "Object.keys(localStorage).filter(k => k.startsWith('cocoforge:draft:')).length"
        )
        == 0
    ), "a sent draft is forgotten"


@pytest.mark.django_db(transaction=True)
def test_a_reloaded_page_offers_the_unsent_work_back(page, annotator, coco_project):
    task = open_spotting_tool(page, coco_project, max_spots=3)
    page.mouse.click(*photo_point(page, 40, 40))
    page.wait_for_timeout(400)
    page.reload()
    page.get_by_test_id("restore-draft").click()
    assert page.get_by_test_id("count").inner_text() == "1 / 3"
    page.get_by_test_id("submit").click()
    page.get_by_text("No more photos to spot for now").wait_for()
    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    assert answer["spots"][0]["x"] == pytest.approx(40, abs=1)


@pytest.mark.django_db(transaction=True)
def test_a_failed_lease_says_what_to_do_and_tries_again(page, annotator, coco_project):
    task_engine.task_post(
        project=coco_project,
        stage=Stage.SPOTTING,
        answers_needed=1,
        image=stored_photo(coco_project),
        category=Category.objects.get(taxonomy__project=coco_project, coco_id=18),
        payload={"primed": [], "max_spots": 3},
    )
    log_in(page, "ann", PASSWORD)
    page.route("**/api/v1/tasks/next/", lambda route: route.abort("internetdisconnected"))
    page.goto("/spotting/")
    retry = page.get_by_test_id("retry")
    retry.wait_for()
    status = page.get_by_test_id("status").inner_text()
    assert "could not be reached" in status and "Try again" in status
    page.unroute("**/api/v1/tasks/next/")
    retry.click()
    page.get_by_test_id("work").wait_for(state="visible")
    assert page.get_by_test_id("category").inner_text() == "dog"
