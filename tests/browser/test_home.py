"""Log in, see the stages and projects, log out: in real Chromium."""

import pytest

from annotation.models import Stage
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


@pytest.mark.django_db(transaction=True)
def test_an_annotator_logs_in_sees_the_stages_and_logs_out(page, annotator, coco_project):
    page.goto("/")
    assert "/login/" in page.url, "the home page asks for a login first"
    log_in(page, "ann", PASSWORD)
    assert page.get_by_test_id("who").inner_text() == "ann"
    assert page.get_by_test_id("role").inner_text() == "Annotator"
    rows = page.locator("[data-testid=stages] tbody tr")
    assert rows.count() == len(Stage.choices)
    assert [rows.nth(i).get_attribute("data-stage") for i in range(rows.count())] == Stage.values
    assert "Category labeling" in page.locator("[data-testid=stages]").inner_text()
    assert "Test COCO" in page.locator(".projects").inner_text()
    page.click("text=Log out")
    page.wait_for_url("**/login/")
    page.goto("/")
    assert "/login/" in page.url, "after logging out the home page asks for a login again"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_explained(page, annotator):
    page.goto("/login/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")
    assert "didn't match" in page.get_by_role("alert").inner_text()
