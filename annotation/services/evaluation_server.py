"""The evaluation server (COCO's plan for test-dev): a release holds hidden test ground
truth; researchers upload results and get pycocotools' numbers on a leaderboard.

The hidden ground truth leaves this module only as scores. Error messages about a results
file name the offending entry and public facts of the test set (image ids and sizes,
category ids), never an annotation.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import uuid
from datetime import datetime
from typing import IO, Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from annotation import events
from annotation.errors import BodyTooLarge, DomainError, LimitReached
from annotation.models import Project
from annotation.models.evaluation import Release, Submission
from pipelines.coco.cocoeval import (
    IOU_TYPES,
    GroundTruth,
    ResultsFormatError,
    evaluate,
    load_ground_truth,
    load_results_file,
)

MAX_RESULTS_BYTES = 512 * 1024 * 1024


def _json_from(data: bytes, what: str) -> object:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DomainError(f"{what} is not valid JSON: {error}") from None


@transaction.atomic
def release_create(
    *,
    project: Project,
    name: str,
    ground_truth_json: bytes,
    iou_types: list[str] | None = None,
    description: str = "",
) -> Release:
    """Publish a release whose test ground truth stays hidden."""
    iou_types = iou_types or ["bbox", "segm"]
    unknown = sorted(set(iou_types) - set(IOU_TYPES))
    if unknown:
        raise DomainError(f"iou types must be among {list(IOU_TYPES)}, not {unknown}")
    slug = slugify(name)
    if not slug:
        raise DomainError(f"cannot make a URL name from {name!r}")
    if Release.objects.filter(slug=slug).exists():
        raise DomainError(f"a release named {name!r} already exists")
    dataset = _json_from(ground_truth_json, "the ground truth")
    try:
        ground_truth = load_ground_truth(dataset)  # type: ignore[arg-type]
    except (ResultsFormatError, KeyError, TypeError, ValueError) as error:
        raise DomainError(f"the ground truth is not a COCO annotation file: {error}") from None
    return Release.objects.create(
        project=project,
        name=name,
        slug=slug,
        description=description,
        iou_types=iou_types,
        hidden_ground_truth_gz=gzip.compress(ground_truth_json),
        image_count=len(ground_truth.image_ids),
        category_count=len(ground_truth.category_ids),
    )


def releases() -> QuerySet[Release]:
    """Releases without their hidden ground truth blob, for pages and the API."""
    return Release.objects.defer("hidden_ground_truth_gz")


@functools.lru_cache(maxsize=2)
def _ground_truth_of(release_id: int, created_at: datetime) -> GroundTruth:
    """The parsed hidden ground truth of a release, kept for the last two releases used: a
    submission is checked at upload and scored after it, and gunzipping and parsing a test
    set costs seconds. The key has the creation time, so a reused id is never mistaken for
    an earlier release; the blob itself is read only here. Treat the result as read-only."""
    blob = Release.objects.values_list("hidden_ground_truth_gz", flat=True).get(pk=release_id)
    return load_ground_truth(json.loads(gzip.decompress(bytes(blob))))


def _hidden_ground_truth(release: Release) -> GroundTruth:
    return _ground_truth_of(release.pk, release.created_at)


def results_body_checked(content_length: str | None) -> None:
    """Refuse a results upload by the request's declared length, before a byte of it is
    received (Django reads a body only up to its Content-Length)."""
    declared = content_length or "0"
    if declared.isdigit() and int(declared) > MAX_RESULTS_BYTES + 2**20:
        raise BodyTooLarge(
            f"the upload is {int(declared)} bytes; a results file may be at most "
            f"{MAX_RESULTS_BYTES // 2**20} MiB"
        )


def results_upload_checked(upload: File) -> File:
    """An uploaded results file, refused by its size before it is read."""
    if upload.size is not None and upload.size > MAX_RESULTS_BYTES:
        raise DomainError(_too_large())
    return upload


def _too_large() -> str:
    return f"results file larger than {MAX_RESULTS_BYTES // 2**20} MiB"


def submissions_today(*, release: Release, submitter: User) -> int:
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Submission.objects.filter(release=release, submitter=submitter, created_at__gte=since)
        .exclude(status=Submission.Status.FAILED)
        .count()
    )


def _refuse_past_daily_limit(*, release: Release, submitter: User) -> None:
    if submissions_today(release=release, submitter=submitter) >= release.daily_submission_limit:
        raise LimitReached(
            f"you have used today's {release.daily_submission_limit} submissions to "
            f"{release.name!r}; try again after midnight UTC"
        )


def submission_create(
    *,
    release: Release,
    submitter: User,
    method_name: str,
    iou_type: str,
    results: File | bytes,
    results_file_name: str,
) -> Submission:
    """Store a results file and queue its checking and scoring; the submission is pending.

    The file is copied to media storage in chunks (never held in memory) and parsed by the
    Celery task (submission_evaluate): a file that cannot be scored ends as a failed
    submission whose error names the entry. A refusal here stores nothing."""
    if not release.accepting_submissions:
        raise DomainError(f"release {release.name!r} no longer accepts submissions")
    if iou_type not in release.iou_types:
        raise DomainError(f"this release evaluates {release.iou_types}, not {iou_type!r}")
    method_name = method_name.strip()
    if not method_name:
        raise DomainError("name your method: it is shown on the leaderboard")
    upload = results_upload_checked(ContentFile(results) if isinstance(results, bytes) else results)
    if not upload.size:
        raise DomainError(f"{results_file_name} is empty")
    _refuse_past_daily_limit(release=release, submitter=submitter)  # early, before storing
    upload.seek(0)
    # A random name: a results file is its submitter's until it is scored.
    stored = default_storage.save(f"submissions/{uuid.uuid4().hex}.json", upload)
    try:
        with transaction.atomic():
            # The limit holds under races: the submitter's row is locked, so their concurrent
            # uploads count and insert one at a time (each count sees the rows committed
            # before it). Without the lock, 10-30 simultaneous uploads let 5-7 through a
            # limit of 5.
            User.objects.select_for_update().filter(pk=submitter.pk).first()
            _refuse_past_daily_limit(release=release, submitter=submitter)
            submission = Submission.objects.create(
                release=release,
                submitter=submitter,
                method_name=method_name[:200],
                iou_type=iou_type,
                results_file_name=results_file_name[:300],
                results_file=stored,
            )
            events.send_on_commit(events.submission_ready, submission_id=submission.id)
    except BaseException:
        default_storage.delete(stored)  # nothing half-written: no row, no file
        raise
    return submission


def _results_stream(submission: Submission) -> IO[bytes]:
    if submission.results_file.name:
        return submission.results_file.storage.open(submission.results_file.name, "rb")
    return io.BytesIO(gzip.decompress(bytes(submission.results_gz)))  # uploaded before 0014


def submission_evaluate(*, submission_id: int) -> Submission:
    """Check and score a pending submission (Celery). The results file is parsed as it
    streams (pipelines.coco.cocoeval.load_results_file): memory grows with the number of
    detections, not with the file. Running it twice, or twice at once, records one outcome."""
    submission = Submission.objects.select_related("release").get(id=submission_id)
    if submission.status != Submission.Status.PENDING:
        return submission
    detection_count = 0
    outcome: dict[str, Any]
    try:
        ground_truth = _hidden_ground_truth(submission.release)
        with _results_stream(submission) as stream:
            detections = load_results_file(ground_truth, stream, submission.iou_type)
        detection_count = len(detections.score)
        result = evaluate(ground_truth, detections, submission.iou_type)
    except ResultsFormatError as error:
        outcome = {
            "status": Submission.Status.FAILED,
            "error": f"{submission.results_file_name}: {error}",
        }
    except FileNotFoundError:
        outcome = {
            "status": Submission.Status.FAILED,
            "error": "the uploaded file is no longer in storage; upload it again",
        }
    except (ValueError, MemoryError) as error:
        outcome = {
            "status": Submission.Status.FAILED,
            "error": f"could not be scored: {type(error).__name__}",
        }
    else:
        outcome = {
            "status": Submission.Status.DONE,
            "stats": [float(value) for value in result.stats],
            "per_category_ap": [
                {
                    "category_id": category_id,
                    "name": result.category_names.get(category_id, str(category_id)),
                    "ap": ap,
                }
                for category_id, ap in result.per_category_ap().items()
            ],
        }
    # Only a still-pending row is written: a duplicate run (a redelivered message, the
    # sweep's requeue) that finishes second changes nothing.
    Submission.objects.filter(id=submission_id, status=Submission.Status.PENDING).update(
        detection_count=detection_count, finished_at=timezone.now(), **outcome
    )
    submission.refresh_from_db()
    return submission


def leaderboard(*, release: Release, iou_type: str) -> QuerySet[Submission]:
    """Scored submissions, best AP first (ties: earlier first). The rows carry their release
    and submitter (one query) but neither blob: results files and the hidden ground truth."""
    return (
        Submission.objects.filter(release=release, iou_type=iou_type, status=Submission.Status.DONE)
        .select_related("release", "submitter")
        .defer("results_gz", "release__hidden_ground_truth_gz")
        .order_by("-stats__0", "created_at")
    )
