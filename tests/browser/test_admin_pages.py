"""The admin's pages in real Chromium: they fit the window, and the dashboard follows the
work as answers come in."""

from __future__ import annotations

import pytest

from annotation.models import Assignment
from annotation.services import task_engine
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


def page_width(page) -> int:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.django_db(transaction=True)
def test_the_statistics_page_fits_a_1400_pixel_window(
    browser, live_server, admin_user, coco_project
):
    """It was 1,716 px wide with 80 category names too small to read."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    log_in(page, "boss", PASSWORD)
    page.get_by_test_id("role-nav").get_by_role("link", name="Statistics").click()
    page.locator("figure img").first.wait_for()
    assert page_width(page) <= 1400
    for image in page.locator("figure img").all():
        assert image.bounding_box()["width"] <= 1400
    context.close()


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_follows_answers_as_they_come(
    page, admin_user, coco_project, choice_stage, make_worker
):
    """Workers answer between two looks at the dashboard (the engine's own lease and submit,
    as simulated workers do); each look matches the database, and the page fits 1366 px."""
    page.set_viewport_size({"width": 1366, "height": 768})
    workers = [make_worker() for _ in range(4)]
    for _ in range(3):
        task_engine.task_post(project=coco_project, stage=choice_stage.stage, answers_needed=2,
                              payload={"options": ["a", "b"]})  # fmt: skip
    log_in(page, "boss", PASSWORD)
    page.get_by_test_id("role-nav").get_by_role("link", name="Dashboard").click()
    row = page.locator(f"[data-testid=pipeline] tr[data-stage={choice_stage.stage}]")

    def shown(column: str) -> int:
        return int(row.locator(f"[data-col={column}]").inner_text())

    def in_database(status: str) -> int:
        return Assignment.objects.filter(task__project=coco_project, status=status).count()

    assert (shown("waiting"), shown("done")) == (in_database("free"), in_database("submitted"))
    assert (shown("waiting"), shown("done")) == (6, 0)
    assert page_width(page) <= 1366

    for number, worker in enumerate(workers):
        lease = task_engine.task_next_for_worker(worker=worker, stage=choice_stage.stage)
        task_engine.assignment_submit(assignment_id=lease.id, worker=worker,
                                      answer={"choice": "a"}, key=f"k{number}")  # fmt: skip
    task_engine.task_next_for_worker(worker=workers[0], stage=choice_stage.stage)  # held
    page.reload()
    assert shown("done") == in_database("submitted") == 4
    assert shown("leased") == in_database("leased") == 1
    assert shown("waiting") == in_database("free") == 1
    assert shown("answers_last_hour") == 4
    assert "no recent answers" not in row.locator("[data-col=eta]").inner_text()
    assert page.get_by_test_id("throughput").locator("svg").count() == 1
