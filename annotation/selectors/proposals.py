"""Reads of the model service's mask proposals (pre-annotation). Everything here works, and
returns nothing, when no proposals were stored: tasks never wait on the model service."""

from __future__ import annotations

from typing import Any

from annotation import proposal_geometry
from annotation.models import ImageProposals

SUGGESTION_MIN_SCORE = 0.5
SUGGESTION_LIMIT = 20


def proposals_latest(*, image_id: int) -> ImageProposals | None:
    """The image's proposals from the newest model version that answered for it."""
    return ImageProposals.objects.filter(image_id=image_id).order_by("-created_at", "-id").first()


def proposal_suggestions(*, image_id: int) -> list[dict[str, Any]]:
    """Proposal centres for instance spotting (x, y, score), confident ones only."""
    stored = proposals_latest(image_id=image_id)
    if stored is None:
        return []
    return proposal_geometry.suggestion_centres(
        stored.proposals, min_score=SUGGESTION_MIN_SCORE, limit=SUGGESTION_LIMIT
    )


def proposal_start(*, image_id: int, x: float, y: float) -> dict[str, Any] | None:
    """The best proposal covering a spot: where the segmentation editor may start from."""
    stored = proposals_latest(image_id=image_id)
    if stored is None:
        return None
    found = proposal_geometry.proposals_at(stored.proposals, x=x, y=y, limit=1)
    return {**found[0], "model_version": stored.model_version} if found else None
