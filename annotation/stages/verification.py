"""Stage 5, segmentation verification (thesis §2.4.3, appendix A "Segmentation
Verification"), top to bottom.

1. Tasks: pending segmentations go into GRIDS of `verification_grid_size` (64) cells, of which
   `verification_gold_per_grid` (4) are known-bad GOLD masks made by experts. Cells carry
   opaque random ids and a secret render seed, so neither the payload nor the pictures tell
   gold apart (annotation/services/cell_pictures.py); gold is made from accepted masks with
   real workers' mistakes or chosen from unanimously rejected masks (annotation/services/
   gold.py), topped up automatically when a grid needs more. A grid is a Task of this stage
   that needs as many answers as its masks still need votes (3 for new masks, 2 for masks
   that got one poor vote among their first 3). Full grids are posted as masks arrive;
   `allow_partial=True` (admin, end of a batch) also posts the remainder, and
   `verification_partial_grids_post` (the periodic sweep) does so once no new mask has come
   for `verification_partial_grid_after_minutes`.
2. Who: anyone not blocked, but never on a grid holding their own masks or masks they
   already judged (the 2 extra votes come from 2 other workers).
3. An answer: {"poor": [cell ids]}, the cells the worker judged poor; any id that is not a
   cell of this grid is refused (AnswerInvalid), nothing stored.
4. Gold check: an answer that catches fewer than `verification_min_gold_caught` (3) of the 4
   gold cells is void: its votes are kept uncounted, a GridOutcome records it against the
   worker, and the answer is rejected through the task engine, so the grid goes back to the
   pool for someone else.
5. Tally, per mask, `tally_votes` (the ONE place the 3-then-5 rule lives): accepted when its
   first 3 votes are all good; if any is poor, 2 more votes, accepted only with >= 4 good of
   5; two poor votes (so 4 of 5 is out of reach) reject at once.
6. Accepted → Segmentation.status accepted and an Annotation row (annotation_record); with
   only good votes it also becomes a training reference (services/qualification.py).
   Rejected → status rejected and its instance goes back to the segmentation pool (a
   segmentation task for the same instance and spot is posted again); with only poor votes
   it also becomes gold.
7. Bad segmenters: an annotator with at least `verification_block_min_decided` (10) judged
   masks of whom at least `verification_block_reject_rate` (0.5) were rejected is blocked,
   and ALL their masks (pending or accepted) are discarded and their instances re-queued
   (thesis §2.4.3: "all work obtained from such workers was discarded").
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from annotation import events, geometry
from annotation.errors import AnswerInvalid, DomainError, WrongState
from annotation.models import (
    Annotation,
    Assignment,
    Category,
    Image,
    Project,
    Stage,
    Task,
    WorkerProfile,
)
from annotation.models.projects import project_setting
from annotation.models.segmentation import Segmentation
from annotation.models.verification import (
    GoldItem,
    GridCell,
    GridOutcome,
    VerificationDecision,
    VerificationVote,
)
from annotation.services import gold as gold_service
from annotation.services import qualification, task_engine
from annotation.services.annotations import annotation_record
from annotation.services.people import is_expert, profile_for
from annotation.stages import StageRules, register
from annotation.stages.segmentation import segmentation_requeue

logger = logging.getLogger(__name__)

# Defaults from the thesis (appendix A); every one is a project setting.
GRID_SIZE = 64
GOLD_PER_GRID = 4
MIN_GOLD_CAUGHT = 3
FIRST_VOTES = 3  # every mask is first shown to 3 workers ...
TOTAL_VOTES = 5  # ... and to 2 more when any of them said poor
MIN_GOOD_OF_TOTAL = 4  # accepted with at least 4 favourable votes of the 5
BLOCK_MIN_DECIDED = 10
BLOCK_REJECT_RATE = 0.5
GOLD_POOL = 32  # gold made from real work kept at hand, so grids rarely repeat a gold cell
PARTIAL_GRID_AFTER_MINUTES = 30  # a quiet period after which the last masks go out anyway


class NotEnoughGold(WrongState):
    code = "not_enough_gold"


@dataclass(frozen=True)
class VoteRule:
    first_votes: int = FIRST_VOTES
    total_votes: int = TOTAL_VOTES
    min_good: int = MIN_GOOD_OF_TOTAL

    @classmethod
    def for_project(cls, project: Project) -> VoteRule:
        return cls(
            first_votes=project_setting(project, "verification_first_votes", FIRST_VOTES),
            total_votes=project_setting(project, "verification_total_votes", TOTAL_VOTES),
            min_good=project_setting(project, "verification_min_good", MIN_GOOD_OF_TOTAL),
        )


# 5. The tally: the 3-then-5 rule ----------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    verdict: str  # "accepted", "rejected" or "pending"
    good: int  # good votes among those used
    bad: int
    used: int  # votes that decided it (later votes are ignored)
    votes_needed: int  # more votes wanted while pending, else 0


ACCEPTED, REJECTED, PENDING = "accepted", "rejected", "pending"


def tally_votes(votes: Sequence[bool], rule: VoteRule = VoteRule()) -> Tally:
    """Decide a mask from its counted votes in the order they came (True = good).

    Thesis, appendix A: "Each segmentation is initially shown to 3 annotators. If any of the
    annotators indicates the segmentation is bad, it is shown to 2 additional workers. At this
    point, any segmentation that doesn't receive at least 4 of 5 favorable votes is
    discarded." Votes are read one by one and the verdict is taken at the first vote that
    settles it: all of the first 3 good → accepted; more poor votes than 5 - 4 = 1 → rejected
    at once (4 of 5 is out of reach); 5 votes with >= 4 good → accepted.
    """
    max_bad = rule.total_votes - rule.min_good
    good = bad = 0
    for vote in votes:
        if vote:
            good += 1
        else:
            bad += 1
        used = good + bad
        if bad > max_bad:
            return Tally(REJECTED, good, bad, used, 0)
        if bad == 0 and used >= rule.first_votes:
            return Tally(ACCEPTED, good, bad, used, 0)
        if used >= rule.total_votes and good >= rule.min_good:
            return Tally(ACCEPTED, good, bad, used, 0)
    used = good + bad
    wanted = rule.first_votes if bad == 0 else rule.total_votes
    return Tally(PENDING, good, bad, used, max(wanted - used, 1))


def counted_votes(segmentation: Segmentation) -> list[bool]:
    """A mask's counted votes in the order their answers came in."""
    return counted_votes_of([segmentation.id]).get(segmentation.id, [])


