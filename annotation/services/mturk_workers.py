"""Amazon Mechanical Turk, the worker side: what happens when MTurk opens a HIT's
ExternalQuestion page (`/mturk/external/`) in its iframe.

MTurk adds `assignmentId`, `hitId`, `workerId` and `turkSubmitTo` to the page's address.
- Preview (`assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE`): the stage's instructions only; no
  account, no session, no lease, and nothing of the task (no photo, no answers, no gold).
- Accepted: the worker id is matched to a cocoforge account (made on first visit, with no
  usable password, as an annotator of the HIT's project), the MTurk assignment is recorded
  (once per assignment id), and the HIT's one task is leased to the worker with the task
  engine's slot lease. Their answer goes through the ordinary submit; then the MTurk
  assignment is linked to the answer slot it filled, and the page posts MTurk's
  externalSubmit form to `turkSubmitTo`, which must be one of `MTURK_SUBMIT_HOSTS`.

Threat model (docs/admin/security-model.md): a worker id is not a secret, so anyone who
knows one can act as that worker here. What limits the harm: MTurk pays only assignments it
reports for that worker (the requester side syncs from MTurk, never from this table); an
assignment id belongs to the worker who first brought it; the account is an annotator of the
HIT's project only and takes work only through HITs (no free leasing); an account that was
given any other role is refused here rather than signed in without a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation import stages
from annotation.errors import DomainError, NotFound, WrongState
from annotation.models import Assignment, Category, Membership, Stage, Task, WorkerProfile
from annotation.models.marketplace import MTurkAssignment, MTurkHIT, MTurkWorker
from annotation.services import qualification, task_engine
from annotation.services.membership import membership_add
from annotation.services.people import profile_for

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
# MTurk's ids are upper-case letters and digits (worker ids ~14, HIT and assignment ids 30).
MTURK_ID = re.compile(r"[A-Z0-9]{1,64}")
USERNAME_PREFIX = "mturk-"
LIVE_HIT = (MTurkHIT.Status.ASSIGNABLE, MTurkHIT.Status.UNASSIGNABLE, MTurkHIT.Status.REVIEWABLE)


class MTurkRequestInvalid(DomainError):
    code = "mturk_invalid"


class ReturnTheHit(DomainError):
    """The HIT cannot be worked now: the worker should return it on MTurk (unpaid, no harm)."""

    status_code = 410
    code = "return_the_hit"


class NotYourMTurkAssignment(DomainError):
    status_code = 403
    code = "not_yours"


@dataclass(frozen=True)
class HitEntry:
    """What the accepted HIT page shows: the tool on `lease`, the training for
    `training_category` first, or (already answered) only the form that tells MTurk."""

    user: User
    hit: MTurkHIT
    mturk_assignment: MTurkAssignment
    submit_url: str
    lease: Assignment | None = None
    training_category: Category | None = None

    @property
    def kind(self) -> str:
        if self.mturk_assignment.status != MTurkAssignment.Status.ACCEPTED:
            return "submitted"
        return "training" if self.training_category is not None else "work"


def _mturk_id(value: str | None, name: str) -> str:
    if not value or not MTURK_ID.fullmatch(value):
        raise MTurkRequestInvalid(
            f"the {name} is missing or is not an MTurk id (capital letters and digits): open this "
            "page from the HIT on MTurk"
        )
    return value


def is_preview(assignment_id: str | None) -> bool:
    return assignment_id == PREVIEW_ASSIGNMENT


def external_submit_url(turk_submit_to: str | None) -> str:
    """MTurk's externalSubmit address on the host MTurk named, only if it is one of
    `MTURK_SUBMIT_HOSTS` (never an open redirect: the page posts the worker there)."""
    host = (turk_submit_to or "").strip().rstrip("/")
    allowed = [h.rstrip("/") for h in settings.MTURK_SUBMIT_HOSTS]
    if host not in allowed:
        raise MTurkRequestInvalid(
            f"the turkSubmitTo {turk_submit_to!r} is not an MTurk site ({', '.join(allowed)}); "
            "open this page from the HIT on MTurk"
        )
    return f"{host}/mturk/externalSubmit"


def hit_by_id(hit_id: str | None) -> MTurkHIT:
    hit = (
        MTurkHIT.objects.select_related("project", "task").filter(hit_id=_mturk_id(hit_id, "hitId"))
    ).first()
    if hit is None:
        raise NotFound(f"HIT {hit_id} was not published by this site; return it on MTurk")
    return hit


def hit_preview(hit_id: str | None) -> dict[str, Any]:
    """What a worker sees before accepting: the job and its instructions, nothing of the task
    itself (its photo, payload, other answers or whether it is gold)."""
    hit = hit_by_id(hit_id)
    rules = stages.rules_for(hit.stage) if stages.is_registered(hit.stage) else None
    return {
        "hit": hit,
        "stage_label": Stage(hit.stage).label if hit.stage in Stage.values else hit.stage,
        "instructions": rules.description if rules else "",
        "available": hit.status in LIVE_HIT and hit.task_id is not None,
    }


class MarketplaceOnly(DomainError):
    status_code = 403
    code = "marketplace_only"


def is_marketplace_account(user: User) -> bool:
    return MTurkWorker.objects.filter(user=user).exists()


def refuse_free_leasing(user: User) -> None:
    """An account signed in from MTurk without a password works only through the HIT it
    holds: no leasing, answering or releasing through the ordinary task endpoints (an
    answer given there would not be linked to the MTurk assignment, so never reviewed)."""
    if is_marketplace_account(user):
        raise MarketplaceOnly(
            "an MTurk worker's account takes work only through the HIT it accepted on MTurk"
        )


def worker_account(*, worker_id: str, hit: MTurkHIT) -> User:
    """The cocoforge account of an MTurk worker id, made on first arrival: no usable
    password, annotator, member of the HIT's project. Safe under concurrent first visits."""
    worker_id = _mturk_id(worker_id, "workerId")
    found = MTurkWorker.objects.select_related("user").filter(worker_id=worker_id)
    worker = found.first()
    if worker is None:
        username = f"{USERNAME_PREFIX}{worker_id}"
        try:
            with transaction.atomic():
                user = User(username=username)
                user.set_unusable_password()
                user.save()
                WorkerProfile.objects.create(user=user, role=WorkerProfile.Role.ANNOTATOR)
                worker = MTurkWorker.objects.create(worker_id=worker_id, user=user)
        except IntegrityError:
            # The same worker's other request made the account first, or the name belongs
            # to a person who is not this worker (never taken over).
            worker = found.first()
            if worker is None:
                raise MTurkRequestInvalid(
                    f"the account name {username!r} is taken by a person who is not this "
                    "MTurk worker; ask the requester"
                ) from None
    user = worker.user
    profile = profile_for(user)
    if user.is_staff or user.is_superuser or profile.role != WorkerProfile.Role.ANNOTATOR:
        # Signing in without a password is only acceptable for an account that can do
        # nothing but annotate.
        raise NotYourMTurkAssignment(
            "this MTurk worker's account was given another role, so it cannot sign in from "
            "MTurk; ask the requester"
        )
    if not Membership.objects.filter(user=user, project=hit.project).exists():
        membership_add(project=hit.project, user=user, role=Membership.Role.ANNOTATOR)
    return user


