"""Gold (known-bad) verification cells that cannot be told apart from real work (issue 13,
attack 3).

Gold is data of the same kind as the masks it hides among, drawn by the same code
(annotation/services/cell_pictures.py):
- GENERATED: an accepted mask with one of the mistakes real segmenters make (shifted,
  eroded or dilated outline, a neighbouring object of another category, one loose polygon
  around several objects), made with shapely in annotation/mask_errors.py;
- FAILED: a mask verification rejected with every counted vote poor;
- EXPERT: drawn badly on purpose by an expert, to bootstrap a project before any mask is
  accepted.
Experts review gold on the gold page (frontend/verification_views.py) and retire what is not
clearly bad (a gold item most verifiers do not catch is suspicious).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q

from annotation import geometry, mask_errors
from annotation.errors import DomainError, NotFound, WrongState
from annotation.models import Assignment, Project
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GoldItem, GridCell
from annotation.services.people import is_expert

Kind = GoldItem.ErrorKind
KINDS = [Kind.SHIFTED, Kind.ERODED, Kind.DILATED, Kind.NEIGHBOUR, Kind.LOOSE]
MAX_GOLD_PER_MASK = 2  # an accepted mask lends itself to at most this many gold items
SIZE_TOLERANCE = math.log(1.25)  # a gold box side within 25 % of the live mask it aims at


def _bad_outline(
    kind: str,
    mask: Segmentation,
    neighbours: list[Segmentation],
    rng: random.Random,
) -> list[list[float]] | None:
    size = {"width": mask.image.width, "height": mask.image.height, "rng": rng}
    if kind == Kind.SHIFTED:
        return mask_errors.shifted(mask.polygons, **size)  # type: ignore[arg-type]
    if kind == Kind.ERODED:
        return mask_errors.eroded(mask.polygons, **size)  # type: ignore[arg-type]
    if kind == Kind.DILATED:
        return mask_errors.dilated(mask.polygons, **size)  # type: ignore[arg-type]
    if kind == Kind.NEIGHBOUR:
        others = [n.polygons for n in neighbours if n.category_id != mask.category_id]
        return mask_errors.neighbour(mask.polygons, others, **size)  # type: ignore[arg-type]
    same = [n.polygons for n in neighbours if n.category_id == mask.category_id]
    return mask_errors.loose(mask.polygons, same, **size)  # type: ignore[arg-type]


def _mistake_of_size(
    candidates: list[Segmentation],
    neighbours: dict[int, list[Segmentation]],
    target: float,
    rng: random.Random,
) -> tuple[Segmentation, str, geometry.NormalisedPolygons] | None:
    """The first (mask, mistake) among the candidates whose box side is within
    SIZE_TOLERANCE of `target`, trying the kinds of mistake in random order."""
    for mask in candidates:
        others = [n for n in neighbours.get(mask.image_id, []) if n.id != mask.id]
        kinds = list(KINDS)
        rng.shuffle(kinds)
        for kind in kinds:
            polygons = _bad_outline(kind, mask, others, rng)
            if polygons is None:
                continue
            try:
                outline = geometry.normalise_polygons(
                    polygons, width=mask.image.width, height=mask.image.height
                )
            except DomainError:
                continue
            side = max(outline.bbox_xywh[2], outline.bbox_xywh[3], 1.0)
            if abs(math.log(side / target)) <= SIZE_TOLERANCE:
                return mask, kind, outline
    return None


def gold_generate(
    *, project: Project, count: int, author: User | None = None, seed: int | None = None
) -> list[GoldItem]:
    """Make up to `count` gold items from the project's accepted masks, each with a real
    worker's kind of mistake; returns those made (fewer when the accepted masks run out)."""
    if author is not None and not is_expert(author):
        raise WrongState("only experts and admins make gold items")
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    sources = list(
        Segmentation.objects.filter(image__project=project, status=Segmentation.Status.ACCEPTED)
        .annotate(gold_made=Count("derived_gold"))
        .filter(gold_made__lt=MAX_GOLD_PER_MASK)
        .select_related("image", "category")
        .order_by("gold_made", "id")
    )
    neighbours: dict[int, list[Segmentation]] = {}
    for mask in Segmentation.objects.filter(
        image_id__in={s.image_id for s in sources}, status=Segmentation.Status.ACCEPTED
    ):
        neighbours.setdefault(mask.image_id, []).append(mask)
    # Gold must have the sizes of the masks it hides among: a cell's zoom follows its box, and
    # a grid whose odd-zoomed cells were the gold would give it away. Each gold item aims at
    # the box side of a live mask drawn at random: the first (mask, mistake) within 25 %.
    sides = [
        max(box[2], box[3])
        for box in Segmentation.objects.filter(
            image__project=project,
            status__in=[Segmentation.Status.PENDING, Segmentation.Status.ACCEPTED],
        ).values_list("bbox_xywh", flat=True)
    ]
    made: list[GoldItem] = []
    room = {mask.id: MAX_GOLD_PER_MASK - mask.gold_made for mask in sources}  # type: ignore[attr-defined]
    for _ in range(count * 4 if sides else 0):
        if len(made) >= count:
            break
        target = rng.choice(sides)
        usable = [mask for mask in sources if room[mask.id] > 0]
        found = _mistake_of_size(rng.sample(usable, min(12, len(usable))), neighbours, target, rng)
        if found is None:
            continue
        mask, kind, outline = found
        room[mask.id] -= 1
        made.append(
            GoldItem.objects.create(
                project=project,
                image=mask.image,
                category=mask.category,
                polygons=outline.polygons,
                area=outline.area,
                bbox_xywh=outline.bbox_xywh,
                source=GoldItem.Source.GENERATED,
                derived_from=mask,
                error_kind=kind,
                author=author,
            )
        )
    return made


