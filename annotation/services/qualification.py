"""Per-category qualification for segmentation (thesis §2.4.3): before outlining a category,
a worker outlines an instance whose ground truth is known and passes when the mask IoU reaches
the project's threshold (`segmentation_qualification_iou`, 0.8 by default; COCO: about 1 in 3
workers passed).

A qualification must test skill, not patience (issue 13, attack 2):
- Several references per category: experts' outlines, plus accepted masks that every
  verifier judged good once a category has `qualification_accepted_references_min` of them.
- A worker gets each reference at most once (a TrainingAttempt row is made when it is handed
  out; one per worker and reference, a database constraint) and may only submit for a
  reference handed to them. A trainee never segments the (image, category) of a reference
  they trained on (annotation/stages/segmentation.py, `eligible_segmentation_tasks`).
- Feedback teaches without giving the answer: the IoU, the areas missed and added (px and
  shares) and a coarse picture of where they lie; never the reference's vertices.
- At most `qualification_max_failed_tries` failed tries per `qualification_cooldown_minutes`;
  then the worker waits.
"""

from __future__ import annotations

import io
import math
import random
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageDraw
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone
from pycocotools import mask as coco_mask

from annotation import events, geometry
from annotation.errors import DomainError, NotFound, WrongState
from annotation.models import Category, Image, Project, Stage, Task
from annotation.models.labeling import Spot
from annotation.models.projects import project_setting
from annotation.models.segmentation import (
    Qualification,
    ReferenceMask,
    Segmentation,
    TrainingAttempt,
)
from annotation.services.cell_pictures import OUTLINE, photo_rgb
from annotation.services.people import is_expert

QUALIFICATION_IOU = 0.8
MAX_FAILED_TRIES = 3  # failed tries allowed within one cool-down window ...
COOLDOWN_MINUTES = 24 * 60  # ... after which the worker waits this long
ACCEPTED_REFERENCES_MIN = 5  # accepted masks become references once a category has this many
REFERENCE_MIN_GOOD_VOTES = 3  # ... each with at least this many good votes and no poor one
FEEDBACK_PX = 240  # the feedback picture fits in about this many pixels
FEEDBACK_BLOCKS = 12  # missed and added areas shown on a coarse grid of this many blocks


class NotAnExpert(DomainError):
    status_code = 403
    code = "not_an_expert"


class TrainingCoolDown(DomainError):
    status_code = 429
    code = "training_cooldown"


class NotHandedOut(WrongState):
    code = "training_not_handed_out"


def qualification_threshold(project: Project) -> float:
    return project_setting(project, "segmentation_qualification_iou", QUALIFICATION_IOU)


def _limits(project: Project) -> tuple[int, timedelta]:
    tries = project_setting(project, "qualification_max_failed_tries", MAX_FAILED_TRIES)
    minutes = project_setting(project, "qualification_cooldown_minutes", COOLDOWN_MINUTES)
    return max(1, tries), timedelta(minutes=max(0, minutes))


def is_qualified(*, worker: User, category: Category) -> bool:
    return (
        is_expert(worker)
        or Qualification.objects.filter(worker=worker, category=category, passed=True).exists()
    )


# References ---------------------------------------------------------------------------------


@transaction.atomic
def reference_create(
    *,
    author: User,
    image: Image,
    category: Category,
    polygons: Any,
    spot_x: float | None = None,
    spot_y: float | None = None,
) -> ReferenceMask:
    """An expert's ground-truth outline; the trainee is shown the spot (the outline's centre
    when none is given)."""
    if not is_expert(author):
        raise NotAnExpert("only experts author reference outlines")
    if category.taxonomy_id != image.project.taxonomy.id:
        raise DomainError(f"{category.name} is not a category of this image's project")
    outline = geometry.normalise_polygons(polygons, width=image.width, height=image.height)
    if spot_x is None or spot_y is None:
        x, y, w, h = outline.bbox_xywh
        spot_x, spot_y = x + w / 2, y + h / 2
    assert spot_x is not None and spot_y is not None
    return ReferenceMask.objects.create(
        image=image,
        category=category,
        author=author,
        spot_x=float(spot_x),
        spot_y=float(spot_y),
        polygons=outline.polygons,
        area=outline.area,
        bbox_xywh=outline.bbox_xywh,
    )


