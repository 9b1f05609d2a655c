"""Stage 1's numbers, each overridable per project (Project.stage_settings)."""

from __future__ import annotations

from annotation.models import Project
from annotation.models.projects import project_setting

DEFAULTS: dict[str, int | float | str] = {
    "collection_grid_size": 128,  # appendix A: "a grid of 128 candidates"
    "collection_answers_per_grid": 3,
    # Keep votes (workers who did NOT mark a photo) needed to accept it; 0 = a strict
    # majority of the answers.
    "collection_keep_votes": 0,
    "collection_photographer_cap": 5,  # §2.3.2: at most 5 photos per photographer...
    "collection_photographer_window_minutes": 60,  # ...within a short time window
    # Hamming distance (of 64 bits) at or under which two perceptual hashes are one photo.
    "collection_near_duplicate_bits": 5,
    "collection_split_train": 0.5,  # §2.6: about 1/2 train, 1/4 val, 1/4 test
    "collection_split_val": 0.25,
    "collection_split_test": 0.25,
    "collection_photos_per_query": 100,
    "collection_per_page": 100,
    # A category whose run queries stored fewer candidates than this gets a single query.
    "collection_fallback_min_yield": 10,
    # Flickr licence ids (all but 0, "All Rights Reserved") and sort order.
    "collection_flickr_license": "1,2,3,4,5,6,7,8,9,10",
    "collection_flickr_sort": "relevance",
}


def setting(project: Project, key: str):  # type: ignore[no-untyped-def]
    return project_setting(project, key, DEFAULTS[key])
