"""Hostile results files for the evaluation server and the evaluator CLI (issue 17): each
ends as a failed submission (or a CLI message) naming the entry, with no score; large files
are parsed as they stream, in bounded memory, outside the web request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings

from annotation.models import Project
from annotation.models.evaluation import Submission
from annotation.services.evaluation_server import release_create, submission_create

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "fixtures" / "coco_samples"
GT_PATH = SAMPLES / "instances_val2014_100.json"
GT = json.loads(GT_PATH.read_text())
IMAGE = GT["images"][0]  # 427 wide, 640 high


def entry(**fields: object) -> bytes:
    base = {"image_id": IMAGE["id"], "category_id": 1, "score": 0.9, "bbox": [1, 2, 30, 40]}
    return json.dumps({**base, **fields}).encode()


GOOD = entry()
VERTICES = 10**6
HOSTILE = [
    ("NaN score", b"[" + GOOD + b', {"image_id": %d, "category_id": 1, "score": NaN, '
     b'"bbox": [1, 2, 3, 4]}]' % IMAGE["id"], "bbox",
     "results: not valid JSON after 1 entries (lexical error: invalid char in json text. "
     "NaN, Infinity and unquoted words are not JSON)"),
    ("Infinity in a box", b'[{"image_id": %d, "category_id": 1, "score": 1, '
     b'"bbox": [0, 0, Infinity, 4]}]' % IMAGE["id"], "bbox",
     "results: not valid JSON after 0 entries (lexical error"),
    ("1e400 overflows", b"[" + GOOD + b"," + GOOD + b',{"image_id": %d, "category_id": 1, '
     b'"score": 1e400, "bbox": [0, 0, 1, 1]}]' % IMAGE["id"], "bbox",
     "results: not valid JSON after 2 entries (parse error: numeric (floating point) overflow"),
    ("1e308 box area", b"[" + GOOD + b"," + entry(bbox=[0, 0, 1e308, 1e308]) + b"]", "bbox",
     "results[1]: bbox w x h overflows, got [0, 0, 1e+308, 1e+308]"),
    ("1e308 polygon", b"[" + entry(segmentation=[[0, 0, 1e308, 0, 5, 5]]) + b"]", "segm",
     "results[0]: polygon coordinates must be finite and within 4 image sizes of the image "
     "(427x640)"),
    ("1e308 box drawn as a mask", b"[" + entry(bbox=[1e308, 0, 5, 5]) + b"]", "segm",
     "results[0]: polygon coordinates must be finite"),
    ("10^6 vertices", b"[" + GOOD + b',{"image_id": %d, "category_id": 1, "score": 1, '
     b'"bbox": [0, 0, 1, 1], "segmentation": [[' % IMAGE["id"] + b"123.5, 67.25, " * VERTICES
     + b"1, 1]]}]", "segm",
     "results[1]: one entry is larger than 8 MiB (a polygon with too many vertices?)"),
    ("cut short", b"[" + (GOOD + b",") * 3 + GOOD[:20], "bbox",
     "results: not valid JSON after 3 entries"),
    ("an object, not a list", b'{"annotations": []}', "bbox",
     "results: expected a JSON array of detections"),
    ("a bool for a category", b"[" + entry(category_id=True) + b"]", "bbox",
     "results[0]: category_id True is not in the ground truth"),
    ("a box with negative width", b"[" + entry(bbox=[0, 0, -3, 4]) + b"]", "bbox",
     "results[0]: bbox must be [x, y, w, h] with finite values and w, h >= 0"),
]  # fmt: skip


@pytest.fixture
def release(coco_project):  # type: ignore[no-untyped-def]
    return release_create(
        project=coco_project, name="test-dev 2026", ground_truth_json=GT_PATH.read_bytes()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "iou_type", "reason"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_a_hostile_results_file_fails_with_the_entry_named_and_no_score(
    release, annotator, api_client, django_capture_on_commit_callbacks, content, iou_type, reason
):
    api_client.force_authenticate(annotator)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"/api/v1/releases/{release.slug}/submissions/",
            {
                "results": SimpleUploadedFile("hostile.json", content),
                "iou_type": iou_type,
                "method_name": "Hostile",
            },
        )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    shown = api_client.get(f"/api/v1/submissions/{response.json()['id']}/").json()
    assert shown["status"] == "failed" and shown["stats"] is None
    assert shown["error"].startswith(f"hostile.json: {reason}"), shown["error"]


@pytest.mark.django_db
def test_a_refused_upload_leaves_no_stored_file(release, annotator, settings):
    """A refusal in the web request (here the daily limit) stores neither a row nor a file."""
    release.daily_submission_limit = 0
    release.save()
    before = stored_results_files(settings)
    with pytest.raises(Exception, match="today's 0 submissions"):
        submission_create(
            release=release, submitter=annotator, method_name="x", iou_type="bbox",
            results=b"[" + GOOD + b"]", results_file_name="r.json",
        )  # fmt: skip
    assert not Submission.objects.exists()
    assert stored_results_files(settings) == before


def stored_results_files(settings) -> set[str]:  # type: ignore[no-untyped-def]
    folder = Path(settings.MEDIA_ROOT) / "submissions"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def write_large_results(path: Path, megabytes: int) -> int:
    """About `megabytes` MiB of valid box results, then one for an unknown image: the whole
    file is read before it is refused. Returns the position of the bad entry."""
    images = [image["id"] for image in GT["images"]]
    categories = [category["id"] for category in GT["categories"]]
    block = b"".join(
        b'{"image_id": %d, "category_id": %d, "bbox": [%d.25, %d.5, 40.75, 30.5], '
        b'"score": 0.%03d},\n'
        % (images[k % len(images)], categories[k % len(categories)], k % 300, k % 200, k % 1000)
        for k in range(10_000)
    )
    blocks = megabytes * 2**20 // len(block) + 1
    with path.open("wb") as out:
        out.write(b"[")
        for _ in range(blocks):
            out.write(block)
        out.write(b'{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]')
    return blocks * 10_000


# json.load of this 100 MiB file alone takes over 1 GB (the evaluation server parsed a 202 MB
# file inside the web request in 1.6 GB). Streamed, the arrays of its 1.15 million
# detections take about 75 MB on top of Python, NumPy and pycocotools (about 60 MB).
PEAK_RSS_LIMIT_MB = 300


def test_the_evaluator_reads_a_100_mb_results_file_in_bounded_memory(tmp_path):
    """The worker-side parser (the same function the Celery task runs) in a real process:
    a 100 MiB results file whose last entry is bad is read to its end and refused with
    the entry named, and the process's peak RSS stays under PEAK_RSS_LIMIT_MB."""
    results = tmp_path / "results.json"
    bad_position = write_large_results(results, 100)
    assert results.stat().st_size > 100 * 2**20
    peak_file = tmp_path / "peak_kb"
    finished = subprocess.run(
        [sys.executable, "-c", REPORTING_PEAK_RSS, "pipelines.coco.evaluate",
         "--gt", str(GT_PATH), "--dt", str(results)],
        cwd=ROOT, env={**os.environ, "PEAK_RSS_FILE": str(peak_file)},
        capture_output=True, timeout=180,
    )  # fmt: skip
    peak_mb = int(peak_file.read_text()) / 1024
    print(f"\npeak RSS of the evaluator on a 100 MiB results file: {peak_mb:.0f} MB")
    assert finished.returncode == 2, finished.stderr.decode()[-2000:]
    assert finished.stderr.decode().strip() == (
        f"error: results[{bad_position}]: image_id 1 is not in the ground truth"
    )
    assert peak_mb < PEAK_RSS_LIMIT_MB


# Runs a module as `python -m` does and, at exit, writes the process's peak RSS (VmHWM, in
# kB) to $PEAK_RSS_FILE. VmHWM belongs to the memory the process got at exec: getrusage's
# ru_maxrss would also count the pages of the test process it was forked from.
REPORTING_PEAK_RSS = """
import atexit, os, runpy, sys

def report():
    with open("/proc/self/status") as status:
        peak = next(line for line in status if line.startswith("VmHWM:")).split()[1]
    with open(os.environ["PEAK_RSS_FILE"], "w") as out:
        out.write(peak)

atexit.register(report)
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@pytest.mark.django_db
def test_a_coco_file_over_the_import_limit_is_refused_by_its_size(tmp_path):
    big = tmp_path / "instances.json"
    big.write_bytes(GT_PATH.read_bytes())
    refused = pytest.raises(CommandError, match=r"is \d+ bytes, more than MAX_COCO_IMPORT_BYTES")
    with override_settings(MAX_COCO_IMPORT_BYTES=1000), refused:
        call_command("import_coco", str(big), "--project", "Too big")
    assert not Project.objects.filter(name="Too big").exists()