def _mturk_assignment(*, assignment_id: str, hit: MTurkHIT, user: User) -> MTurkAssignment:
    """The MTurk assignment, recorded on first arrival; later visits (a reload) find it.
    An assignment id stays with the worker and HIT that first brought it."""
    found = MTurkAssignment.objects.filter(assignment_id=assignment_id).first()
    if found is None:
        try:
            with transaction.atomic():
                found = MTurkAssignment.objects.create(
                    assignment_id=assignment_id, hit=hit, worker=user.mturk_worker
                )
        except IntegrityError:
            found = MTurkAssignment.objects.get(assignment_id=assignment_id)
    if found.hit_id != hit.pk or found.worker.user_id != user.pk:
        raise NotYourMTurkAssignment(
            f"assignment {assignment_id} belongs to another worker or HIT; open the HIT from MTurk"
        )
    return found


def _why_not_leased(*, user: User, task: Task) -> str:
    if task.status != Task.Status.OPEN:
        return "this task is already complete"
    answered = Assignment.objects.filter(
        task=task, worker=user, status__in=[Assignment.Status.SUBMITTED, Assignment.Status.REJECTED]
    )
    if answered.exists():
        return "you have already answered this task"
    if not stages.rules_for(task.stage).eligible_tasks(Task.objects.filter(pk=task.pk), user):
        return "this task is not open to you (you trained on this photo)"
    return "every answer this task needs is being worked on by other workers right now"


def _lease(*, user: User, hit: MTurkHIT, now: datetime | None) -> Assignment:
    if hit.task is None or hit.status not in LIVE_HIT:
        raise ReturnTheHit("this HIT is no longer available here: please return it on MTurk")
    task = hit.task
    leased = task_engine.task_lease_for_worker(worker=user, task=task, now=now)
    if leased is None:
        raise ReturnTheHit(f"{_why_not_leased(user=user, task=task)}: please return the HIT")
    return leased


