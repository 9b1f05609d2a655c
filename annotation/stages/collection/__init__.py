"""Stage 1: non-iconic image collection (thesis §2.3.2, §2.6, appendix A "Non-iconic Image
Collection"), one module per concern, in the order a photo meets them:

- defaults.py: the per-project numbers and their defaults;
- queries.py: query planning (object pairs, object + scene pairs, single-category fallback);
- intake.py: candidate intake from any source (annotation/sources/ call
  `collection_candidate_offer`), thumbnails and perceptual hashes;
- photographer_cap.py: "at most 5 photos per photographer within a short time window";
- duplicates.py: near-duplicate grouping by perceptual hash (union_find.py: the one
  union-find, shared with splits);
- grids.py: filtering grids of 128 thumbnails, one task each;
- votes.py: answer validation and vote aggregation (accepted candidates become Images and
  go on to category labeling);
- splits.py: about 1/2 train, 1/4 val, 1/4 test, "one photographer-day never straddles two
  splits" (§2.6);
- registration.py: registration with the task engine.
Views, commands and Celery tasks call the `collection_...` entry points re-exported here.
"""

from annotation.stages.collection import registration  # noqa: F401  registers the stage
from annotation.stages.collection.defaults import DEFAULTS, setting
from annotation.stages.collection.duplicates import (
    collection_near_duplicates_group,
    near_duplicate_groups,
)
from annotation.stages.collection.grids import collection_grids_post
from annotation.stages.collection.intake import (
    CandidateOffer,
    OfferOutcome,
    collection_candidate_offer,
    collection_thumbnail_for,
    collection_thumbnail_stored,
    photo_thumbnail,
)
from annotation.stages.collection.photographer_cap import (
    photographer_cap_reached,
    photographer_cap_reason,
)
from annotation.stages.collection.queries import (
    DEFAULT_PLAN_KINDS,
    PLAN_KINDS,
    YIELDED,
    collection_categories_needing_fallback,
    collection_queries_plan,
    collection_queries_plan_fallback,
    collection_queries_with_yield,
    collection_summary,
    plan_kinds_unknown,
    query_yield_annotations,
)
from annotation.stages.collection.splits import (
    SPLITS,
    SplitItem,
    collection_splits_assign,
    split_ratios,
    splits_for,
)
from annotation.stages.collection.votes import (
    collection_labeling_post,
    keep_votes_needed,
    on_collection_complete,
    validate_collection_answer,
)

__all__ = [
    "DEFAULTS",
    "DEFAULT_PLAN_KINDS",
    "PLAN_KINDS",
    "SPLITS",
    "YIELDED",
    "CandidateOffer",
    "OfferOutcome",
    "SplitItem",
    "collection_candidate_offer",
    "collection_categories_needing_fallback",
    "collection_grids_post",
    "collection_labeling_post",
    "collection_near_duplicates_group",
    "collection_queries_plan",
    "collection_queries_plan_fallback",
    "collection_queries_with_yield",
    "collection_splits_assign",
    "collection_summary",
    "collection_thumbnail_for",
    "collection_thumbnail_stored",
    "keep_votes_needed",
    "near_duplicate_groups",
    "on_collection_complete",
    "photo_thumbnail",
    "photographer_cap_reached",
    "photographer_cap_reason",
    "plan_kinds_unknown",
    "query_yield_annotations",
    "setting",
    "split_ratios",
    "splits_for",
    "validate_collection_answer",
]