def reference_from_accepted(
    *, segmentation: Segmentation, good_votes: int, bad_votes: int
) -> ReferenceMask | None:
    """An accepted mask every verifier judged good (at least `qualification_reference_min_good`
    good votes, none poor) becomes a training reference, shown at its instance's spot. Safe
    to call twice. Called by verification when it accepts a mask."""
    project = segmentation.image.project
    minimum = project_setting(project, "qualification_reference_min_good", REFERENCE_MIN_GOOD_VOTES)
    if bad_votes or good_votes < minimum:
        return None
    instance = segmentation.instance
    spot_x, spot_y = instance.spot_x, instance.spot_y
    if spot_x is None or spot_y is None:  # a spot inside the outline shows which object
        point = geometry.OutlineShape(segmentation.polygons).rings[0].representative_point()
        spot_x, spot_y = float(point.x), float(point.y)
    reference, _ = ReferenceMask.objects.get_or_create(
        source_segmentation=segmentation,
        defaults={
            "image": segmentation.image,
            "category": segmentation.category,
            "author": None,
            "source": ReferenceMask.Source.ACCEPTED,
            "spot_x": spot_x,
            "spot_y": spot_y,
            "polygons": segmentation.polygons,
            "area": segmentation.area,
            "bbox_xywh": segmentation.bbox_xywh,
        },
    )
    return reference


def references_retire_discarded(*, segmentation_ids: list[int]) -> int:
    """Masks discarded after all (their author was blocked) stop being references."""
    return ReferenceMask.objects.filter(
        source_segmentation_id__in=segmentation_ids, active=True
    ).update(active=False)


# Training ------------------------------------------------------------------------------------


def training_categories(*, worker: User, project: Project) -> list[dict]:
    """Categories of the project that have references, with the worker's standing and whether
    segmentation work is waiting there."""
    waiting = set(
        Task.objects.filter(
            project=project, stage=Stage.SEGMENTATION, status=Task.Status.OPEN
        ).values_list("category_id", flat=True)
    )
    standing = {q.category_id: q for q in Qualification.objects.filter(worker=worker)}
    categories = (
        Category.objects.filter(
            taxonomy=project.taxonomy,
            reference_masks__active=True,
            reference_masks__image__project=project,
        )
        .distinct()
        .order_by("coco_id")
    )
    expert = is_expert(worker)  # once, not per category
    rows = []
    for category in categories:
        mine = standing.get(category.id)
        rows.append(
            {
                "id": category.coco_id,
                "name": category.name,
                "qualified": bool(mine and mine.passed) or expert,
                "tries": mine.tries if mine else 0,
                "work_waiting": category.id in waiting,
            }
        )
    return rows


def _usable_references(*, worker: User, category: Category, project: Project) -> QuerySet:
    """References of the category in the project this worker has never been handed, not of
    their own masks; accepted masks count once the category has enough of them."""
    references = ReferenceMask.objects.filter(
        category=category, image__project=project, active=True
    )
    accepted = references.filter(source=ReferenceMask.Source.ACCEPTED)
    minimum = project_setting(
        project, "qualification_accepted_references_min", ACCEPTED_REFERENCES_MIN
    )
    if accepted.count() < minimum:
        references = references.exclude(source=ReferenceMask.Source.ACCEPTED)
    # An accepted mask is readable by whoever holds a segmentation lease on its pair, so it
    # trains nobody while that pair still has open segmentation work.
    open_pair = Task.objects.filter(
        stage=Stage.SEGMENTATION,
        status=Task.Status.OPEN,
        image_id=OuterRef("image_id"),
        category_id=OuterRef("category_id"),
    )
    references = references.exclude(Q(source=ReferenceMask.Source.ACCEPTED) & Exists(open_pair))
    handed = TrainingAttempt.objects.filter(
        qualification__worker=worker, reference_id=OuterRef("pk")
    )
    return (
        references.exclude(Exists(handed))
        .exclude(source_segmentation__worker=worker)
        .select_related("image")
    )


