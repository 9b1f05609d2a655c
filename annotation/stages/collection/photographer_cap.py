"""The photographer cap (thesis §2.3.2): "at most 5 photos taken by a single photographer
within a short time window" enter the candidate pool (`collection_photographer_cap` photos
within `collection_photographer_window_minutes`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from annotation.models import Project
from annotation.models.collection import Candidate
from annotation.stages.collection.defaults import setting


def photographer_cap_reached(
    taken: Iterable[datetime | None], date_taken: datetime | None, *, cap: int, window: timedelta
) -> bool:
    """Whether `cap` photos of the same photographer were already taken within `window`
    of this one. Undated photos count as one window of their own."""
    if date_taken is None:
        near = sum(1 for other in taken if other is None)
    else:
        near = sum(1 for other in taken if other is not None and abs(other - date_taken) <= window)
    return near >= cap


def photographer_cap_reason(
    *, project: Project, photographer: str, photographer_id: str, date_taken: datetime | None
) -> str:
    """Why a photo of this photographer is turned away ("" when it is not): the cap is
    reached by the candidates already in the pool (capped and failed ones do not count)."""
    key = photographer_id or photographer.strip().lower()
    if not key:
        return ""
    same_photographer = Candidate.objects.filter(project=project).exclude(
        status__in=[Candidate.Status.CAPPED, Candidate.Status.FAILED]
    )
    same_photographer = (
        same_photographer.filter(photographer_id=key)
        if photographer_id
        else same_photographer.filter(photographer_id="", photographer__iexact=photographer.strip())
    )
    cap = setting(project, "collection_photographer_cap")
    minutes = setting(project, "collection_photographer_window_minutes")
    if not photographer_cap_reached(
        same_photographer.values_list("date_taken", flat=True),
        date_taken,
        cap=cap,
        window=timedelta(minutes=minutes),
    ):
        return ""
    return f"{cap} photos of this photographer within {minutes} minutes are already in the pool"
