"""A researcher uploads a results file and sees its scores on the leaderboard (Chromium)."""

from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annotation.services.evaluation_server import release_create
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "coco_samples"


@pytest.mark.django_db(transaction=True)
def test_upload_results_and_see_the_scores_on_the_leaderboard(page, annotator, coco_project):
    release_create(
        project=coco_project,
        name="test-dev 2026",
        ground_truth_json=(SAMPLES / "instances_val2014_100.json").read_bytes(),
    )
    gt = COCO(str(SAMPLES / "instances_val2014_100.json"))
    expected = COCOeval(
        gt, gt.loadRes(str(SAMPLES / "instances_val2014_fakebbox100_results.json")), "bbox"
    )
    expected.evaluate()
    expected.accumulate()
    expected.summarize()

    log_in(page, "ann", PASSWORD)
    page.click("text=Evaluation")
    page.click("text=test-dev 2026")
    page.fill("#method_name", "FakeNet")
    page.select_option("#iou_type", "bbox")
    page.set_input_files("#results", str(SAMPLES / "instances_val2014_fakebbox100_results.json"))
    page.click("[data-testid=submit-form] button[type=submit]")
    assert "FakeNet: submitted for bbox evaluation." in page.get_by_role("status").inner_text()
    row = page.locator("[data-testid=leaderboard-bbox] tr[data-method=FakeNet]")
    assert row.locator("[data-stat=AP]").inner_text() == f"{expected.stats[0]:.3f}"
    assert row.locator("[data-stat=AR100]").inner_text() == f"{expected.stats[8]:.3f}"

    page.fill("#method_name", "Broken")
    page.set_input_files(
        "#results", {"name": "bad.json", "mimeType": "application/json", "buffer": b"[{]"}
    )
    page.click("[data-testid=submit-form] button[type=submit]")
    # Checked in the background (in-process here): it fails, named, under Your submissions.
    assert "Broken: submitted for bbox evaluation." in page.get_by_role("status").inner_text()
    mine = page.locator("[data-testid=mine]").inner_text()
    assert "Broken · bbox · Failed · bad.json: results: not valid JSON after 0 entries" in mine