def counted_votes_of(segmentation_ids: list[int]) -> dict[int, list[bool]]:
    """Counted votes of many masks in one query, each in the order its answers came in."""
    votes: dict[int, list[bool]] = {}
    rows = (
        VerificationVote.objects.filter(segmentation_id__in=segmentation_ids, counted=True)
        .order_by("segmentation_id", "assignment__submitted_at", "id")
        .values_list("segmentation_id", "good")
    )
    for segmentation_id, good in rows:
        votes.setdefault(segmentation_id, []).append(good)
    return votes


# Gold items ---------------------------------------------------------------------------------


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


# 1. Posting grids -----------------------------------------------------------------------------


def _grid_shape(project: Project) -> tuple[int, int]:
    size = project_setting(project, "verification_grid_size", GRID_SIZE)
    gold = project_setting(project, "verification_gold_per_grid", GOLD_PER_GRID)
    if size <= gold:
        raise DomainError(f"a grid of {size} cells cannot hold {gold} gold cells and masks")
    return size, gold


def masks_awaiting_grid(project: Project) -> QuerySet[Segmentation]:
    """Pending masks of the project that sit in no unfinished grid (open, or complete but
    not yet tallied: the tally runs in a Celery task after the commit)."""
    in_open_grid = GridCell.objects.filter(segmentation_id=OuterRef("pk")).filter(
        Q(task__status=Task.Status.OPEN)
        | Q(task__status=Task.Status.COMPLETE, task__result__isnull=True)
    )
    return (
        Segmentation.objects.filter(image__project=project, status=Segmentation.Status.PENDING)
        .exclude(Exists(in_open_grid))
        .select_related("category")  # each cell shows its category's name
        .order_by("id")
    )


