"""Accepted annotations: the one place rows of the exported dataset are created."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from annotation.errors import DomainError
from annotation.models import Category, Image, Project
from annotation.models.annotations import Annotation
from annotation.models.segmentation import Segmentation


@transaction.atomic
def annotation_record(
    *,
    project: Project,
    image: Image,
    category: Category,
    segmentation: list | dict,
    area: float,
    bbox_xywh: list[float],
    origin: str,
    iscrowd: bool = False,
    coco_id: int | None = None,
    source_segmentation: Segmentation | None = None,
) -> Annotation:
    """Record one accepted annotation. Without `coco_id` it gets the project's next id;
    the project row is locked so concurrent acceptances never share an id."""
    if image.project_id != project.id:
        raise DomainError(f"image {image.id} is not in project {project.name!r}")
    if category.taxonomy_id != project.taxonomy_id:
        raise DomainError(f"category {category.name!r} is not in project {project.name!r}")
    if source_segmentation is not None:
        existing = Annotation.objects.filter(source_segmentation=source_segmentation).first()
        if existing is not None:
            return existing  # accepting the same segmentation twice records it once
    locked = Project.objects.select_for_update().get(id=project.id)
    if coco_id is None:
        # A counter, not max(existing) + 1: a discarded annotation's id is never given again.
        coco_id = locked.annotation_ids_given + 1
    elif coco_id < 1:
        raise DomainError(f"annotation ids start at 1, not {coco_id}")
    elif Annotation.objects.filter(project=project, coco_id=coco_id).exists():
        raise DomainError(f"annotation id {coco_id} is already used in project {project.name!r}")
    if coco_id > locked.annotation_ids_given:
        Project.objects.filter(id=project.id).update(annotation_ids_given=coco_id)
    return Annotation.objects.create(
        project=project,
        coco_id=coco_id,
        image=image,
        category=category,
        iscrowd=iscrowd,
        segmentation=segmentation,
        area=area,
        bbox_xywh=bbox_xywh,
        origin=origin,
        source_segmentation=source_segmentation,
    )


@dataclass
class AnnotationRow:
    """One annotation for annotations_record_bulk (annotation_record's arguments)."""

    image: Image
    category: Category
    segmentation: list | dict
    area: float
    bbox_xywh: list[float]
    origin: str
    iscrowd: bool = False
    coco_id: int | None = None


class AnnotationRowRefused(DomainError):
    """annotation_record's refusal of one row of a bulk call; `index` is its position."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index


BULK_BATCH = 2000


@transaction.atomic
def annotations_record_bulk(*, project: Project, rows: list[AnnotationRow]) -> list[Annotation]:
    """Record many accepted annotations with annotation_record's rules, in a few queries:
    every row is checked first (the first refused row in order is named, nothing is stored),
    then all are inserted at once and the project's id counter is raised once."""
    locked = Project.objects.select_for_update().get(id=project.id)
    wanted = {row.coco_id for row in rows if row.coco_id is not None}
    taken = set(
        Annotation.objects.filter(project=project, coco_id__in=wanted).values_list(
            "coco_id", flat=True
        )
    )
    given = locked.annotation_ids_given
    annotations = []
    for index, row in enumerate(rows):
        if row.image.project_id != project.id:
            raise AnnotationRowRefused(
                index, f"image {row.image.id} is not in project {project.name!r}"
            )
        if row.category.taxonomy_id != project.taxonomy_id:
            raise AnnotationRowRefused(
                index, f"category {row.category.name!r} is not in project {project.name!r}"
            )
        coco_id = row.coco_id
        if coco_id is None:
            coco_id = given + 1  # a counter, as in annotation_record
        elif coco_id < 1:
            raise AnnotationRowRefused(index, f"annotation ids start at 1, not {coco_id}")
        elif coco_id in taken:
            raise AnnotationRowRefused(
                index, f"annotation id {coco_id} is already used in project {project.name!r}"
            )
        taken.add(coco_id)
        given = max(given, coco_id)
        annotations.append(
            Annotation(
                project=project,
                coco_id=coco_id,
                image=row.image,
                category=row.category,
                iscrowd=row.iscrowd,
                segmentation=row.segmentation,
                area=row.area,
                bbox_xywh=row.bbox_xywh,
                origin=row.origin,
            )
        )
    if given > locked.annotation_ids_given:
        Project.objects.filter(id=project.id).update(annotation_ids_given=given)
    return Annotation.objects.bulk_create(annotations, batch_size=BULK_BATCH)