def _cooldown_until(
    qualification: Qualification, project: Project, now: datetime
) -> datetime | None:
    """When the worker may try again, or None when they may now: at most
    `qualification_max_failed_tries` failed tries within one cool-down window."""
    tries, window = _limits(project)
    failed = list(
        qualification.attempts.filter(passed=False, submitted_at__gt=now - window)
        .order_by("-submitted_at")
        .values_list("submitted_at", flat=True)[:tries]
    )
    if len(failed) < tries or failed[-1] is None:
        return None
    # The oldest of the last `tries` failures leaves the window first.
    return failed[-1] + window


def _failed_tries_left(qualification: Qualification, project: Project, now: datetime) -> int:
    tries, window = _limits(project)
    failed = qualification.attempts.filter(passed=False, submitted_at__gt=now - window).count()
    return max(0, tries - failed)


def training_reference_next(*, worker: User, category: Category, project: Project) -> ReferenceMask:
    """Hand the worker a training instance: the one handed out and not yet tried, else a
    reference they have never been handed (chosen at random among the least used). Refused
    during a cool-down; NotFound when no new reference is left for them."""
    now = timezone.now()
    with transaction.atomic():
        Qualification.objects.get_or_create(worker=worker, category=category)
        # The worker's row is the lock: two tabs cannot be handed two references at once.
        mine = Qualification.objects.select_for_update().get(worker=worker, category=category)
        waiting = (
            mine.attempts.filter(submitted_at__isnull=True, reference__active=True)
            .select_related("reference__image")
            .first()
        )
        if waiting is not None:
            return waiting.reference
        until = _cooldown_until(mine, project, now)
        if until is not None:
            raise TrainingCoolDown(
                f"too many failed tries on {category.name}: training opens again at "
                f"{timezone.localtime(until):%Y-%m-%d %H:%M %Z}"
            )
        candidates = list(
            _usable_references(worker=worker, category=category, project=project)
            .annotate(used=Count("attempts"))
            .order_by("used", "id")[:20]
        )
        if not candidates:
            if not ReferenceMask.objects.filter(category=category, active=True).exists():
                raise NotFound(
                    f"there is no training outline for {category.name} yet: ask an expert"
                )
            raise NotFound(
                f"you have tried every training outline of {category.name}: an expert must "
                "add more before you can train again"
            )
        least = candidates[0].used  # type: ignore[attr-defined]
        fewest = [c for c in candidates if c.used == least]  # type: ignore[attr-defined]
        # At random, so a trainee cannot tell which outline comes next; the crowd simulator's
        # own site asks for the first instead, so that one seed gives one report.
        if settings.QUALIFICATION_REFERENCE_CHOICE == "first":
            reference = fewest[0]
        else:
            reference = random.SystemRandom().choice(fewest)
        TrainingAttempt.objects.create(qualification=mine, reference=reference)
        return reference


def _masks(polygons: Any, height: int, width: int) -> np.ndarray:
    rle = geometry.polygons_to_rle(polygons, height=height, width=width)
    return np.asarray(coco_mask.decode(rle), dtype=bool)


