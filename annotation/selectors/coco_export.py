"""What a COCO export reads: the images, annotations, categories and presence labels of one
split, in id order, as values (no model instances, so exports stream at COCO scale).

By default an export holds only images whose annotation is finished (issue 12): a photo that
never went through the pipeline, or is still in it, would be written with its objects
missing, and a model trained on the file would learn them as background. `images_left_out`
finds the others with one query and the export drops their rows while streaming, so the
streamed queries keep their plain plans (joined with the "finished" condition, PostgreSQL chose
a nested loop over every image on freshly loaded tables: minutes instead of seconds).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from annotation.models import (
    Annotation,
    Category,
    CategoryPresence,
    Image,
    Project,
    Stage,
    Task,
)
from annotation.models.segmentation import Segmentation, SegmentationProgress

ALL_SPLITS = None


def split_filter(split: str | None, prefix: str = "") -> Q:
    """The images of one split ("": unassigned) or all (ALL_SPLITS); `prefix` leads from the
    queried model to its image, e.g. "image__"."""
    return Q() if split is ALL_SPLITS else Q(**{f"{prefix}split": split})


def unfinished_filter() -> Q:
    """Images whose annotation is not finished: a task of any stage still open on it, a mask
    waiting for verification, an (image, category) still being segmented, or (for photos
    that did not come with their annotations in a COCO file) no completed labeling task."""
    image = OuterRef("pk")
    open_task = Task.objects.filter(image=image, status=Task.Status.OPEN)
    labeled = Task.objects.filter(image=image, stage=Stage.LABELING, status=Task.Status.COMPLETE)
    pending_mask = Segmentation.objects.filter(image=image, status=Segmentation.Status.PENDING)
    segmenting = SegmentationProgress.objects.filter(
        image=image, state=SegmentationProgress.State.SEGMENTING
    )
    never_labeled = ~Q(source=Image.Source.COCO) & ~Exists(labeled)
    return Exists(open_task) | Exists(pending_mask) | Exists(segmenting) | never_labeled


def images_left_out(*, project: Project, split: str | None) -> QuerySet[Image]:
    """The images of the split that a finished-only export leaves out, by export id."""
    return (
        Image.objects.filter(split_filter(split), project=project)
        .filter(unfinished_filter())
        .order_by("coco_id")
    )


def images_for_export(*, project: Project, split: str | None) -> QuerySet:
    return (
        Image.objects.filter(split_filter(split), project=project)
        .order_by("coco_id")
        .values(
            "coco_id", "file_name", "width", "height", "license_name", "license_url",
            "original_url", "date_taken", "split",
        )
    )  # fmt: skip


def annotations_for_export(*, project: Project, split: str | None) -> QuerySet:
    return (
        Annotation.objects.filter(split_filter(split, "image__"), project=project)
        .order_by("coco_id")
        .values_list(
            "coco_id", "image__coco_id", "category__coco_id", "segmentation", "area",
            "bbox_xywh", "iscrowd",
        )
    )  # fmt: skip


def export_categories(*, project: Project, split: str | None = ALL_SPLITS) -> QuerySet[Category]:
    """The taxonomy's categories that a dataset lists, by id: those of the 2014 release for
    the COCO template (80 of 91, thesis §2.6), every category of a custom taxonomy, and any
    category with annotations (in the given split; the export counts every split)."""
    used = Annotation.objects.filter(split_filter(split, "image__"), project=project).values(
        "category_id"
    )
    return Category.objects.filter(
        Q(in_coco_2014=True) | Q(id__in=used), taxonomy=project.taxonomy
    ).order_by("coco_id")


def categories_for_export(*, project: Project) -> list[dict]:
    categories = export_categories(project=project)
    return [{"supercategory": c.supercategory, "id": c.coco_id, "name": c.name} for c in categories]


def presence_for_export(*, project: Project, split: str | None) -> QuerySet:
    return (
        CategoryPresence.objects.filter(split_filter(split, "image__"), image__project=project)
        .order_by("image__coco_id", "category__coco_id")
        .values_list("image__coco_id", "category__coco_id", "positions")
    )


def image_list_for_export(*, project: Project, split: str) -> QuerySet:
    """(export id, file name) of the images of one split, in id order."""
    return (
        Image.objects.filter(project=project, split=split)
        .order_by("coco_id")
        .values_list("coco_id", "file_name")
    )