def verification_post_grids(*, project: Project, allow_partial: bool = False) -> list[Task]:
    """Post grids for the project's pending masks that need votes and sit in no open grid.

    Masks are grouped by how many votes they still need (3 for new masks, 2 for the second
    round), since every answer to a grid votes on all of its masks. Only full grids are posted
    unless `allow_partial`. Raises NotEnoughGold when masks wait but fewer gold items exist
    than one grid needs."""
    size, gold_per_grid = _grid_shape(project)
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
        gold = _active_gold(project)
        pool = project_setting(project, "verification_gold_pool", GOLD_POOL)
        generated = sum(g.source != GoldItem.Source.EXPERT for g in gold)
        if generated < pool:
            # Make gold from accepted masks first (experts' gold bootstraps a new project),
            # and enough of it that grids do not show the same few gold cells again and again.
            gold_service.gold_generate(project=project, count=pool - generated)
            gold = _active_gold(project)
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
            for start in range(0, len(masks), per_grid):
                chunk = masks[start : start + per_grid]
                if len(chunk) < per_grid and not allow_partial:
                    break
                first_round = need >= rule.first_votes
                picked = chooser.sample(gold, gold_per_grid)
                posted.append(_grid_post(project, chunk, picked, need, first_round))
    return posted


def _active_gold(project: Project) -> list[GoldItem]:
    return list(
        GoldItem.objects.filter(project=project, active=True)
        .select_related("category")
        .order_by("id")
    )


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
    _, gold_per_grid = _grid_shape(project)
    active = GoldItem.objects.filter(project=project, active=True).count()
    if active >= gold_per_grid:
        return None
    waiting = masks_awaiting_grid(project).count()
    if not waiting:
        return None
    return GoldShortage(masks_waiting=waiting, gold_active=active, gold_per_grid=gold_per_grid)


# 2. Who may take a grid -----------------------------------------------------------------------


def eligible_grids(tasks: QuerySet[Task], worker: Any) -> QuerySet[Task]:
    """Never a grid with the worker's own masks or masks the worker already judged: the votes
    on one mask come from different people."""
    judged = VerificationVote.objects.filter(worker=worker).values("segmentation_id")
    conflict = GridCell.objects.filter(task_id=OuterRef("pk")).filter(
        Q(segmentation__worker=worker) | Q(segmentation_id__in=judged)
    )
    return tasks.exclude(Exists(conflict))


# 3. One worker's answer -----------------------------------------------------------------------


def validate_grid_answer(task: Task, answer: Any) -> dict:
    """{"poor": [cell ids]}: only cells of this grid, each at most once."""
    if not isinstance(answer, dict) or not isinstance(answer.get("poor"), list):
        raise AnswerInvalid('the answer must be {"poor": [ids of the cells judged poor]}')
    poor = answer["poor"]
    if not all(isinstance(cell, str) for cell in poor):
        raise AnswerInvalid("cell ids are strings from the grid's payload")
    if len(set(poor)) != len(poor):
        raise AnswerInvalid("a cell was marked poor twice")
    in_grid = {cell["id"] for cell in task.payload.get("cells", [])}
    strangers = [cell for cell in poor if cell not in in_grid]
    if strangers:
        raise AnswerInvalid(
            f"{len(strangers)} marked cell(s) are not in this grid ({', '.join(strangers[:3])})"
        )
    return {"poor": sorted(poor)}


# 4-6. Gold check, tally and what happens next -------------------------------------------------


def _judge_answer(task: Task, cells: list[GridCell], assignment: Assignment) -> GridOutcome:
    """Record an answer's votes; void (uncounted) when it missed the gold."""
    poor = set((assignment.answer or {}).get("poor", []))
    worker_id = assignment.worker_id  # a submitted answer has its worker
    assert worker_id is not None
    gold = [cell for cell in cells if cell.is_gold]
    caught = sum(cell.cell_id in poor for cell in gold)
    needed = min(
        project_setting(task.project, "verification_min_gold_caught", MIN_GOLD_CAUGHT), len(gold)
    )
    passed = caught >= needed
    outcome = GridOutcome.objects.create(
        task=task,
        assignment=assignment,
        worker_id=worker_id,
        gold_caught=caught,
        gold_shown=len(gold),
        passed=passed,
    )
    VerificationVote.objects.bulk_create(
        VerificationVote(
            cell=cell,
            assignment=assignment,
            segmentation_id=cell.segmentation_id,
            worker_id=worker_id,
            good=cell.cell_id not in poor,
            counted=passed,
        )
        for cell in cells
        if cell.segmentation_id is not None  # every cell but the gold ones
    )
    return outcome


