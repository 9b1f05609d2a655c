"""The demo, walked by hand in real Chromium at 1366x768: from a fresh demo database
(`manage.py demo_setup`), the demo people take one bundled photo from the first stage
(iconic filtering) through labeling, spotting, a reference and training, segmentation and
verification to a COCO export, with the annotator tools' own interactions (drag an icon,
click a cross, click the outline's points). Only the start page's URL is typed; everything
else is a link or a button on the pages (no API calls from the test)."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.models import Annotation, ExportJob, Image, Segmentation
from annotation.models.collection import Candidate
from tests.browser.conftest import LAPTOP, photo_point

KEEP = "chelsea.jpg"  # the cat: every filterer marks the six others as iconic
# The cat's outline in chelsea.jpg's pixels (451x300): the expert's reference, the
# trainee's copy of it and the segmentation all trace this square.
CAT_OUTLINE = [(150, 40), (330, 40), (330, 280), (150, 280)]
CAT_SPOT = (240, 160)


def passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"username (\S+)\s+password (\S+)", output))


def log_in_from_the_page(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def switch_to(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Log out with the top bar's button (it lands on the login page) and log in again."""
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    log_in_from_the_page(page, username, password)


def start_stage(page, stage: str) -> None:  # type: ignore[no-untyped-def]
    """The home page's next step for a stage: its Start link."""
    page.locator(f"[data-testid=next-steps] li[data-step-stage={stage}][data-state=go] a").click()
    if stage == "collection":
        page.locator("[data-testid=cell]").first.wait_for()
    else:
        page.get_by_test_id("work").wait_for(state="visible")


def outline(page, points) -> None:  # type: ignore[no-untyped-def]
    """Trace `points` (image pixels) in the polygon editor; clicking the first point again
    closes the outline."""
    for x, y in [*points, points[0]]:
        page.mouse.click(*editor_point(page, x, y))


