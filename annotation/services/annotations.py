"""Accepted annotations: the one place rows of the exported dataset are created."""

from __future__ import annotations

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
