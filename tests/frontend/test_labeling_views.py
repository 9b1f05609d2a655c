"""The labeling pages: the tools need a login; the quality page draws Fig. 2.4 as SVG."""

from __future__ import annotations

import pytest

from annotation.models import WorkerProfile
from frontend.figures import jobs_colour, quality_scatter_svg, quality_union_svg
from tests.annotation.stages.test_labeling import labeling_answer, post_labeling_task, submit
from tests.conftest import PASSWORD


def test_the_scatter_draws_one_circle_per_cell_and_the_precision_line():
    report = {
        "precision_line": 0.5,
        "scatter": [
            {"recall_low": 0.0, "recall_high": 0.1, "precision_low": 0.9, "precision_high": 1.0,
             "workers": 1, "mean_jobs": 1.0},
            {"recall_low": 0.5, "recall_high": 0.6, "precision_low": 0.9, "precision_high": 1.0,
             "workers": 4, "mean_jobs": 9.0},
        ],
    }  # fmt: skip
    svg = quality_scatter_svg(report)
    assert svg.startswith("<svg ") and 'aria-label="precision against recall per worker"' in svg
    assert svg.count('id="cell-') == 2 and 'id="precision-line"' in svg
    assert jobs_colour(1.0, 9.0) == "#fde08c" and jobs_colour(9.0, 9.0) == "#85181e"


def test_the_union_curve_has_a_point_per_k_and_a_line_per_expert():
    report = {
        "union_of_k": [
            {"k": 1, "images": 3, "precision": 1.0, "recall": 0.5},
            {"k": 2, "images": 3, "precision": 0.9, "recall": 1.0},
        ],
        "experts": [{"username": "e", "recall": 0.75}],
    }
    svg = quality_union_svg(report)
    assert svg.count('id="union-point-') == 2 and svg.count('id="expert-') == 1


@pytest.mark.django_db
def test_the_tools_ask_for_a_login(client):
    for url in ("/labeling/", "/spotting/", "/labeling/quality/"):
        assert "/login/" in client.get(url)["Location"]


@pytest.mark.django_db
def test_the_quality_page_shows_experts_and_the_union_curve(
    client, admin_user, coco_project, make_worker, django_capture_on_commit_callbacks
):
    task = post_labeling_task(coco_project, answers=3)
    people = [make_worker(WorkerProfile.Role.EXPERT), make_worker(), make_worker()]
    for worker, placed in zip(people, [{18: (1, 1)}, {18: (2, 2)}, {17: (3, 3)}], strict=True):
        submit(
            task, worker, labeling_answer(coco_project, placed), django_capture_on_commit_callbacks
        )
    client.login(username="boss", password=PASSWORD)
    html = client.get(f"/labeling/quality/?project={coco_project.id}").content.decode()
    assert html.count('id="union-point-') == 2, "k = 1 and k = 2 crowd workers"
    assert html.count('id="expert-') == 1
    assert html.count('id="cell-') >= 1
    response = client.post(
        "/labeling/quality/", {"project": coco_project.id, "precision_line": "2"}, follow=True
    )
    assert "between 0 and 1" in response.content.decode()


@pytest.mark.django_db
def test_the_precision_line_shows_whose_answers_it_rejects_before_applying(
    client, admin_user, coco_project, make_worker, django_capture_on_commit_callbacks
):
    """The preview names the annotators and their answer counts, rejects nothing, and its
    "also reject" box is not ticked; only a confirmed post with the box rejects."""
    task = post_labeling_task(coco_project, answers=2)
    good, bad = make_worker(username="good"), make_worker(username="bad")
    for worker, placed in [(good, {18: (1, 1)}), (bad, {17: (3, 3)})]:
        submit(
            task, worker, labeling_answer(coco_project, placed), django_capture_on_commit_callbacks
        )
    client.login(username="boss", password=PASSWORD)
    html = client.get(f"/labeling/quality/?project={coco_project.id}&preview=0.5").content.decode()
    assert "2 labeling answers of 2 annotators are below it" in html
    assert 'data-username="bad"' in html and 'data-username="good"' in html
    box = html[html.index('data-testid="line-apply"') - 80 : html.index('data-testid="line-apply"')]
    assert "checked" not in box
    assert task.assignments.filter(status="rejected").count() == 0
    client.post("/labeling/quality/", {"project": coco_project.id, "precision_line": "0.5"})
    coco_project.refresh_from_db()
    assert coco_project.stage_settings["labeling_precision_line"] == 0.5
    assert task.assignments.filter(status="rejected").count() == 0, "not ticked: nothing rejected"
    client.post(
        "/labeling/quality/", {"project": coco_project.id, "precision_line": "0.5", "apply": "1"}
    )
    assert task.assignments.filter(status="rejected").count() == 2
