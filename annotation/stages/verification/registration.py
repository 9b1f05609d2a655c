"""Stage 5's registration with the task engine: who may take a grid, how its answers are
checked and what a completed grid does."""

from __future__ import annotations

from annotation.models import Stage
from annotation.stages import StageRules, register
from annotation.stages.verification.answers import eligible_grids, validate_grid_answer
from annotation.stages.verification.judging import on_grid_complete

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
