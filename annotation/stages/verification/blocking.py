"""Stage 5, persistently bad segmenters: an annotator with at least
`verification_block_min_decided` (10) judged masks of whom at least
`verification_block_reject_rate` (0.5) were rejected is blocked, and ALL their masks (pending or
accepted) are discarded and their instances re-queued (thesis §2.4.3: "all work obtained from
such workers was discarded")."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from annotation.models import Annotation, Project, Stage, WorkerProfile
from annotation.models.projects import project_setting
from annotation.models.segmentation import Segmentation
from annotation.models.verification import VerificationDecision
from annotation.services import gold as gold_service
from annotation.services import qualification, task_engine
from annotation.services.people import profile_for
from annotation.stages.segmentation import segmentation_requeue
from annotation.stages.verification.defaults import BLOCK_MIN_DECIDED, BLOCK_REJECT_RATE


def segmenter_reject_rate(worker_id: int) -> tuple[int, int]:
    """(judged masks, rejected masks) of a segmenter, by the votes."""
    decisions = VerificationDecision.objects.filter(
        segmentation__worker_id=worker_id,
        outcome__in=[VerificationDecision.Outcome.ACCEPTED, VerificationDecision.Outcome.REJECTED],
    )
    judged = decisions.count()
    rejected = decisions.filter(outcome=VerificationDecision.Outcome.REJECTED).count()
    return judged, rejected


def segmenter_check(*, worker_id: int, project: Project) -> bool:
    """Block an annotator whose masks keep failing verification; True when blocked now."""
    judged, rejected = segmenter_reject_rate(worker_id)
    minimum = project_setting(project, "verification_block_min_decided", BLOCK_MIN_DECIDED)
    rate = project_setting(project, "verification_block_reject_rate", BLOCK_REJECT_RATE)
    if judged < minimum or rejected < rate * judged:
        return False
    worker = User.objects.get(id=worker_id)
    profile = profile_for(worker)
    if profile.blocked or profile.role != WorkerProfile.Role.ANNOTATOR:
        return False  # experts and admins are trusted; an admin judges them by hand
    segmenter_block(
        worker=worker,
        reason=f"{rejected} of {judged} segmentations failed verification "
        f"(limit {rate:.0%} once {minimum} are judged): all their segmentations discarded",
    )
    return True


def segmenter_block(*, worker: User, reason: str) -> int:
    """Block a segmenter and discard ALL their masks, accepted ones included (their
    Annotation rows go), re-queuing every instance. Returns how many masks were discarded."""
    with transaction.atomic():
        profile = WorkerProfile.objects.select_for_update().get(id=profile_for(worker).id)
        profile.blocked = True
        profile.blocked_reason = reason
        profile.save(update_fields=["blocked", "blocked_reason"])
        live = list(
            Segmentation.objects.select_for_update(of=("self",))
            .filter(
                worker=worker,
                status__in=[Segmentation.Status.PENDING, Segmentation.Status.ACCEPTED],
            )
            .select_related("image", "category", "task", "instance")
        )
        Annotation.objects.filter(source_segmentation__in=live).delete()
        discarded_ids = [segmentation.id for segmentation in live]
        qualification.references_retire_discarded(segmentation_ids=discarded_ids)
        gold_service.gold_retire_derived(segmentation_ids=discarded_ids)
        discarded = 0
        for segmentation in live:
            segmentation.status = Segmentation.Status.REJECTED
            segmentation.save(update_fields=["status"])
            VerificationDecision.objects.update_or_create(
                segmentation=segmentation,
                defaults={
                    "outcome": VerificationDecision.Outcome.DISCARDED,
                    "reason": "its author was blocked for persistently poor segmentations",
                    "requeued_task": segmentation_requeue(
                        segmentation=segmentation, rejected=False
                    ),
                },
            )
            discarded += 1
        # The blocked worker's open leases of segmentation tasks go back to the pool.
        task_engine.leases_release(worker=worker, stage=Stage.SEGMENTATION)
    return discarded
