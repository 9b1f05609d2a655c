"""Per-category qualification for segmentation (thesis §2.4.3): before outlining a category,
a worker outlines an instance whose expert ground truth is known and passes when the mask
IoU reaches the project's threshold (`segmentation_qualification_iou`, 0.8 by default;
COCO: about 1 in 3 workers passed). Each try gets feedback: their outline against the
reference. Experts author the references in the same editor.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from annotation import geometry
from annotation.errors import DomainError, NotFound
from annotation.models import Category, Image, Project, Stage, Task
from annotation.models.labeling import Spot
from annotation.models.projects import project_setting
from annotation.models.segmentation import Qualification, ReferenceMask, TrainingAttempt
from annotation.services.people import is_expert

QUALIFICATION_IOU = 0.8


class NotAnExpert(DomainError):
    status_code = 403
    code = "not_an_expert"


def qualification_threshold(project: Project) -> float:
    return project_setting(project, "segmentation_qualification_iou", QUALIFICATION_IOU)


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
        Category.objects.filter(taxonomy=project.taxonomy, reference_masks__active=True)
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


def training_reference_next(*, worker: User, category: Category) -> ReferenceMask:
    """The reference this worker has tried least (so a retry shows another instance when
    there is one)."""
    references = (
        ReferenceMask.objects.filter(category=category, active=True)
        .select_related("image")
        .annotate(
            mine=Count("attempts", filter=Q(attempts__qualification__worker=worker)),
        )
        .order_by("mine", "id")
    )
    reference = references.first()
    if reference is None:
        raise NotFound(f"there is no training outline for {category.name} yet: ask an expert")
    return reference


@transaction.atomic
def training_attempt_submit(*, worker: User, reference_id: int, polygons: Any) -> dict:
    """Score one try against the reference. Returns the feedback: IoU, threshold, whether it
    passed, and both outlines (theirs as normalised, the reference) for drawing."""
    reference = (
        ReferenceMask.objects.select_related("image__project", "category")
        .filter(id=reference_id, active=True)
        .first()
    )
    if reference is None:
        raise NotFound(f"training outline {reference_id} does not exist")
    image = reference.image
    outline = geometry.normalise_polygons(polygons, width=image.width, height=image.height)
    iou = geometry.mask_iou(
        outline.polygons, reference.polygons, height=image.height, width=image.width
    )
    threshold = qualification_threshold(image.project)
    passed = iou >= threshold
    Qualification.objects.get_or_create(worker=worker, category=reference.category)
    qualification = Qualification.objects.select_for_update().get(
        worker=worker, category=reference.category
    )
    qualification.tries += 1
    qualification.best_iou = max(qualification.best_iou, iou)
    if passed and not qualification.passed:
        qualification.passed = True
        qualification.passed_at = timezone.now()
    qualification.save()
    TrainingAttempt.objects.create(
        qualification=qualification,
        reference=reference,
        polygons=outline.polygons,
        iou=iou,
        threshold=threshold,
        passed=passed,
    )
    return {
        "passed": passed,
        "qualified": qualification.passed,
        "iou": round(iou, 4),
        "threshold": threshold,
        "tries": qualification.tries,
        "category": reference.category.name,
        "yours": outline.polygons,
        "reference": reference.polygons,
    }


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
            attempts_made=Count("attempts"),
        )
        .order_by("category__coco_id")
    )
    return [
        {
            "category_id": row["category__coco_id"],
            "category": row["category__name"],
            "workers": row["workers"],
            "passed": row["passed"],
            "pass_rate": row["passed"] / row["workers"] if row["workers"] else None,
            "attempts": row["attempts_made"],
        }
        for row in rows
    ]


def references_for(*, project: Project) -> QuerySet[ReferenceMask]:
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
