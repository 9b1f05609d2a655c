"""Storing the model service's answers: one set of proposals per image and model version."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotation.errors import DomainError
from annotation.models import Image, ImageProposals

MAX_PROPOSALS_PER_IMAGE = 1000


def _checked(proposal: Any, image: Image) -> dict[str, Any]:
    if not isinstance(proposal, dict):
        raise DomainError("a proposal must be an object")
    rle, polygon, box, score = (
        proposal.get("rle"),
        proposal.get("polygon"),
        proposal.get("bbox_xywh"),
        proposal.get("score"),
    )
    if not (isinstance(rle, dict) and isinstance(rle.get("counts"), str)):
        raise DomainError("a proposal's rle must have string counts")
    if rle.get("size") != [image.height, image.width]:
        raise DomainError(f"a proposal's rle size {rle.get('size')} is not the image's")
    if not (isinstance(polygon, list) and len(polygon) % 2 == 0):
        raise DomainError("a proposal's polygon must be a flat list of x, y")
    if not isinstance(score, int | float) or isinstance(score, bool):
        raise DomainError("a proposal needs a numeric score")
    numbers = [*polygon, *(box or []), score]
    if not (isinstance(box, list) and len(box) == 4) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in numbers
    ):
        raise DomainError("a proposal needs a bbox_xywh of 4 numbers and a numeric score")
    return {
        "rle": {"size": rle["size"], "counts": rle["counts"]},
        "polygon": polygon,
        "bbox_xywh": box,
        "score": float(score),
        "area": int(proposal.get("area") or 0),
    }


@transaction.atomic
def proposals_store(
    *, image_id: int, model_version: str, proposals: list[Any]
) -> ImageProposals | None:
    """Store (or replace) an image's proposals from one model version, best first. None if
    the image is gone (deleted while the model service worked). Bad entries are refused."""
    image = Image.objects.filter(id=image_id).first()
    if image is None:
        return None
    if not model_version or len(model_version) > 100:
        raise DomainError("model_version must be 1-100 characters")
    if not isinstance(proposals, list) or len(proposals) > MAX_PROPOSALS_PER_IMAGE:
        raise DomainError(f"at most {MAX_PROPOSALS_PER_IMAGE} proposals per image")
    cleaned = sorted((_checked(p, image) for p in proposals), key=lambda p: -p["score"])
    stored, _ = ImageProposals.objects.update_or_create(
        image=image, model_version=model_version, defaults={"proposals": cleaned}
    )
    return stored