@transaction.atomic
def training_attempt_submit(*, worker: User, reference_id: int, polygons: Any) -> dict:
    """Score the worker's try at a reference handed to them (once). Returns the feedback: IoU,
    threshold, whether it passed, the areas missed and added, their outline, and how many
    failed tries are left before a cool-down; never the reference's outline."""
    reference = (
        ReferenceMask.objects.select_related("image__project", "category")
        .filter(id=reference_id)
        .first()
    )
    if reference is None:
        raise NotFound(f"training outline {reference_id} does not exist")
    image = reference.image
    outline = geometry.normalise_polygons(polygons, width=image.width, height=image.height)
    qualification = (
        Qualification.objects.select_for_update()
        .filter(worker=worker, category=reference.category)
        .first()
    )
    attempt = qualification.attempts.filter(reference=reference).first() if qualification else None
    if qualification is None or attempt is None:
        raise NotHandedOut(
            f"training outline {reference_id} was not handed to you: ask for the next one"
        )
    if attempt.submitted_at is not None:
        raise NotHandedOut(
            f"you already tried training outline {reference_id}: ask for the next one"
        )
    theirs = _masks(outline.polygons, image.height, image.width)
    truth = _masks(reference.polygons, image.height, image.width)
    overlap = int(np.count_nonzero(theirs & truth))
    union = int(np.count_nonzero(theirs | truth))
    iou = overlap / union if union else 0.0
    missed = int(np.count_nonzero(truth)) - overlap
    added = int(np.count_nonzero(theirs)) - overlap
    threshold = qualification_threshold(image.project)
    passed = iou >= threshold
    now = timezone.now()
    qualification.tries += 1
    qualification.best_iou = max(qualification.best_iou, iou)
    if passed and not qualification.passed:
        qualification.passed = True
        qualification.passed_at = now
        # MTurk learns of it after the commit (a worker from MTurk gets the qualification).
        events.send_on_commit(
            events.qualification_passed, worker_id=worker.pk, category_id=reference.category_id
        )
    qualification.save()
    attempt.polygons = outline.polygons
    attempt.iou, attempt.threshold, attempt.passed = iou, threshold, passed
    attempt.missed_area, attempt.added_area = float(missed), float(added)
    attempt.submitted_at = now
    attempt.save()
    until = _cooldown_until(qualification, image.project, now)
    truth_area = missed + overlap
    theirs_area = added + overlap
    return {
        "attempt": attempt.id,
        "passed": passed,
        "qualified": qualification.passed,
        "iou": round(iou, 4),
        "threshold": threshold,
        "tries": qualification.tries,
        "category": reference.category.name,
        "yours": outline.polygons,
        # Areas, never vertices: how much of the object was left out, how much of the outline
        # lies off it, and a coarse picture of where (feedback_picture_png).
        "missed_area": missed,
        "added_area": added,
        "missed_share": round(missed / truth_area, 3) if truth_area else 0.0,
        "added_share": round(added / theirs_area, 3) if theirs_area else 0.0,
        "failed_tries_left": _failed_tries_left(qualification, image.project, now),
        "cooldown_until": until.isoformat() if until else None,
    }


