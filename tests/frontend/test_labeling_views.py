"""The labeling pages: the tools need a login; the quality page draws Fig. 2.4 as SVG."""

from __future__ import annotations

import pytest

from annotation.models import WorkerProfile
from frontend.labeling_views import scatter_figure, union_figure
from tests.annotation.stages.test_labeling import labeling_answer, post_labeling_task, submit
from tests.conftest import PASSWORD


def test_scatter_circles_grow_with_workers_and_darken_with_jobs():
    report = {
        "precision_line": 0.5,
        "scatter": [
            {"recall_low": 0.0, "recall_high": 0.1, "precision_low": 0.9, "precision_high": 1.0,
             "workers": 1, "mean_jobs": 1.0},
            {"recall_low": 0.5, "recall_high": 0.6, "precision_low": 0.9, "precision_high": 1.0,
             "workers": 4, "mean_jobs": 9.0},
        ],
    }  # fmt: skip
    small, big = scatter_figure(report)["circles"]
    assert big["r"] > small["r"]
    assert big["cx"] > small["cx"] and big["cy"] == small["cy"]
    assert small["fill"] == "rgb(253,224,140)" and big["fill"] == "rgb(133,24,30)"
    assert scatter_figure(report)["line_y"] == 165.0, "precision 0.5 is half way up the plot"


def test_the_union_curve_is_a_polyline_over_k():
    report = {
        "union_of_k": [
            {"k": 1, "images": 3, "precision": 1.0, "recall": 0.5},
            {"k": 2, "images": 3, "precision": 0.9, "recall": 1.0},
        ],
        "experts": [{"username": "e", "recall": 0.75}],
    }
    figure = union_figure(report)
    assert figure["polyline"] == "50.0,165.0 350.0,15.0"
    assert figure["experts"][0]["y"] == 90.0


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
    assert html.count('class="union-point"') == 2, "k = 1 and k = 2 crowd workers"
    assert html.count('class="expert"') == 1
    assert html.count('class="cell"') >= 1
    response = client.post(
        "/labeling/quality/", {"project": coco_project.id, "precision_line": "2"}, follow=True
    )
    assert "between 0 and 1" in response.content.decode()