def on_grid_complete(task: Task) -> None:
    """Judge the grid's new answers against the gold; a void answer sends the grid back to
    the pool. When every answer passed, decide each mask and post the next round's grids."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("project").get(id=task.id)
        if task.status != Task.Status.COMPLETE:
            return
        cells = list(task.grid_cells.order_by("position"))
        unjudged = task.assignments.filter(status=Assignment.Status.SUBMITTED).exclude(
            Exists(GridOutcome.objects.filter(assignment_id=OuterRef("pk")))
        )
        void = [
            outcome.assignment_id
            for outcome in (_judge_answer(task, cells, a) for a in unjudged.order_by("id"))
            if not outcome.passed
        ]
        for assignment_id in void:
            task_engine.assignment_reject(
                assignment_id=assignment_id,
                reason="fewer than the required known-bad masks were caught: votes void",
            )
        if void:
            return  # the grid is open again, with a fresh slot per void answer
        verdicts = {
            cell.segmentation_id: segmentation_decide(segmentation_id=cell.segmentation_id)
            for cell in cells
            if cell.segmentation_id is not None
        }
        # Judge the authors once every mask of the grid is decided: the cells are shuffled,
        # and an accepted mask decided last still counts towards the minimum judged.
        decided = [sid for sid, verdict in verdicts.items() if verdict != PENDING]
        authors = Segmentation.objects.filter(id__in=decided).values_list("worker_id", flat=True)
        for worker_id in sorted(set(authors)):
            segmenter_check(worker_id=worker_id, project=task.project)
        task.result = {
            "accepted": sum(v == ACCEPTED for v in verdicts.values()),
            "rejected": sum(v == REJECTED for v in verdicts.values()),
            "pending": sum(v == PENDING for v in verdicts.values()),
        }
        task.save(update_fields=["result"])
        # Pairs that waited for these verdicts go on (segmentation_pairs_advance).
        events.send_on_commit(events.masks_verified, project_id=task.project_id)
    try:
        verification_post_grids(project=task.project)
    except NotEnoughGold as error:
        logger.warning("next verification round not posted: %s", error.reason)


def segmentation_decide(*, segmentation_id: int) -> str:
    """Apply the tally to one mask: accept (Annotation row), reject (instance re-queued), or
    leave pending. Returns the mask's status; safe to run twice. The caller then checks the
    authors (segmenter_check)."""
    with transaction.atomic():
        segmentation = (
            Segmentation.objects.select_for_update(of=("self",))
            .select_related("image__project", "category", "task")
            .get(id=segmentation_id)
        )
        if segmentation.status != Segmentation.Status.PENDING:
            return segmentation.status
        project = segmentation.image.project
        tally = tally_votes(counted_votes(segmentation), VoteRule.for_project(project))
        if tally.verdict == PENDING:
            return PENDING
        if tally.verdict == ACCEPTED:
            segmentation.status = Segmentation.Status.ACCEPTED
            segmentation.save(update_fields=["status"])
            annotation_record(
                project=project,
                image=segmentation.image,
                category=segmentation.category,
                segmentation=segmentation.polygons,
                area=segmentation.area,
                bbox_xywh=segmentation.bbox_xywh,
                origin=Annotation.Origin.SEGMENTATION,
                source_segmentation=segmentation,
            )
            VerificationDecision.objects.update_or_create(
                segmentation=segmentation,
                defaults={
                    "outcome": VerificationDecision.Outcome.ACCEPTED,
                    "good_votes": tally.good,
                    "bad_votes": tally.bad,
                    "reason": f"{tally.good} of {tally.used} votes good",
                },
            )
            qualification.reference_from_accepted(
                segmentation=segmentation, good_votes=tally.good, bad_votes=tally.bad
            )
            return ACCEPTED
        segmentation.status = Segmentation.Status.REJECTED
        segmentation.save(update_fields=["status"])
        VerificationDecision.objects.update_or_create(
            segmentation=segmentation,
            defaults={
                "outcome": VerificationDecision.Outcome.REJECTED,
                "good_votes": tally.good,
                "bad_votes": tally.bad,
                "reason": f"{tally.bad} of {tally.used} votes poor",
                "requeued_task": segmentation_requeue(segmentation=segmentation),
            },
        )
        gold_service.gold_from_unanimous_rejection(
            segmentation=segmentation, good_votes=tally.good, bad_votes=tally.bad
        )
        return REJECTED


# 7. Persistently bad segmenters ---------------------------------------------------------------


def segmenter_reject_rate(worker_id: int) -> tuple[int, int]:
    """(judged masks, rejected masks) of a segmenter, by the votes."""
    decisions = VerificationDecision.objects.filter(
        segmentation__worker_id=worker_id,
        outcome__in=[VerificationDecision.Outcome.ACCEPTED, VerificationDecision.Outcome.REJECTED],
    )
    judged = decisions.count()
    rejected = decisions.filter(outcome=VerificationDecision.Outcome.REJECTED).count()
    return judged, rejected


def segmenter_check(*, worker_id: int, project: Project) -> bool:
    """Block an annotator whose masks keep failing verification; True when blocked now."""
    judged, rejected = segmenter_reject_rate(worker_id)
    minimum = project_setting(project, "verification_block_min_decided", BLOCK_MIN_DECIDED)
    rate = project_setting(project, "verification_block_reject_rate", BLOCK_REJECT_RATE)
    if judged < minimum or rejected < rate * judged:
        return False
    worker = User.objects.get(id=worker_id)
    profile = profile_for(worker)
    if profile.blocked or profile.role != WorkerProfile.Role.ANNOTATOR:
        return False  # experts and admins are trusted; an admin judges them by hand
    segmenter_block(
        worker=worker,
        reason=f"{rejected} of {judged} segmentations failed verification "
        f"(limit {rate:.0%} once {minimum} are judged): all their segmentations discarded",
    )
    return True


def segmenter_block(*, worker: User, reason: str) -> int:
    """Block a segmenter and discard ALL their masks, accepted ones included (their
    Annotation rows go), re-queuing every instance. Returns how many masks were discarded."""
    with transaction.atomic():
        profile = WorkerProfile.objects.select_for_update().get(id=profile_for(worker).id)
        profile.blocked = True
        profile.blocked_reason = reason
        profile.save(update_fields=["blocked", "blocked_reason"])
        live = list(
            Segmentation.objects.select_for_update(of=("self",))
            .filter(
                worker=worker,
                status__in=[Segmentation.Status.PENDING, Segmentation.Status.ACCEPTED],
            )
            .select_related("image", "category", "task", "instance")
        )
        Annotation.objects.filter(source_segmentation__in=live).delete()
        discarded_ids = [segmentation.id for segmentation in live]
        qualification.references_retire_discarded(segmentation_ids=discarded_ids)
        gold_service.gold_retire_derived(segmentation_ids=discarded_ids)
        discarded = 0
        for segmentation in live:
            segmentation.status = Segmentation.Status.REJECTED
            segmentation.save(update_fields=["status"])
            VerificationDecision.objects.update_or_create(
                segmentation=segmentation,
                defaults={
                    "outcome": VerificationDecision.Outcome.DISCARDED,
                    "reason": "its author was blocked for persistently poor segmentations",
                    "requeued_task": segmentation_requeue(segmentation=segmentation),
                },
            )
            discarded += 1
        # The blocked worker's open leases of segmentation tasks go back to the pool.
        task_engine.leases_release(worker=worker, stage=Stage.SEGMENTATION)
    return discarded


register(
    StageRules(
        stage=Stage.VERIFICATION,
        validate_answer=validate_grid_answer,
        on_task_complete=on_grid_complete,
        eligible_tasks=eligible_grids,
        tool_url_name="verification-tool",
        description="Mark the poor segmentations in a grid.",
    )
)
