"""The evaluation server (COCO's plan for test-dev): a release holds hidden test ground
truth; researchers upload results and get pycocotools' numbers on a leaderboard.

The hidden ground truth leaves this module only as scores. Error messages about a results
file name the offending entry and public facts of the test set (image ids and sizes,
category ids), never an annotation.
"""

from __future__ import annotations

import gzip
import json

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from annotation.errors import DomainError
from annotation.models import Project
from annotation.models.evaluation import Release, Submission
from pipelines.coco.cocoeval import (
    IOU_TYPES,
    ResultsFormatError,
    category_table,
    evaluate,
    load_ground_truth,
    load_results,
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


def _hidden_ground_truth(release: Release):  # type: ignore[no-untyped-def]
    return load_ground_truth(json.loads(gzip.decompress(bytes(release.hidden_ground_truth_gz))))


def submissions_today(*, release: Release, submitter: User) -> int:
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Submission.objects.filter(release=release, submitter=submitter, created_at__gte=since)
        .exclude(status=Submission.Status.FAILED)
        .count()
    )


def submission_create(
    *,
    release: Release,
    submitter: User,
    method_name: str,
    iou_type: str,
    results_json: bytes,
    results_file_name: str,
) -> Submission:
    """Check a results file against the hidden test set and queue its evaluation. A file
    that cannot be scored is refused with the entry named, and nothing is stored."""
    if not release.accepting_submissions:
        raise DomainError(f"release {release.name!r} no longer accepts submissions")
    if iou_type not in release.iou_types:
        raise DomainError(f"this release evaluates {release.iou_types}, not {iou_type!r}")
    method_name = method_name.strip()
    if not method_name:
        raise DomainError("name your method: it is shown on the leaderboard")
    if len(results_json) > MAX_RESULTS_BYTES:
        raise DomainError(f"results file larger than {MAX_RESULTS_BYTES // 2**20} MiB")
    if submissions_today(release=release, submitter=submitter) >= release.daily_submission_limit:
        raise DomainError(
            f"you have used today's {release.daily_submission_limit} submissions to "
            f"{release.name!r}; try again after midnight UTC"
        )
    results = _json_from(results_json, results_file_name)
    try:
        detections = load_results(_hidden_ground_truth(release), results, iou_type)
    except ResultsFormatError as error:
        raise DomainError(f"{results_file_name}: {error}") from None
    with transaction.atomic():
        submission = Submission.objects.create(
            release=release,
            submitter=submitter,
            method_name=method_name[:200],
            iou_type=iou_type,
            results_file_name=results_file_name[:300],
            results_gz=gzip.compress(results_json),
            detection_count=len(detections.score),
        )
        transaction.on_commit(lambda: _evaluate_after_commit(submission.id))
    return submission


def _evaluate_after_commit(submission_id: int) -> None:
    from pipelines.tasks import evaluate_submission

    evaluate_submission.delay(submission_id)


def submission_evaluate(*, submission_id: int) -> Submission:
    """Score a pending submission (Celery). Running it twice scores it once."""
    submission = Submission.objects.select_related("release").get(id=submission_id)
    if submission.status != Submission.Status.PENDING:
        return submission
    try:
        ground_truth = _hidden_ground_truth(submission.release)
        results = json.loads(gzip.decompress(bytes(submission.results_gz)))
        result = evaluate(
            ground_truth,
            load_results(ground_truth, results, submission.iou_type),
            submission.iou_type,
        )
    except (ResultsFormatError, ValueError, MemoryError) as error:
        # Only a results-side reason: the same checks passed at upload, so this is rare.
        submission.status = Submission.Status.FAILED
        submission.error = f"could not be scored: {type(error).__name__}"
    else:
        submission.status = Submission.Status.DONE
        submission.stats = [float(value) for value in result.stats]
        submission.per_category_ap = [
            {"category_id": row["category_id"], "name": row["name"], "ap": row["AP"]}
            for row in category_table(result)
        ]
    submission.finished_at = timezone.now()
    submission.save(update_fields=["status", "stats", "per_category_ap", "error", "finished_at"])
    return submission


def leaderboard(*, release: Release, iou_type: str) -> QuerySet[Submission]:
    """Scored submissions, best AP first (ties: earlier first)."""
    return (
        Submission.objects.filter(release=release, iou_type=iou_type, status=Submission.Status.DONE)
        .select_related("submitter")
        .order_by("-stats__0", "created_at")
    )