def gold_from_unanimous_rejection(
    *, segmentation: Segmentation, good_votes: int, bad_votes: int
) -> GoldItem | None:
    """A mask rejected with every counted vote poor becomes gold (the 3-then-5 rule stops at
    the second poor vote, so "unanimous" means no good vote and at least two poor ones).
    Safe to call twice. Called by verification when it rejects a mask."""
    if good_votes or bad_votes < 2:
        return None
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
        },
    )
    return gold


def gold_retire_derived(*, segmentation_ids: list[int]) -> int:
    """Gold made from masks that are discarded after all (their author was blocked) retires:
    a mistake applied to a bad mask is no longer a known quantity."""
    return GoldItem.objects.filter(derived_from_id__in=segmentation_ids, active=True).update(
        active=False, retired_reason="made from a mask discarded when its author was blocked"
    )


@transaction.atomic
def gold_set_active(*, expert: User, gold_id: int, active: bool, reason: str = "") -> GoldItem:
    """An expert retires a gold item (not clearly bad, too easy, seen too often) or restores
    it. Retired gold is never put into a new grid; grids already posted keep it."""
    if not is_expert(expert):
        raise WrongState("only experts and admins review gold")
    gold = GoldItem.objects.select_for_update().filter(id=gold_id).first()
    if gold is None:
        raise NotFound(f"gold item {gold_id} does not exist")
    gold.active = active
    gold.retired_by = None if active else expert
    gold.retired_reason = "" if active else (reason.strip()[:200] or "retired by an expert")
    gold.save(update_fields=["active", "retired_by", "retired_reason"])
    return gold


@dataclass(frozen=True)
class GoldReview:
    gold: GoldItem
    shown: int  # answers given to grids holding it
    caught: int  # of those, answers that marked it poor

    @property
    def catch_rate(self) -> float | None:
        return self.caught / self.shown if self.shown else None


def gold_review(*, project: Project, active: bool | None = None) -> list[GoldReview]:
    """Every gold item of the project with how often verifiers caught it: a gold item most
    verifiers leave unmarked may not be clearly bad, and an expert should look at it."""
    items = GoldItem.objects.filter(project=project).select_related(
        "category", "image", "derived_from"
    )
    if active is not None:
        items = items.filter(active=active)
    cells = list(
        GridCell.objects.filter(gold__project=project).values("gold_id", "cell_id", "task_id")
    )
    answers: dict[int, list[Any]] = {}
    for task_id, answer in Assignment.objects.filter(
        task_id__in={c["task_id"] for c in cells},
        status__in=[Assignment.Status.SUBMITTED, Assignment.Status.REJECTED],
        answer__isnull=False,
    ).values_list("task_id", "answer"):
        answers.setdefault(task_id, []).append(answer)
    shown: dict[int, int] = {}
    caught: dict[int, int] = {}
    for cell in cells:
        for answer in answers.get(cell["task_id"], []):
            poor = answer.get("poor", []) if isinstance(answer, dict) else []
            shown[cell["gold_id"]] = shown.get(cell["gold_id"], 0) + 1
            caught[cell["gold_id"]] = caught.get(cell["gold_id"], 0) + (cell["cell_id"] in poor)
    return [
        GoldReview(gold=item, shown=shown.get(item.id, 0), caught=caught.get(item.id, 0))
        for item in items.order_by("-active", "id")
    ]


def gold_counts(*, project: Project) -> dict[str, int]:
    """Active gold of the project by source, for the review page and the shortage warning."""
    rows = GoldItem.objects.filter(project=project).aggregate(
        n_active=Count("id", filter=Q(active=True)),
        n_retired=Count("id", filter=Q(active=False)),
        n_generated=Count("id", filter=Q(active=True, source=GoldItem.Source.GENERATED)),
        n_failed=Count("id", filter=Q(active=True, source=GoldItem.Source.FAILED)),
        n_expert=Count("id", filter=Q(active=True, source=GoldItem.Source.EXPERT)),
    )
    return {key.removeprefix("n_"): int(value or 0) for key, value in rows.items()}