def _needs_training(user: User, task: Task) -> Category | None:
    if task.stage != Stage.SEGMENTATION or task.category is None:
        return None
    if qualification.is_qualified(worker=user, category=task.category):
        return None
    return task.category


def hit_enter(
    *,
    hit_id: str | None,
    worker_id: str | None,
    assignment_id: str | None,
    turk_submit_to: str | None,
    now: datetime | None = None,
) -> HitEntry:
    """An accepted HIT opened (or reloaded): the account, the MTurk assignment and the lease
    of the HIT's task; raises a DomainError with the reason a worker can act on."""
    submit_url = external_submit_url(turk_submit_to)
    assignment_id = _mturk_id(assignment_id, "assignmentId")
    hit = hit_by_id(hit_id)
    user = worker_account(worker_id=worker_id or "", hit=hit)
    mturk_assignment = _mturk_assignment(assignment_id=assignment_id, hit=hit, user=user)
    if mturk_assignment.status != MTurkAssignment.Status.ACCEPTED:
        return HitEntry(user, hit, mturk_assignment, submit_url)
    if hit.task is not None and hit.status in LIVE_HIT:
        category = _needs_training(user, hit.task)
        if category is not None:
            return HitEntry(user, hit, mturk_assignment, submit_url, training_category=category)
    lease = _lease(user=user, hit=hit, now=now)
    return HitEntry(user, hit, mturk_assignment, submit_url, lease=lease)


def _held_mturk_assignment(*, user: User, assignment_id: str) -> MTurkAssignment:
    found = (
        MTurkAssignment.objects.select_related("hit__task", "worker")
        .filter(assignment_id=assignment_id, worker__user=user)
        .first()
    )
    if found is None:
        raise NotFound(f"you hold no MTurk assignment {assignment_id}")
    return found


def lease_again(*, user: User, assignment_id: str) -> Assignment:
    """The tool's lease loop asking for its task (first load, or after a lease ran out)."""
    mturk_assignment = _held_mturk_assignment(user=user, assignment_id=assignment_id)
    if mturk_assignment.status != MTurkAssignment.Status.ACCEPTED:
        raise WrongState(f"MTurk assignment {assignment_id} was already submitted")
    return _lease(user=user, hit=mturk_assignment.hit, now=None)


def answer_submit(
    *,
    user: User,
    assignment_id: str,
    slot_id: int,
    answer: Any,
    key: str,
    time_spent_seconds: float | None = None,
) -> MTurkAssignment:
    """The answer for the HIT's task, through the task engine's submit; in the same
    transaction the MTurk assignment is linked to the answer slot it filled. A retry with
    the same key returns the first result."""
    with transaction.atomic():
        mturk_assignment = _held_mturk_assignment(user=user, assignment_id=assignment_id)
        mturk_assignment = MTurkAssignment.objects.select_for_update().get(pk=mturk_assignment.pk)
        slot_task = Assignment.objects.filter(id=slot_id).values_list("task_id", flat=True).first()
        hit = MTurkHIT.objects.get(pk=mturk_assignment.hit_id)
        if slot_task is None or hit.task_id is None or slot_task != hit.task_id:
            raise MTurkRequestInvalid(
                f"answer slot {slot_id} is not of the task of HIT {hit.hit_id}"
            )
        if mturk_assignment.status not in (
            MTurkAssignment.Status.ACCEPTED,
            MTurkAssignment.Status.SUBMITTED,
        ) or mturk_assignment.answer_slot_id not in (None, slot_id):
            raise WrongState(f"MTurk assignment {assignment_id} already has its answer")
        slot = task_engine.assignment_submit(
            assignment_id=slot_id,
            worker=user,
            answer=answer,
            key=key,
            time_spent_seconds=time_spent_seconds,
        )
        if mturk_assignment.answer_slot_id == slot.pk:
            return mturk_assignment  # the retried submit
        mturk_assignment.answer_slot = slot
        mturk_assignment.status = MTurkAssignment.Status.SUBMITTED
        mturk_assignment.submitted_at = slot.submitted_at or timezone.now()
        try:
            with transaction.atomic():
                mturk_assignment.save(update_fields=["answer_slot", "status", "submitted_at"])
        except IntegrityError:
            raise WrongState(
                "this answer was already sent with another of your MTurk assignments"
            ) from None
    return mturk_assignment