def feedback_picture_png(*, attempt_id: int, worker: User) -> bytes:
    """The photo around the worker's outline with their outline in yellow and, on a coarse
    grid of blocks, where they missed the object (red) and where their outline spills over
    (blue). Blocks, not the reference's border: it shows where to look, not what to trace."""
    attempt = (
        TrainingAttempt.objects.select_related("reference__image", "qualification")
        .filter(id=attempt_id, submitted_at__isnull=False)
        .first()
    )
    if attempt is None or (attempt.qualification.worker_id != worker.id and not is_expert(worker)):
        raise NotFound(f"training try {attempt_id} does not exist")
    image = attempt.reference.image
    theirs = _masks(attempt.polygons, image.height, image.width)
    truth = _masks(attempt.reference.polygons, image.height, image.width)
    rows, cols = np.nonzero(theirs | truth)
    if rows.size == 0:
        rows, cols = np.array([0, image.height - 1]), np.array([0, image.width - 1])
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    pad = int(max(bottom - top, right - left) * 0.2) + 4
    top, left = max(0, top - pad), max(0, left - pad)
    bottom, right = min(image.height, bottom + pad), min(image.width, right + pad)
    block = max(4, math.ceil(max(bottom - top, right - left) / FEEDBACK_BLOCKS))
    crop = photo_rgb(image).crop((int(left), int(top), int(right), int(bottom))).convert("RGBA")
    overlay = PIL.Image.new("RGBA", crop.size, (0, 0, 0, 0))
    draw = PIL.ImageDraw.Draw(overlay)
    missed, added = truth & ~theirs, theirs & ~truth
    for y in range(int(top), int(bottom), block):
        for x in range(int(left), int(right), block):
            cell = (slice(y, min(y + block, bottom)), slice(x, min(x + block, right)))
            size = missed[cell].size or 1
            box_xyxy = (x - left, y - top, x - left + block - 1, y - top + block - 1)
            if missed[cell].sum() / size > 0.25:
                draw.rectangle(box_xyxy, fill=(230, 40, 40, 120))
            elif added[cell].sum() / size > 0.25:
                draw.rectangle(box_xyxy, fill=(40, 90, 230, 120))
    picture = PIL.Image.alpha_composite(crop, overlay).convert("RGB")
    lines = PIL.ImageDraw.Draw(picture)
    for part in attempt.polygons or []:
        points = [(px - left, py - top) for px, py in zip(part[0::2], part[1::2], strict=True)]
        if len(points) >= 3:
            lines.polygon(points, outline=OUTLINE, width=2)
    scale = min(FEEDBACK_PX / picture.width, FEEDBACK_PX / picture.height, 4.0)
    picture = picture.resize(
        (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
        PIL.Image.Resampling.NEAREST,
    )
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


# Pass rates (admins) ---------------------------------------------------------------------------


def pass_rates(*, project: Project) -> list[dict]:
    """Per category: workers who trained, how many passed, the pass rate and tries per
    worker (COCO: about 1 in 3 passed)."""
    rows = (
        Qualification.objects.filter(category__taxonomy=project.taxonomy, tries__gt=0)
        .values("category__coco_id", "category__name")
        .annotate(
            workers=Count("id", distinct=True),
            passed=Count("id", distinct=True, filter=Q(passed=True)),
            attempts_made=Count("attempts", filter=Q(attempts__submitted_at__isnull=False)),
        )
        .order_by("category__coco_id")
    )
    outlines = dict(
        ReferenceMask.objects.filter(image__project=project, active=True)
        .values_list("category__coco_id")
        .annotate(n=Count("id"))
    )
    return [
        {
            "category_id": row["category__coco_id"],
            "category": row["category__name"],
            "workers": row["workers"],
            "passed": row["passed"],
            "pass_rate": row["passed"] / row["workers"] if row["workers"] else None,
            "attempts": row["attempts_made"],
            "references": outlines.get(row["category__coco_id"], 0),
        }
        for row in rows
    ]


def references_for(*, project: Project, viewer: User) -> QuerySet[ReferenceMask]:
    """The project's active references, for experts and admins only: to anyone else they are
    the answers of the training tasks."""
    if not is_expert(viewer):
        raise NotAnExpert("only experts and admins see the training references")
    return ReferenceMask.objects.filter(image__project=project, active=True).select_related(
        "image", "category"
    )


def reference_candidates(*, limit: int = 200) -> list[dict[str, Any]]:
    """Spotted (image, category) pairs an expert may outline as references, in image order
    (within an image, by first spot), each saying whether a reference exists already."""
    firsts = list(
        Spot.objects.values("image_id", "category_id")
        .annotate(first_spot=Min("id"))
        .order_by("image_id", "first_spot")[:limit]
    )
    images = Image.objects.in_bulk({row["image_id"] for row in firsts})
    categories = Category.objects.in_bulk({row["category_id"] for row in firsts})
    done = set(
        ReferenceMask.objects.filter(image_id__in=images).values_list("image_id", "category_id")
    )
    return [
        {
            "image": images[row["image_id"]],
            "category": categories[row["category_id"]],
            "has_reference": (row["image_id"], row["category_id"]) in done,
        }
        for row in firsts
    ]
