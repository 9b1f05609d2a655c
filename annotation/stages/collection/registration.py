"""Stage 1's registration with the task engine: how its answers are checked and what a
completed grid does."""

from __future__ import annotations

from annotation import stages
from annotation.models import Stage
from annotation.stages.collection.votes import on_collection_complete, validate_collection_answer

stages.register(
    stages.StageRules(
        stage=Stage.COLLECTION,
        validate_answer=validate_collection_answer,
        on_task_complete=on_collection_complete,
        tool_url_name="collection-grid",
        description="Mark the iconic or invalid photos in a grid of candidates.",
    )
)
