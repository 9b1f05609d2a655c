"""Stage 5: segmentation verification (thesis §2.4.3, appendix A "Segmentation
Verification"), one module per concern, in the order a mask meets them:

- defaults.py: the per-project numbers and their defaults (grid of 64 with 4 gold, 3 of 4
  gold caught, 3 then 5 votes, >= 4 of 5 good, the blocking limits);
- waiting.py: which pending masks sit in no unfinished grid;
- gold.py: the known-bad gold masks (experts' `gold_create`, `gold_from_segmentation`,
  `gold_shortage` for the admins' warning); most gold is made from real work by
  annotation/services/gold.py;
- grids.py: posting grids (`verification_post_grids`, full grids as masks arrive, partial ones
  on demand and after a quiet period: `verification_partial_grids_post`). A grid is a Task
  that needs as many answers as its masks still need votes (3 for new masks, 2 for masks
  that got one poor vote among their first 3);
- answers.py: who may take a grid (never one holding their own masks or masks they already
  judged) and what an answer may say ({"poor": [cell ids]});
- judging.py: a completed grid: each answer judged against the gold (one that catches fewer
  than 3 of 4 is void and the grid goes back to the pool), then the masks decided;
- votes.py: the vote rule, `tally_votes` (the ONE place the 3-then-5 rule lives): accepted
  when the first 3 votes are all good; if any is poor, 2 more votes, accepted only with >= 4
  good of 5; two poor votes reject at once;
- decisions.py: `segmentation_decide` applies the tally (accepted: an Annotation row and,
  with only good votes, a training reference; rejected: the instance goes back to the
  segmentation pool and, with only poor votes, the mask becomes gold);
- blocking.py: an annotator whose masks keep failing is blocked and ALL their masks are
  discarded and re-queued (thesis §2.4.3);
- registration.py: registration with the task engine.
Views, commands and Celery tasks call the names re-exported here.
"""

from annotation.stages.verification import registration  # noqa: F401  registers the stage
from annotation.stages.verification.answers import eligible_grids, validate_grid_answer
from annotation.stages.verification.blocking import (
    segmenter_block,
    segmenter_check,
    segmenter_reject_rate,
)
from annotation.stages.verification.decisions import segmentation_decide
from annotation.stages.verification.defaults import (
    BLOCK_MIN_DECIDED,
    BLOCK_REJECT_RATE,
    FIRST_VOTES,
    GOLD_PER_GRID,
    GOLD_POOL,
    GRID_SIZE,
    MIN_GOLD_CAUGHT,
    MIN_GOOD_OF_TOTAL,
    PARTIAL_GRID_AFTER_MINUTES,
    TOTAL_VOTES,
    grid_shape,
)
from annotation.stages.verification.gold import (
    GoldShortage,
    active_gold,
    gold_create,
    gold_from_segmentation,
    gold_shortage,
)
from annotation.stages.verification.grids import (
    NotEnoughGold,
    verification_partial_grids_post,
    verification_post_grids,
)
from annotation.stages.verification.judging import on_grid_complete
from annotation.stages.verification.votes import (
    ACCEPTED,
    PENDING,
    REJECTED,
    Tally,
    VoteRule,
    counted_votes,
    counted_votes_of,
    tally_votes,
)
from annotation.stages.verification.waiting import masks_awaiting_grid

__all__ = [
    "ACCEPTED",
    "BLOCK_MIN_DECIDED",
    "BLOCK_REJECT_RATE",
    "FIRST_VOTES",
    "GOLD_PER_GRID",
    "GOLD_POOL",
    "GRID_SIZE",
    "MIN_GOLD_CAUGHT",
    "MIN_GOOD_OF_TOTAL",
    "PARTIAL_GRID_AFTER_MINUTES",
    "PENDING",
    "REJECTED",
    "TOTAL_VOTES",
    "GoldShortage",
    "NotEnoughGold",
    "Tally",
    "VoteRule",
    "active_gold",
    "counted_votes",
    "counted_votes_of",
    "eligible_grids",
    "gold_create",
    "gold_from_segmentation",
    "gold_shortage",
    "grid_shape",
    "masks_awaiting_grid",
    "on_grid_complete",
    "segmentation_decide",
    "segmenter_block",
    "segmenter_check",
    "segmenter_reject_rate",
    "tally_votes",
    "validate_grid_answer",
    "verification_partial_grids_post",
    "verification_post_grids",
]
