"""Every annotator tool page, with a task on screen, has no serious or critical finding in
axe-core's accessibility scan (axe-core from npm, see package.json)."""

from __future__ import annotations

import pytest

from annotation.models import Category, ImageProposals, Stage, WorkerProfile
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
from tests.browser.conftest import log_in, serious_accessibility_findings
from tests.browser.test_collection_grid import pool_of
from tests.browser.test_labeling import stored_photo
from tests.browser.test_suggestions import square_proposal
from tests.conftest import PASSWORD

DOG, PERSON = 18, 1


def scan(page, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    log_in(page, "ann", PASSWORD)
    page.goto(url)
    page.wait_for_function(
        "['ready', 'empty'].includes(document.querySelector('[data-state]')?.dataset.state)"
    )
    assert page.locator("[data-state]").first.get_attribute("data-state") == "ready", (
        "a task is on screen"
    )
    return serious_accessibility_findings(page)


@pytest.mark.django_db(transaction=True)
def test_iconic_filtering_page(page, annotator):
    project = project_create(name="Streets", categories=[{"name": "dog"}])
    project.stage_settings = {"collection_grid_size": 4, "collection_answers_per_grid": 1}
    project.save()
    pool_of(project, 4)
    collection.collection_grids_post(project=project)
    assert scan(page, "/collection/") == []


@pytest.mark.django_db(transaction=True)
def test_labeling_page(page, annotator, coco_project):
    coco_project.stage_settings = {"labeling_answers_per_image": 1}
    coco_project.save()
    labeling_tasks_post(project=coco_project, images=[stored_photo(coco_project)])
    assert scan(page, "/labeling/") == []


@pytest.mark.django_db(transaction=True)
def test_spotting_page(page, annotator, coco_project):
    task_engine.task_post(
        project=coco_project,
        stage=Stage.SPOTTING,
        answers_needed=1,
        image=stored_photo(coco_project),
        category=Category.objects.get(taxonomy__project=coco_project, coco_id=DOG),
        payload={"primed": [{"x": 160.0, "y": 120.0}], "max_spots": 3,
                 "suggestions": [{"x": 60.0, "y": 50.0, "score": 0.9}]},
    )  # fmt: skip
    assert scan(page, "/spotting/") == []
    assert page.get_by_test_id("suggestion").count() == 1, "scanned with a suggestion shown"


@pytest.mark.django_db(transaction=True)
def test_segmentation_page(
    page, annotator, coco_project, make_worker, django_capture_on_commit_callbacks
):
    image = stored_photo(coco_project)
    ImageProposals.objects.create(image=image, model_version="sharpmask/v0001",
                                  proposals=[square_proposal()])  # fmt: skip
    spot_pair(
        coco_project, [[(160, 120)]], make_worker, django_capture_on_commit_callbacks, image=image
    )
    segmentation_post_for_completed_spotting(project=coco_project)
    dog = Category.objects.get(taxonomy__project=coco_project, coco_id=DOG)
    Qualification.objects.create(worker=annotator, category=dog, passed=True, tries=1)
    assert scan(page, "/segmentation/") == []
    assert page.get_by_test_id("start-suggestion").is_visible(), "scanned with the suggestion"
    page.get_by_test_id("all-done").click()
    page.get_by_test_id("confirm").wait_for(state="visible")
    assert serious_accessibility_findings(page) == [], "the confirmation dialog"


@pytest.mark.django_db(transaction=True)
def test_verification_page(page, annotator, coco_project, make_worker):
    coco_project.stage_settings = {"verification_grid_size": 8}
    coco_project.save()
    photo = stored_photo(coco_project)
    segmenter = make_worker(WorkerProfile.Role.ANNOTATOR)
    for i in range(4):
        make_mask(coco_project, segmenter, image=photo, x=20 + 60 * i)
    add_gold(coco_project, make_worker(WorkerProfile.Role.EXPERT))
    verification_post_grids(project=coco_project)
    assert scan(page, "/verification/") == []


@pytest.mark.django_db(transaction=True)
def test_crowd_painting_page(page, annotator, coco_project):
    photo = stored_photo(coco_project)
    person = Category.objects.get(taxonomy__project=coco_project, coco_id=PERSON)
    SegmentationProgress.objects.create(
        image=photo, category=person, state=SegmentationProgress.State.CROWD
    )
    crowd_post_tasks(project=coco_project)
    assert scan(page, "/crowd/") == []
