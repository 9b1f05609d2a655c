"""The category labeling tool and the worker-quality page, in real Chromium."""

from __future__ import annotations

import pytest

from annotation.models import Assignment, Image, Stage, Task
from annotation.models.labeling import CategoryPresence
from annotation.services.images import SourceMetadata, image_ingest
from annotation.stages.labeling import labeling_tasks_post
from tests.browser.conftest import LAPTOP, log_in, photo_point
from tests.conftest import PASSWORD, jpeg_bytes

DOG, CAT = 18, 17


def stored_photo(project, width=320, height=240, color=(40, 120, 200)) -> Image:  # type: ignore[no-untyped-def]
    result = image_ingest(
        project=project,
        content=jpeg_bytes(width, height, color),
        meta=SourceMetadata(
            source=Image.Source.UPLOAD, source_ref="test", file_name=f"{color}.jpg"
        ),
    )
    assert result.image is not None
    return result.image


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    """Press at `start`, move there in steps, release at `end` (page coordinates)."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()


def centre(locator) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def open_labeling_tool(page, project):  # type: ignore[no-untyped-def]
    project.stage_settings = {"labeling_answers_per_image": 1}
    project.save()
    image = stored_photo(project)
    (task,) = labeling_tasks_post(project=project, images=[image])
    log_in(page, "ann", PASSWORD)
    page.goto("/labeling/")
    page.get_by_test_id("work").wait_for(state="visible")
    page.wait_for_function("document.querySelector('[data-testid=photo]').naturalWidth > 0")
    return task


@pytest.mark.django_db(transaction=True)
def test_an_annotator_drags_an_icon_onto_the_photo_and_submits(page, annotator, coco_project):
    task = open_labeling_tool(page, coco_project)
    assert page.locator(".group").count() == 12, "the panel is grouped by super-category"
    assert "person" in page.get_by_test_id("question").inner_text()

    dog_icon = page.locator('.panel .icon[data-category-id="18"]')
    drag(page, centre(dog_icon), photo_point(page, 200, 100))
    placed = page.locator('.placed-icon[data-category-id="18"]')
    assert placed.count() == 1
    assert page.locator('.steps li[data-super="animal"]').get_attribute("data-state") == "yes"
    assert page.get_by_test_id("submit").is_disabled(), "the other groups are not answered yet"

    page.get_by_test_id("rest-no").click()
    page.get_by_test_id("submit").click()
    page.get_by_text("No more photos to label for now").wait_for()

    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    assert [c["id"] for c in answer["categories"]] == [DOG]
    assert answer["categories"][0]["x"] == pytest.approx(200, abs=1.5)
    assert answer["categories"][0]["y"] == pytest.approx(100, abs=1.5)
    assert (
        answer["supercategories"]["animal"] is True and answer["supercategories"]["food"] is False
    )
    presence = CategoryPresence.objects.get(image=task.image)
    assert presence.category.coco_id == DOG, "one worker placing it makes it present"
    assert Task.objects.filter(stage=Stage.SPOTTING, image=task.image).count() == 1


@pytest.mark.django_db(transaction=True)
def test_photo_and_icons_fit_a_laptop_screen_together(page, annotator, coco_project):
    """At 1366x768 the photo and the icon panel are on screen together, and every group's
    icons can be reached by scrolling the panel alone; icons are real SVG files."""
    open_labeling_tool(page, coco_project)
    stage = page.get_by_test_id("stage").bounding_box()
    panel = page.get_by_test_id("panel").bounding_box()
    assert stage["y"] + stage["height"] <= LAPTOP["height"], "the whole photo area is visible"
    assert panel["x"] + panel["width"] <= LAPTOP["width"]
    assert panel["y"] + panel["height"] <= LAPTOP["height"], "the panel is visible too"
    assert panel["height"] > 200 and stage["width"] > 600
    toothbrush = page.locator('.panel .icon[data-category-id="90"]')
    toothbrush.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") == 0, "the panel scrolls, the page does not"
    drag(page, centre(toothbrush), photo_point(page, 20, 20))
    assert page.locator('.placed-icon[data-category-id="90"]').count() == 1
    src = page.locator('.panel .icon[data-category-id="18"] img').get_attribute("src")
    assert src.endswith("icons/coco/dog.svg")
    assert page.evaluate(f"fetch('{src}').then(r => r.text()).then(t => t.includes('<path'))"), (
        "a drawn icon, not an emoji character in a font"
    )


@pytest.mark.django_db(transaction=True)
def test_labeling_by_keys_alone(page, annotator, coco_project):
    """Y/N answer the groups; an icon is chosen with Tab and Enter, moved over the photo
    with the arrows and put down with Enter."""
    task = open_labeling_tool(page, coco_project)
    page.keyboard.press("y")  # person: yes
    dog = page.locator('.panel .icon[data-category-id="18"]')
    dog.focus()
    page.keyboard.press("Enter")
    assert page.get_by_test_id("cursor").count() == 1
    scale = float(page.get_by_test_id("stage").get_attribute("data-scale"))
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    assert page.locator('.placed-icon[data-category-id="18"]').count() == 1
    person = page.locator('.panel .icon[data-category-id="1"]')
    person.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    page.get_by_test_id("rest-no").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("submit").focus()
    page.keyboard.press("Enter")
    page.get_by_text("No more photos to label for now").wait_for()
    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    placed = {c["id"]: (c["x"], c["y"]) for c in answer["categories"]}
    step = 12 / scale
    assert placed[DOG] == pytest.approx((160 + 4 * step, 120 - step), abs=0.02)
    assert placed[1] == pytest.approx((160 + 4 * step - step, 120 - step), abs=0.02), (
        "the cursor starts where the last icon was put"
    )
    assert answer["supercategories"]["person"] is True
    assert answer["supercategories"]["animal"] is True


@pytest.mark.django_db(transaction=True)
def test_placed_icons_move_and_come_off_and_no_clears_a_group(page, annotator, coco_project):
    task = open_labeling_tool(page, coco_project)
    drag(
        page, centre(page.locator('.panel .icon[data-category-id="18"]')), photo_point(page, 50, 50)
    )
    drag(
        page,
        centre(page.locator('.panel .icon[data-category-id="17"]')),
        photo_point(page, 100, 60),
    )
    drag(page, photo_point(page, 50, 50), photo_point(page, 300, 200))
    # Dragging the cat's icon off the photo (onto the heading) removes it.
    drag(page, photo_point(page, 100, 60), centre(page.locator("h1")))
    assert page.locator(".placed-icon").count() == 1

    page.keyboard.press("y")  # person: yes, but no icon yet
    assert page.locator('.steps li[data-super="person"]').get_attribute("data-state") == "yes"
    page.locator('.group[data-super="person"] [data-answer=no]').click()
    page.get_by_test_id("rest-no").click()
    page.get_by_test_id("submit").click()
    page.get_by_text("No more photos to label for now").wait_for()
    answer = Assignment.objects.get(task=task, status=Assignment.Status.SUBMITTED).answer
    assert [(c["id"], round(c["x"]), round(c["y"])) for c in answer["categories"]] == [
        (DOG, 300, 200)
    ]
    assert answer["supercategories"]["person"] is False


@pytest.mark.django_db(transaction=True)
def test_the_admin_sees_the_quality_plots_and_sets_the_precision_line(
    page, admin_user, coco_project, make_worker
):
    from annotation.services import task_engine
    from tests.annotation.stages.test_labeling import labeling_answer

    coco_project.stage_settings = {"labeling_answers_per_image": 2}
    coco_project.save()
    image = stored_photo(coco_project)
    (task,) = labeling_tasks_post(project=coco_project, images=[image])
    good, bad = make_worker(username="good"), make_worker(username="bad")
    for worker, placed in [(good, {DOG: (5, 5)}), (bad, {CAT: (9, 9)})]:
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.LABELING)
        task_engine.assignment_submit(
            assignment_id=lease.id,
            worker=worker,
            answer=labeling_answer(coco_project, placed),
            key=worker.username,
        )

    log_in(page, "boss", PASSWORD)
    page.get_by_role("link", name="Worker quality").click()
    page.get_by_test_id("scatter").wait_for()  # count() below does not wait for the page
    assert page.locator("[data-testid=scatter] svg g[id^=cell-]").count() == 1, (
        "both at P 0, R 0: one cell"
    )
    assert page.locator("[data-testid=cells] tbody tr td").nth(2).inner_text() == "2"
    assert page.locator("[data-testid=workers] tbody tr").count() == 2
    page.get_by_test_id("line-input").fill("0.5")
    page.get_by_test_id("line-preview").click()
    # Whose answers the line would reject, before anything is rejected; nothing pre-ticked.
    assert (
        "2 labeling answers of 2 annotators" in page.get_by_test_id("preview-summary").inner_text()
    )
    assert page.locator("[data-testid=preview-workers] tbody tr").count() == 2
    assert not page.get_by_test_id("line-apply").is_checked()
    assert task.assignments.filter(status=Assignment.Status.REJECTED).count() == 0
    page.get_by_test_id("line-apply").check()
    page.get_by_test_id("line-submit").click()
    page.get_by_text("Precision line set to 0.50").wait_for()
    assert "2 answers of 2 workers rejected" in page.locator(".messages").inner_text()
    assert page.locator("[data-testid=scatter] svg #precision-line").count() == 1
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN
    assert task.assignments.filter(status=Assignment.Status.FREE).count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_annotator_may_not_open_the_quality_page(page, annotator):
    log_in(page, "ann", PASSWORD)
    response = page.goto("/labeling/quality/")
    assert response.status == 403
