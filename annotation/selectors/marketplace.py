"""Reads for Mechanical Turk: cocoforge's verdict on an answer (what approval or rejection
follows), what waits for review, open problems, and the cost so far.

The cost is MTurk's price list (docs/admin/mturk.md): the reward of every approved
assignment, every bonus paid, and MTurk's fee: 20% of the reward (40% on HITs with 10 or
more assignments) and 20% of each bonus, at least $0.01 per assignment and per bonus.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, QuerySet

from annotation.models import (
    Assignment,
    GridOutcome,
    MTurkAssignment,
    MTurkHIT,
    MTurkProblem,
    Project,
    Segmentation,
    Stage,
)
from annotation.models.projects import project_setting

APPROVE, REJECT, WAIT = "approve", "reject", "wait"

CENT = Decimal("0.01")
FEE_SHARE = Decimal("0.20")
# MTurk charges 20% more on the reward of HITs with 10 or more assignments.
FEE_SHARE_LARGE_HIT = Decimal("0.40")
LARGE_HIT_ASSIGNMENTS = 10
FEE_MINIMUM = CENT

LIVE_HIT_STATUSES = (
    MTurkHIT.Status.ASSIGNABLE,
    MTurkHIT.Status.UNASSIGNABLE,
    MTurkHIT.Status.REVIEWABLE,
)


@dataclass(frozen=True)
class Verdict:
    decision: str  # APPROVE, REJECT or WAIT
    reason: str  # for a rejection: the words the worker reads on MTurk


def _rejected_reason(slot: Assignment) -> str:
    outcome = GridOutcome.objects.filter(assignment=slot).first()
    if outcome is not None and not outcome.passed:
        return (
            f"Your verification grid caught {outcome.gold_caught} of the {outcome.gold_shown} "
            "known-bad outlines hidden in it (the gold check); the answers of a grid that "
            "misses them cannot be counted."
        )
    if slot.task.stage == Stage.LABELING:
        line = project_setting(slot.task.project, "labeling_precision_line")
        if line is not None:
            return (
                "Your category labels' precision, checked against the other workers' labels "
                f"of the same photos, was below this project's line of {line:.2f}."
            )
    return "cocoforge's quality control rejected this answer."


def assignment_verdict(slot: Assignment | None) -> Verdict:
    """What cocoforge's own checks say about one answer: approve, reject (with the reason
    the verification or gold check gave) or wait (still being judged)."""
    if slot is None:
        return Verdict(WAIT, "no cocoforge answer was recorded for this assignment")
    if slot.status == Assignment.Status.REJECTED:
        return Verdict(REJECT, _rejected_reason(slot))
    if slot.status != Assignment.Status.SUBMITTED:
        return Verdict(WAIT, "the answer is not submitted in cocoforge")
    stage = slot.task.stage
    if stage == Stage.SEGMENTATION:
        segmentation = Segmentation.objects.filter(assignment=slot).first()
        if segmentation is None:
            return Verdict(APPROVE, "")  # "no such object", "all done", "crowd" answers
        if segmentation.status == Segmentation.Status.REJECTED:
            return Verdict(
                REJECT,
                "Verifiers judged your outline poor: it does not follow the object's "
                "boundary closely enough.",
            )
        if segmentation.status == Segmentation.Status.PENDING:
            return Verdict(WAIT, "the outline awaits verification")
        return Verdict(APPROVE, "")
    if stage == Stage.VERIFICATION and not GridOutcome.objects.filter(assignment=slot).exists():
        return Verdict(WAIT, "the grid's gold check has not run yet")
    return Verdict(APPROVE, "")


def mturk_assignments_awaiting_review(*, project: Project) -> QuerySet[MTurkAssignment]:
    return (
        MTurkAssignment.objects.filter(
            hit__project=project, status=MTurkAssignment.Status.SUBMITTED
        )
        .select_related("hit", "worker", "answer_slot__task__project")
        .order_by("submitted_at", "id")
    )


def mturk_open_problem(assignment_id: str) -> MTurkProblem | None:
    return MTurkProblem.objects.filter(assignment_id=assignment_id, resolved_at=None).first()


def mturk_problems_open(*, project: Project) -> QuerySet[MTurkProblem]:
    return MTurkProblem.objects.filter(project=project, resolved_at=None).select_related("hit")


def mturk_hits(*, project: Project) -> QuerySet[MTurkHIT]:
    return MTurkHIT.objects.filter(project=project).select_related("task")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def reward_fee(reward: Decimal, max_assignments: int) -> Decimal:
    share = FEE_SHARE_LARGE_HIT if max_assignments >= LARGE_HIT_ASSIGNMENTS else FEE_SHARE
    return max(FEE_MINIMUM, _cents(reward * share))


def bonus_fee(bonus: Decimal) -> Decimal:
    return max(FEE_MINIMUM, _cents(bonus * FEE_SHARE))


@dataclass(frozen=True)
class MTurkCost:
    sandbox: bool
    approved: int
    rewards: Decimal
    bonuses: Decimal
    fees: Decimal

    @property
    def total(self) -> Decimal:
        return self.rewards + self.bonuses + self.fees


def mturk_costs(*, project: Project) -> list[MTurkCost]:
    """The cost so far per endpoint the project has HITs on (the sandbox's money is not
    real): approved rewards, bonuses paid and MTurk's fees."""
    costs = []
    for sandbox in (False, True):
        if not MTurkHIT.objects.filter(project=project, sandbox=sandbox).exists():
            continue
        rewards = bonuses = fees = Decimal("0")
        rows = MTurkAssignment.objects.filter(hit__project=project, hit__sandbox=sandbox)
        # Grouped in the database: one fee per assignment, the same within a group.
        count = 0
        for group in (
            rows.filter(status=MTurkAssignment.Status.APPROVED)
            .values("hit__reward", "hit__max_assignments")
            .annotate(n=Count("id"))
        ):
            count += group["n"]
            rewards += group["hit__reward"] * group["n"]
            fees += reward_fee(group["hit__reward"], group["hit__max_assignments"]) * group["n"]
        for paid in (
            rows.filter(bonus_paid_at__isnull=False, bonus__gt=0)
            .values("bonus")
            .annotate(n=Count("id"))
        ):
            bonuses += paid["bonus"] * paid["n"]
            fees += bonus_fee(paid["bonus"]) * paid["n"]
        costs.append(
            MTurkCost(sandbox=sandbox, approved=count, rewards=rewards, bonuses=bonuses, fees=fees)
        )
    return costs
