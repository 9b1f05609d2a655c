"""Stage 5's numbers, from the thesis (appendix A); every one is a project setting
(Project.stage_settings) read where it is used."""

from __future__ import annotations

from annotation.errors import DomainError
from annotation.models import Project
from annotation.models.projects import project_setting

GRID_SIZE = 64  # cells per grid ...
GOLD_PER_GRID = 4  # ... of which this many are known-bad gold
MIN_GOLD_CAUGHT = 3  # an answer that catches fewer of the gold is void
FIRST_VOTES = 3  # every mask is first shown to 3 workers ...
TOTAL_VOTES = 5  # ... and to 2 more when any of them said poor
MIN_GOOD_OF_TOTAL = 4  # accepted with at least 4 favourable votes of the 5
BLOCK_MIN_DECIDED = 10  # a segmenter is judged once this many masks are decided ...
BLOCK_REJECT_RATE = 0.5  # ... and blocked when this share of them was rejected
GOLD_POOL = 32  # gold made from real work kept at hand, so grids rarely repeat a gold cell
PARTIAL_GRID_AFTER_MINUTES = 30  # a quiet period after which the last masks go out anyway


def grid_shape(project: Project) -> tuple[int, int]:
    """(cells per grid, gold cells per grid) of the project."""
    size = project_setting(project, "verification_grid_size", GRID_SIZE)
    gold = project_setting(project, "verification_gold_per_grid", GOLD_PER_GRID)
    if size <= gold:
        raise DomainError(f"a grid of {size} cells cannot hold {gold} gold cells and masks")
    return size, gold
