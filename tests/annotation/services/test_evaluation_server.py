"""The evaluation server: scores equal pycocotools', bad files are refused with the entry
named, and the hidden test ground truth cannot be read by a submitter."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annotation.errors import DomainError
from annotation.models.evaluation import Release, Submission
from annotation.services import evaluation_server
from annotation.services.evaluation_server import (
    leaderboard,
    release_create,
    results_upload_checked,
    submission_create,
)
from pipelines.coco.cocoeval import category_table, evaluate_coco, load_ground_truth

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "coco_samples"
GT_PATH = SAMPLES / "instances_val2014_100.json"
BBOX_RESULTS = SAMPLES / "instances_val2014_fakebbox100_results.json"


def pycocotools_stats(iou_type: str, results_path: Path) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(GT_PATH))
        evaluator = COCOeval(gt, gt.loadRes(str(results_path)), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


@pytest.fixture
def release(coco_project):  # type: ignore[no-untyped-def]
    return release_create(
        project=coco_project, name="test-dev 2026", ground_truth_json=GT_PATH.read_bytes()
    )


def submit(release, person, results: bytes, iou_type="bbox", name="FakeNet"):  # type: ignore[no-untyped-def]
    return submission_create(
        release=release, submitter=person, method_name=name, iou_type=iou_type,
        results=results, results_file_name="results.json",
    )  # fmt: skip


@pytest.mark.django_db
class TestScoring:
    def test_a_submission_is_scored_exactly_as_pycocotools_scores_it(
        self, release, annotator, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            submission = submit(release, annotator, BBOX_RESULTS.read_bytes())
        submission.refresh_from_db()
        assert submission.status == Submission.Status.DONE
        assert submission.stats == pycocotools_stats("bbox", BBOX_RESULTS)
        assert submission.detection_count == len(json.loads(BBOX_RESULTS.read_text()))
        person = next(row for row in submission.per_category_ap if row["name"] == "person")
        assert 0 <= person["ap"] <= 1

    @pytest.mark.parametrize(
        ("results", "reason"),
        [
            (b"{not json", "results.json: results: expected a JSON array of detections"),
            (b"[{not json", "results.json: results: not valid JSON after 0 entries"),
            (b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]',
             "results.json: results[0]: image_id 1 is not in the ground truth"),
            (b'{"image_id": 1}', "results.json: results: expected a JSON array"),
        ],
    )  # fmt: skip
    def test_a_file_that_cannot_be_scored_fails_with_the_entry_named_and_no_score(
        self, release, annotator, results, reason, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            submission = submit(release, annotator, results)
        submission.refresh_from_db()
        assert submission.status == Submission.Status.FAILED
        assert submission.error.startswith(reason), submission.error
        assert submission.stats is None and submission.per_category_ap is None
        assert not leaderboard(release=release, iou_type="bbox").exists()

    def test_a_failed_submission_does_not_count_against_the_daily_limit(
        self, release, annotator, django_capture_on_commit_callbacks
    ):
        release.daily_submission_limit = 1
        release.save()
        with django_capture_on_commit_callbacks(execute=True):
            failed = submit(release, annotator, b"[1]", name="broken")
        with django_capture_on_commit_callbacks(execute=True):
            scored = submit(release, annotator, BBOX_RESULTS.read_bytes(), name="fixed")
        failed.refresh_from_db()
        scored.refresh_from_db()
        assert (failed.status, scored.status) == (Submission.Status.FAILED, Submission.Status.DONE)

    def test_an_iou_type_the_release_does_not_evaluate_is_refused(self, coco_project, annotator):
        boxes_only = release_create(
            project=coco_project,
            name="boxes",
            ground_truth_json=GT_PATH.read_bytes(),
            iou_types=["bbox"],
        )
        with pytest.raises(DomainError, match="evaluates \\['bbox'\\], not 'segm'"):
            submit(boxes_only, annotator, BBOX_RESULTS.read_bytes(), iou_type="segm")

    def test_the_daily_limit_holds(self, release, annotator):
        release.daily_submission_limit = 2
        release.save()
        submit(release, annotator, BBOX_RESULTS.read_bytes(), name="a")
        submit(release, annotator, BBOX_RESULTS.read_bytes(), name="b")
        with pytest.raises(DomainError, match="today's 2 submissions"):
            submit(release, annotator, BBOX_RESULTS.read_bytes(), name="c")

    def test_a_ground_truth_that_is_not_coco_is_refused(self, coco_project):
        with pytest.raises(DomainError, match="not a COCO annotation file"):
            release_create(project=coco_project, name="bad", ground_truth_json=b'{"images": 3}')
        assert not Release.objects.exists()


def hidden_markers() -> list[str]:
    """Strings that only the hidden annotations contain: polygon coordinates and boxes."""
    annotations = json.loads(GT_PATH.read_text())["annotations"]
    polygons = [a for a in annotations if isinstance(a["segmentation"], list)][:20]
    markers = [json.dumps(a["segmentation"][0][:6])[1:-1] for a in polygons]
    markers += [json.dumps(a["bbox"])[1:-1] for a in polygons]
    return markers


def all_get_urls(release, submission) -> list[str]:  # type: ignore[no-untyped-def]
    """Every URL of the site that takes no or the release's / submission's arguments."""
    urls = []

    def walk(patterns, prefix=""):  # type: ignore[no-untyped-def]
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                route = route.replace("<slug:slug>", release.slug).replace(
                    "<int:pk>", str(submission.id)
                )
                if "<" not in route and "(?P" not in route and "^" not in route:
                    urls.append("/" + route)

    walk(get_resolver().url_patterns)
    return urls


@pytest.mark.django_db
def test_the_hidden_ground_truth_cannot_be_read_by_a_submitter(
    release, annotator, client, api_client, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = submit(release, annotator, BBOX_RESULTS.read_bytes())
    markers = hidden_markers()
    client.force_login(annotator)
    api_client.force_authenticate(annotator)
    urls = all_get_urls(release, submission)
    assert "/api/v1/releases/" in urls and f"/evaluation/{release.slug}/" in urls
    assert f"/api/v1/releases/{release.slug}/leaderboard/" in urls
    for url in urls:
        for response in (client.get(url), api_client.get(url, {"iou_type": "bbox"})):
            body = response.content.decode(errors="replace") if response.status_code < 500 else ""
            assert response.status_code < 500, url
            leaked = [m for m in markers if m in body]
            assert not leaked, f"{url} shows hidden annotations: {leaked[:2]}"
    # Not in media storage either: the local media view serves any stored file by path.
    for folder, _, files in os.walk(settings.MEDIA_ROOT):
        for name in files:
            content = Path(folder, name).read_bytes().decode(errors="ignore")
            assert not any(m in content for m in markers), f"{name} holds the hidden ground truth"
    # The admin is for staff only, and even there the ground truth is no field.
    assert client.get(f"/admin/annotation/release/{release.id}/change/").status_code == 302
    # A bad results file's error names the results entry, not an annotation.
    bad = [{"image_id": json.loads(GT_PATH.read_text())["images"][0]["id"], "category_id": 1,
            "bbox": [0, 0, -5, 1], "score": 0.1}]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"/api/v1/releases/{release.slug}/submissions/",
            {
                "results": SimpleUploadedFile("r.json", json.dumps(bad).encode()),
                "iou_type": "bbox",
                "method_name": "x",
            },
        )
    assert response.status_code == 202 and response.json()["status"] == "pending"
    response = api_client.get(f"/api/v1/submissions/{response.json()['id']}/")
    assert response.json()["status"] == "failed"
    assert "results[0]: bbox must be" in response.json()["error"]
    assert not any(m in response.content.decode() for m in markers)


@pytest.mark.django_db
def test_submissions_of_others_are_not_readable(release, make_worker, api_client):
    owner, other = make_worker(), make_worker()
    submission = submit(release, owner, BBOX_RESULTS.read_bytes())
    api_client.force_authenticate(other)
    assert api_client.get(f"/api/v1/submissions/{submission.id}/").status_code == 404


@pytest.mark.django_db
def test_release_create_command(coco_project, capsys):
    call_command("release_create", "--project", coco_project.slug, "--name", "Test 2026",
                 "--ground-truth", str(GT_PATH), "--iou-types", "bbox")  # fmt: skip
    assert "published at /evaluation/test-2026/ (100 test images" in capsys.readouterr().out
    assert Release.objects.get().iou_types == ["bbox"]


def scored(release, person, name: str, ap: float) -> Submission:  # type: ignore[no-untyped-def]
    return Submission.objects.create(
        release=release, submitter=person, method_name=name, iou_type="bbox",
        results_file_name="results.json", results_gz=b"\x00" * 64,
        status=Submission.Status.DONE, stats=[ap] + [0.0] * 11,
    )  # fmt: skip


@pytest.mark.django_db
def test_the_leaderboard_api_costs_the_same_queries_for_any_number_of_rows(
    release, make_worker, api_client, django_assert_max_num_queries
):
    viewer = make_worker()
    api_client.force_authenticate(viewer)
    url = f"/api/v1/releases/{release.slug}/leaderboard/"
    scored(release, make_worker(), "first", 0.5)
    with CaptureQueriesContext(connection) as one_row:
        assert len(api_client.get(url, {"iou_type": "bbox"}).json()) == 1
    for index in range(5):
        scored(release, make_worker(), f"more-{index}", 0.1 * index)
    with django_assert_max_num_queries(len(one_row.captured_queries)) as six_rows:
        rows = api_client.get(url, {"iou_type": "bbox"}).json()
    assert [row["method_name"] for row in rows][:2] == ["first", "more-4"]
    assert {row["release"] for row in rows} == {release.slug}
    # Neither blob is read: not the results files, not the hidden ground truth.
    sql = " ".join(query["sql"] for query in six_rows.captured_queries)
    assert "results_gz" not in sql and "hidden_ground_truth_gz" not in sql


@pytest.mark.django_db
def test_the_hidden_ground_truth_is_parsed_once_for_upload_and_scoring(
    release, annotator, monkeypatch, django_capture_on_commit_callbacks
):
    parsed = []
    monkeypatch.setattr(
        evaluation_server,
        "load_ground_truth",
        lambda dataset: parsed.append(1) or load_ground_truth(dataset),
    )
    evaluation_server._ground_truth_of.cache_clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = submit(release, annotator, BBOX_RESULTS.read_bytes(), name="a")
        second = submit(release, annotator, BBOX_RESULTS.read_bytes(), name="b")
    assert len(parsed) == 1
    for submission in (first, second):
        submission.refresh_from_db()
        assert submission.stats == pycocotools_stats("bbox", BBOX_RESULTS)
    # A release given the same id later (SQLite reuses ids) is not mistaken for this one.
    key = (release.pk, release.created_at)
    assert evaluation_server._ground_truth_of.cache_info().currsize == 1
    release.created_at = release.created_at.replace(year=2000)
    evaluation_server._hidden_ground_truth(release)
    assert len(parsed) == 2 and key[1] != release.created_at


class Unreadable(SimpleUploadedFile):
    def read(self, *args):  # type: ignore[no-untyped-def]
        raise AssertionError("an oversized upload was read")


@pytest.mark.django_db
def test_an_oversized_results_file_is_refused_before_it_is_read(
    release, annotator, client, api_client, monkeypatch
):
    monkeypatch.setattr(evaluation_server, "MAX_RESULTS_BYTES", 2**20)
    big = b"[" + b" " * 2**20 + b"]"
    with pytest.raises(DomainError, match="results file larger than 1 MiB"):
        results_upload_checked(Unreadable("r.json", big))
    assert results_upload_checked(SimpleUploadedFile("r.json", b"[]")).read() == b"[]"
    api_client.force_authenticate(annotator)
    response = api_client.post(
        f"/api/v1/releases/{release.slug}/submissions/",
        {"results": SimpleUploadedFile("r.json", big), "iou_type": "bbox", "method_name": "x"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "results file larger than 1 MiB"
    client.force_login(annotator)
    response = client.post(
        f"/evaluation/{release.slug}/",
        {"results": SimpleUploadedFile("r.json", big), "iou_type": "bbox", "method_name": "x"},
        follow=True,
    )
    assert "results file larger than 1 MiB" in response.content.decode()
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_per_category_ap_is_the_category_tables_ap_column(
    release, annotator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = submit(release, annotator, BBOX_RESULTS.read_bytes())
    submission.refresh_from_db()
    result = evaluate_coco(json.loads(GT_PATH.read_text()), json.loads(BBOX_RESULTS.read_text()))
    expected = [
        {"category_id": row["category_id"], "name": row["name"], "ap": row["AP"]}
        for row in category_table(result)
    ]
    assert submission.per_category_ap == expected
    assert any(row["ap"] is None for row in expected)  # categories without ground truth too
