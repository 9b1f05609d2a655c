"""Stage 5's vote rule, top to bottom: a mask is shown to 3 workers, to 2 more when any of
them said poor, and kept only with all of the first 3 or at least 4 of 5 votes good. `tally_votes`
is the ONE place the 3-then-5 rule lives; `segmentation_decide` (decisions.py) applies it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from annotation.models import Project
from annotation.models.projects import project_setting
from annotation.models.segmentation import Segmentation
from annotation.models.verification import VerificationVote
from annotation.stages.verification.defaults import FIRST_VOTES, MIN_GOOD_OF_TOTAL, TOTAL_VOTES


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