def editor_point(page, x: float, y: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Where image pixel (x, y) is on the page: the drawing surface publishes its pan and
    zoom (screen = image * scale + (tx, ty)) on its stage element."""
    stage = page.get_by_test_id("stage")
    view = stage.evaluate("el => ({...el.dataset})")
    box = stage.bounding_box()
    scale = float(view["scale"])
    return box["x"] + float(view["tx"]) + x * scale, box["y"] + float(view["ty"]) + y * scale


@pytest.mark.django_db(transaction=True)
def test_the_demo_people_take_a_photo_from_filtering_to_an_export(browser, live_server):
    out = StringIO()
    call_command("demo_setup", stdout=out)
    people = passwords(out.getvalue())
    assert set(people) == {"admin", "expert", "annotator", "annotator2"}
    keep = Candidate.objects.get(file_name=KEEP)
    others = list(Candidate.objects.exclude(id=keep.id).values_list("id", flat=True))

    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/")  # the only typed URL
    log_in_from_the_page(page, "annotator", people["annotator"])

    # 1. Iconic filtering: three people answer the grid; the cat photo is kept.
    for number, person in enumerate(["annotator", "annotator2", "expert"]):
        if number:
            switch_to(page, person, people[person])
        start_stage(page, "collection")
        for candidate_id in others:
            page.locator(f"[data-testid=cell][data-candidate-id='{candidate_id}']").click()
        page.get_by_test_id("submit-grid").click()
        page.get_by_test_id("grid-status").get_by_text("No more grids").wait_for()
        page.get_by_role("link", name="cocoforge").click()
    image = Image.objects.get(file_name__endswith=KEEP)
    size = (image.width, image.height)

    # 2. Labeling: two annotators place the cat icon on the cat.
    for person in ["annotator", "annotator2"]:
        switch_to(page, person, people[person])
        start_stage(page, "labeling")
        page.wait_for_function("document.querySelector('[data-testid=photo]').naturalWidth > 0")
        icon = page.locator('.panel .icon[data-category-id="17"]')
        icon.scroll_into_view_if_needed()
        box = icon.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(*photo_point(page, *CAT_SPOT, *size), steps=6)
        page.mouse.up()
        page.locator('.placed-icon[data-category-id="17"]').wait_for()
        page.get_by_test_id("rest-no").click()
        page.get_by_test_id("submit").click()
        page.get_by_text("No more photos to label for now").wait_for()
        page.get_by_role("link", name="cocoforge").click()

    # 3. Spotting: one cross on the cat.
    switch_to(page, "annotator", people["annotator"])
    start_stage(page, "spotting")
    page.wait_for_function("document.querySelector('[data-testid=photo]').naturalWidth > 0")
    page.mouse.click(*photo_point(page, *CAT_SPOT, *size))
    assert page.locator(".cross").count() == 1
    page.get_by_test_id("submit").click()
    page.get_by_text("No more photos to spot for now").wait_for()

    # 4. The annotator cannot segment yet: the home page says why and there is no training.
    page.get_by_role("link", name="cocoforge").click()
    steps = page.get_by_test_id("next-steps")
    assert "an expert must outline a reference first" in steps.inner_text()

    # 5. The expert outlines the reference from the References page.
    switch_to(page, "expert", people["expert"])
    page.get_by_test_id("role-nav").get_by_role("link", name="References").click()
    page.get_by_role("link", name="Outline").first.click()
    page.get_by_test_id("work").wait_for(state="visible")
    outline(page, CAT_OUTLINE)
    page.get_by_test_id("submit").click()
    page.get_by_text("saved").wait_for()

    # 6. The annotator trains on cat (the home page links it) and passes. The demo has one
    # cat photo and it is the one they trained on: its reference would be their answer, so
    # segmentation offers them nothing (a trainee never segments what they trained on).
    switch_to(page, "annotator", people["annotator"])
    assert "Train on cat first" in page.get_by_test_id("next-steps").inner_text()
    page.get_by_role("link", name="Go to training").click()
    page.get_by_test_id("work").wait_for(state="visible")
    outline(page, CAT_OUTLINE)
    page.get_by_test_id("submit").click()
    page.get_by_test_id("verdict").wait_for()
    assert page.get_by_test_id("verdict").inner_text().startswith("Passed")
    page.get_by_test_id("start").click()
    page.get_by_text("No more objects to outline for now").wait_for()
    assert not Segmentation.objects.exists()

    # The expert (experts need no training) outlines the cat from the home page's next step.
    switch_to(page, "expert", people["expert"])
    start_stage(page, "segmentation")
    outline(page, CAT_OUTLINE)
    page.get_by_test_id("submit").click()
    page.get_by_text("No more objects to outline for now").wait_for()
    assert Segmentation.objects.get(image=image).status == Segmentation.Status.PENDING

    # 7. The admin's dashboard warns that the mask waits for a grid and posts a partial one.
    switch_to(page, "admin", people["admin"])
    page.get_by_test_id("role-nav").get_by_role("link", name="Dashboard").click()
    warning = page.locator("[data-testid=warnings] li[data-kind=grids_waiting]")
    assert "1 pending mask" in warning.inner_text()
    warning.get_by_role("link").click()
    page.get_by_role("button", name="Post a partial verification grid now").click()
    page.get_by_text("1 verification grid(s) posted.").wait_for()

    # 8. The second annotator verifies the mask (no cell marked poor): it is accepted.
    switch_to(page, "annotator2", people["annotator2"])
    start_stage(page, "verification")
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=cell] img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    page.get_by_test_id("submit").click()
    page.get_by_text("No grids to verify right now").wait_for()
    assert Segmentation.objects.get(image=image).status == Segmentation.Status.ACCEPTED

    # 9. The admin exports the project; the COCO file holds the cat's outline.
    switch_to(page, "admin", people["admin"])
    page.get_by_test_id("role-nav").get_by_role("link", name="Export").click()
    page.get_by_role("button", name="Start export").click()
    page.locator("[data-testid=export-jobs]").get_by_text("Done").wait_for()
    job = ExportJob.objects.get()
    jobs = page.get_by_test_id("export-jobs")
    assert jobs.get_by_role("link", name=job.files[0], exact=True).count() == 1
    written = json.loads((Path(job.folder) / job.files[0]).read_text())
    assert [a["category_id"] for a in written["annotations"]] == [17]
    assert [i["file_name"] for i in written["images"]] == [image.file_name]
    assert Annotation.objects.filter(image=image).count() == 1
    context.close()
