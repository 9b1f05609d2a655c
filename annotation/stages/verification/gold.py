"""Stage 5's gold: the known-bad masks every grid mixes in. Experts add them
(`gold_create`) or turn a failed mask into one (`gold_from_segmentation`); most are made from
real work by annotation/services/gold.py. `gold_shortage` tells admins when masks wait but
too little gold exists to post a grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from annotation import geometry
from annotation.errors import AnswerInvalid, WrongState
from annotation.models import Category, Image, Project
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GoldItem
from annotation.services.people import is_expert
from annotation.stages.verification.defaults import grid_shape
from annotation.stages.verification.waiting import masks_awaiting_grid


@transaction.atomic
def gold_create(*, author: User, image: Image, category: Category, polygons: Any) -> GoldItem:
    """An expert adds a deliberately bad mask of `category` in `image` as a gold item."""
    if not is_expert(author):
        raise WrongState("only experts and admins make gold items")
    if category.taxonomy_id != image.project.taxonomy_id:
        raise AnswerInvalid(f"category {category.name!r} is not in the image's project")
    outline = geometry.normalise_polygons(polygons, width=image.width, height=image.height)
    return GoldItem.objects.create(
        project=image.project,
        image=image,
        category=category,
        polygons=outline.polygons,
        area=outline.area,
        bbox_xywh=outline.bbox_xywh,
        source=GoldItem.Source.EXPERT,
        author=author,
    )


@transaction.atomic
def gold_from_segmentation(*, author: User, segmentation: Segmentation) -> GoldItem:
    """An expert turns a mask that failed verification into a gold item."""
    if not is_expert(author):
        raise WrongState("only experts and admins make gold items")
    if segmentation.status != Segmentation.Status.REJECTED:
        raise WrongState(f"mask {segmentation.id} did not fail verification: it cannot be gold")
    gold, _ = GoldItem.objects.get_or_create(
        source_segmentation=segmentation,
        defaults={
            "project": segmentation.image.project,
            "image": segmentation.image,
            "category": segmentation.category,
            "polygons": segmentation.polygons,
            "area": segmentation.area,
            "bbox_xywh": segmentation.bbox_xywh,
            "source": GoldItem.Source.FAILED,
            "author": author,
        },
    )
    return gold


def active_gold(project: Project) -> list[GoldItem]:
    """The project's gold items that grids may draw from."""
    return list(
        GoldItem.objects.filter(project=project, active=True)
        .select_related("category")
        .order_by("id")
    )


@dataclass(frozen=True)
class GoldShortage:
    masks_waiting: int
    gold_active: int
    gold_per_grid: int

    @property
    def message(self) -> str:
        return (
            f"{self.masks_waiting} mask(s) wait for verification but the project has "
            f"{self.gold_active} active gold item(s) and every grid needs {self.gold_per_grid}"
            ": no grid can be posted. Generate gold from accepted masks or have an expert "
            "add known-bad masks."
        )


def gold_shortage(*, project: Project) -> GoldShortage | None:
    """Masks waiting for a grid while the project has too little active gold to post one
    (the condition behind NotEnoughGold), for the admins' warning; None when all is well."""
    _, gold_per_grid = grid_shape(project)
    active = GoldItem.objects.filter(project=project, active=True).count()
    if active >= gold_per_grid:
        return None
    waiting = masks_awaiting_grid(project).count()
    if not waiting:
        return None
    return GoldShortage(masks_waiting=waiting, gold_active=active, gold_per_grid=gold_per_grid)
