"""Stage 5, one mask's verdict applied: accepted -> Segmentation.status accepted and an
Annotation row (annotation_record); with only good votes it also becomes a training reference
(services/qualification.py). Rejected -> status rejected and its instance goes back to the
segmentation pool; with only poor votes it also becomes gold. The verdict itself is
`tally_votes` (votes.py)."""

from __future__ import annotations

from django.db import transaction

from annotation.models import Annotation
from annotation.models.segmentation import Segmentation
from annotation.models.verification import VerificationDecision
from annotation.services import gold as gold_service
from annotation.services import qualification
from annotation.services.annotations import annotation_record
from annotation.stages.segmentation import max_rejected_outlines_for, segmentation_requeue
from annotation.stages.verification.votes import (
    ACCEPTED,
    PENDING,
    REJECTED,
    VoteRule,
    counted_votes,
    tally_votes,
)


def segmentation_decide(*, segmentation_id: int) -> str:
    """Apply the tally to one mask: accept (Annotation row), reject (instance re-queued), or
    leave pending. Returns the mask's status; safe to run twice. The caller then checks the
    authors (segmenter_check)."""
    with transaction.atomic():
        segmentation = (
            Segmentation.objects.select_for_update(of=("self",))
            .select_related("image__project", "category", "task")
            .get(id=segmentation_id)
        )
        if segmentation.status != Segmentation.Status.PENDING:
            return segmentation.status
        project = segmentation.image.project
        tally = tally_votes(counted_votes(segmentation), VoteRule.for_project(project))
        if tally.verdict == PENDING:
            return PENDING
        if tally.verdict == ACCEPTED:
            segmentation.status = Segmentation.Status.ACCEPTED
            segmentation.save(update_fields=["status"])
            annotation_record(
                project=project,
                image=segmentation.image,
                category=segmentation.category,
                segmentation=segmentation.polygons,
                area=segmentation.area,
                bbox_xywh=segmentation.bbox_xywh,
                origin=Annotation.Origin.SEGMENTATION,
                source_segmentation=segmentation,
            )
            VerificationDecision.objects.update_or_create(
                segmentation=segmentation,
                defaults={
                    "outcome": VerificationDecision.Outcome.ACCEPTED,
                    "good_votes": tally.good,
                    "bad_votes": tally.bad,
                    "reason": f"{tally.good} of {tally.used} votes good",
                },
            )
            qualification.reference_from_accepted(
                segmentation=segmentation, good_votes=tally.good, bad_votes=tally.bad
            )
            return ACCEPTED
        segmentation.status = Segmentation.Status.REJECTED
        segmentation.save(update_fields=["status"])
        requeued = segmentation_requeue(segmentation=segmentation)
        reason = f"{tally.bad} of {tally.used} votes poor"
        if requeued is None:
            reason += (
                f"; the object is set aside for the admin after "
                f"{max_rejected_outlines_for(project)} rejected outlines"
            )
        VerificationDecision.objects.update_or_create(
            segmentation=segmentation,
            defaults={
                "outcome": VerificationDecision.Outcome.REJECTED,
                "good_votes": tally.good,
                "bad_votes": tally.bad,
                "reason": reason,
                "requeued_task": requeued,
            },
        )
        gold_service.gold_from_unanimous_rejection(
            segmentation=segmentation, good_votes=tally.good, bad_votes=tally.bad
        )
        return REJECTED
