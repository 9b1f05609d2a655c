"""Stage 5's grids: pending masks go into grids of `verification_grid_size` (64) cells, of
which `verification_gold_per_grid` (4) are gold, shuffled, with opaque random cell ids and a
secret render seed (annotation/services/cell_pictures.py), so nothing tells gold apart. Masks
fill grids author by author, so a grid holds as few segmenters' masks as possible (nobody
judges a grid with a mask of their own). Full grids are posted as masks arrive; `allow_partial=True` (admin, end of a batch) also posts the
remainder, and `verification_partial_grids_post` (the periodic sweep) does so once no new mask
has come for `verification_partial_grid_after_minutes`."""

from __future__ import annotations

import logging
import random
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from annotation.errors import WrongState
from annotation.models import Project, Stage, Task
from annotation.models.projects import project_setting
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GoldItem, GridCell
from annotation.services import gold as gold_service
from annotation.services import task_engine
from annotation.stages.verification.defaults import (
    GOLD_POOL,
    PARTIAL_GRID_AFTER_MINUTES,
    grid_shape,
)
from annotation.stages.verification.gold import active_gold
from annotation.stages.verification.votes import PENDING, VoteRule, counted_votes_of, tally_votes
from annotation.stages.verification.waiting import masks_awaiting_grid

logger = logging.getLogger(__name__)


class NotEnoughGold(WrongState):
    code = "not_enough_gold"


def verification_post_grids(*, project: Project, allow_partial: bool = False) -> list[Task]:
    """Post grids for the project's pending masks that need votes and sit in no open grid.

    Masks are grouped by how many votes they still need (3 for new masks, 2 for the second
    round), since every answer to a grid votes on all of its masks. Only full grids are posted
    unless `allow_partial`. Raises NotEnoughGold when masks wait but fewer gold items exist
    than one grid needs."""
    size, gold_per_grid = grid_shape(project)
    per_grid = size - gold_per_grid
    rule = VoteRule.for_project(project)
    posted: list[Task] = []
    with transaction.atomic():
        # One poster at a time per project, so a mask never lands in two open grids.
        Project.objects.select_for_update().get(id=project.id)
        by_need: dict[int, list[Segmentation]] = {}
        waiting = list(masks_awaiting_grid(project))
        votes = counted_votes_of([segmentation.id for segmentation in waiting])
        for segmentation in waiting:
            tally = tally_votes(votes.get(segmentation.id, []), rule)
            if tally.verdict == PENDING:
                by_need.setdefault(tally.votes_needed, []).append(segmentation)
        if not by_need:
            return []
        gold = active_gold(project)
        pool = project_setting(project, "verification_gold_pool", GOLD_POOL)
        generated = sum(g.source != GoldItem.Source.EXPERT for g in gold)
        if generated < pool:
            # Make gold from accepted masks first (experts' gold bootstraps a new project),
            # and enough of it that grids do not show the same few gold cells again and again.
            gold_service.gold_generate(project=project, count=pool - generated)
            gold = active_gold(project)
        if len(gold) < gold_per_grid:
            raise NotEnoughGold(
                f"project {project.name!r} has {len(gold)} active gold item(s); every grid "
                f"needs {gold_per_grid} and no accepted masks are left to make more from: "
                "experts add known-bad masks first"
            )
        # Experts' gold only bootstraps a project: once enough gold made from real work
        # exists, grids draw from that alone (drawn gold looks drawn).
        real_work = [g for g in gold if g.source != GoldItem.Source.EXPERT]
        if len(real_work) >= gold_per_grid:
            gold = real_work
        chooser = random.SystemRandom()
        for need, masks in sorted(by_need.items(), reverse=True):
            # Author by author: a grid holds the masks of as few segmenters as possible,
            # since nobody judges a grid holding their own mask. Mixed grids (defect 5
            # found by the crowd simulator) left a small crew with grids nobody was allowed
            # to answer. Authors come in the order of their oldest waiting mask, so no
            # author's masks are passed over for long.
            first: dict[int, int] = {}
            for segmentation in masks:  # oldest first (masks_awaiting_grid)
                first.setdefault(segmentation.worker_id, segmentation.id)
            masks.sort(key=lambda segmentation: (first[segmentation.worker_id], segmentation.id))
            for start in range(0, len(masks), per_grid):
                chunk = masks[start : start + per_grid]
                if len(chunk) < per_grid and not allow_partial:
                    break
                first_round = need >= rule.first_votes
                picked = chooser.sample(gold, gold_per_grid)
                posted.append(_grid_post(project, chunk, picked, need, first_round))
    return posted


def _grid_post(
    project: Project,
    masks: list[Segmentation],
    gold: list[GoldItem],
    need: int,
    first_round: bool,
) -> Task:
    items: list[Segmentation | GoldItem] = [*masks, *gold]
    random.SystemRandom().shuffle(items)
    task = task_engine.task_post(
        project=project,
        stage=Stage.VERIFICATION,
        answers_needed=need,
        payload={"cells": [], "round": 1 if first_round else 2},
    )
    cells = [
        GridCell(
            task=task,
            cell_id=secrets.token_hex(8),
            position=position,
            segmentation=item if isinstance(item, Segmentation) else None,
            gold=item if isinstance(item, GoldItem) else None,
            render_seed=secrets.randbits(31),
        )
        for position, item in enumerate(items)
    ]
    GridCell.objects.bulk_create(cells)
    # What the worker sees: opaque ids, the category's name and the picture's URL (served
    # only within a lease on this grid); gold looks the same.
    task.payload["cells"] = [
        {
            "id": cell.cell_id,
            "category": (cell.segmentation or cell.gold).category.name,  # type: ignore[union-attr]
            "picture": reverse("verification-api:cell-picture", kwargs={"cell_id": cell.cell_id}),
        }
        for cell in cells
    ]
    task.save(update_fields=["payload"])
    return task


def verification_partial_grids_post(*, now: datetime | None = None) -> int:
    """For the periodic sweep: in every project whose newest pending mask is older than
    `verification_partial_grid_after_minutes` (30), post the masks left over as a partial
    grid, so a small final batch is verified. A project short of gold is skipped (the gold
    page and gold_shortage show it to admins). Returns how many grids were posted; cheap and
    idempotent when nothing waits."""
    now = now or timezone.now()
    newest = list(
        Segmentation.objects.filter(status=Segmentation.Status.PENDING)
        .values("image__project")
        .annotate(newest=Max("created_at"))
    )
    projects = Project.objects.in_bulk([row["image__project"] for row in newest])
    posted = 0
    for row in newest:
        project = projects[row["image__project"]]
        quiet = project_setting(
            project, "verification_partial_grid_after_minutes", PARTIAL_GRID_AFTER_MINUTES
        )
        if row["newest"] > now - timedelta(minutes=quiet):
            continue
        try:
            posted += len(verification_post_grids(project=project, allow_partial=True))
        except NotEnoughGold as error:
            logger.warning("partial verification grid not posted: %s", error.reason)
    return posted
