"""The generic task engine: post tasks, lease them to workers, take answers exactly once.

Every stage uses it the same way: `task_post` creates a task with one Assignment slot per
answer needed; `task_next_for_worker` leases one free slot to a worker; `assignment_submit`
records the answer once per idempotency key; when every slot is answered the stage's
`on_task_complete` runs in a Celery task after the commit (the `task_completed` signal of
annotation/events.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    PositiveIntegerField,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.utils import timezone

from annotation import events, stages
from annotation.errors import (
    AnswerInvalid,
    KeyReused,
    LeaseExpired,
    NotFound,
    NotYours,
    WorkerBlocked,
    WrongState,
)
from annotation.models import Assignment, Image, Instance, Project, Stage, Task
from annotation.models.taxonomy import Category
from annotation.services.membership import member_projects
from annotation.services.people import profile_for

logger = logging.getLogger(__name__)

LIVE_OR_ANSWERED = [
    Assignment.Status.LEASED,
    Assignment.Status.SUBMITTED,
    Assignment.Status.REJECTED,
]


def task_post(
    *,
    project: Project,
    stage: str,
    answers_needed: int,
    image: Image | None = None,
    category: Category | None = None,
    instance: Instance | None = None,
    payload: dict | None = None,
    priority: int = 0,
) -> Task:
    """Create a task and its answer slots. The stage must have registered its rules."""
    stages.rules_for(stage)
    if answers_needed < 1:
        raise AnswerInvalid("a task needs at least one answer")
    with transaction.atomic():
        task = Task.objects.create(
            project=project,
            stage=stage,
            image=image,
            category=category,
            instance=instance,
            payload=payload or {},
            answers_needed=answers_needed,
            priority=priority,
        )
        Assignment.objects.bulk_create(Assignment(task=task) for _ in range(answers_needed))
    return task


FREED_SLOT = {"status": Assignment.Status.FREE, "worker": None, "leased_at": None,
              "lease_expires_at": None}  # fmt: skip


# What a slot whose lease ran out records when it goes back to the pool (the periodic
# release) or straight to the next worker (the lease query): one more expiry, and who held it,
# so that holder's late submit is told "lease expired" (409) rather than "not yours".
EXPIRY_COUNTED = {"expired_leases": F("expired_leases") + 1, "expired_worker": F("worker")}


def lease_ran_out(now: datetime) -> Q:
    """A slot still marked leased whose lease ran out: as good as free."""
    return Q(status=Assignment.Status.LEASED, lease_expires_at__lt=now)


def slot_claimable(now: datetime) -> Q:
    """A slot the lease query may hand out: free, or leased with its lease run out. No sweep
    has to free an expired slot first (issue 17: `next` used to run a global UPDATE)."""
    return Q(status=Assignment.Status.FREE) | lease_ran_out(now)


def leases_release_expired(*, now: datetime | None = None) -> int:
    """Return leases that ran out to the pool; the slot forgets its worker. The periodic
    task runs it (pipelines/tasks/engine.py, every minute) so the admin's counts of leased
    slots stay true; leasing does not need it."""
    now = now or timezone.now()
    return Assignment.objects.filter(lease_ran_out(now)).update(**FREED_SLOT, **EXPIRY_COUNTED)


def leases_release(*, worker: User, stage: str) -> int:
    """Return every task of a stage that this worker holds to the pool (a blocked worker)."""
    return Assignment.objects.filter(
        worker=worker, status=Assignment.Status.LEASED, task__stage=stage
    ).update(**FREED_SLOT)


def tasks_open_to(worker: User, stage: str, project: Project | None) -> QuerySet:
    """Open tasks of a stage this worker has not answered or held, and may take: only tasks
    of projects they are a member of (admins: every project)."""
    answered_or_held = Assignment.objects.filter(
        task=OuterRef("pk"), worker=worker, status__in=LIVE_OR_ANSWERED
    )
    tasks = Task.objects.filter(
        stage=stage, status=Task.Status.OPEN, project__in=member_projects(worker)
    ).exclude(Exists(answered_or_held))
    if project is not None:
        tasks = tasks.filter(project=project)
    return stages.rules_for(stage).eligible_tasks(tasks, worker)


# How many candidate tasks one step of the lease query looks at (see _lease_one_free_slot).
LEASE_CANDIDATES = 100
# The lease's answer carries its task, photo and category (the serializer reads them).
LEASED_WITH = ("task", "task__image", "task__category")


def _lease_one_free_slot(worker: User, tasks: QuerySet, now: datetime) -> Assignment | None:
    """Lease the first claimable slot of the first open tasks in (priority, id) order.

    Two steps (issue 17): a page of candidate tasks with a claimable slot, read from the
    task index alone, then a locked claim among just their slots. One query joining every
    slot to its task for the order made PostgreSQL scan the whole task table on each lease.
    When every slot of a page is taken by concurrent requests, the next page is tried."""
    claimable = Assignment.objects.filter(slot_claimable(now), task=OuterRef("pk"))
    candidates = tasks.filter(Exists(claimable)).order_by("priority", "id")
    after: tuple[int, int] | None = None
    while True:
        page = candidates
        if after is not None:
            priority, task_id = after
            page = page.filter(Q(priority__gt=priority) | Q(priority=priority, id__gt=task_id))
        rows = list(page.values_list("priority", "id")[:LEASE_CANDIDATES])
        if not rows:
            return None
        leased = _claim_among([task_id for _, task_id in rows], worker, now)
        if leased is not None or len(rows) < LEASE_CANDIDATES:
            return leased
        after = rows[-1]


def _claim_among(task_ids: list[int], worker: User, now: datetime) -> Assignment | None:
    """Lease the first claimable slot of these tasks that no concurrent request holds, in
    one UPDATE (issue 17: one round trip where a SELECT ... FOR UPDATE, a savepoint and an
    UPDATE took five)."""
    slots = Assignment.objects.filter(slot_claimable(now), task_id__in=task_ids).order_by(
        "task__priority", "task_id", "id"
    )
    # SKIP LOCKED: concurrent requests each take a different slot instead of queueing on the
    # same one. On SQLite, which has no row locks, the claimable condition in the UPDATE is
    # the compare-and-swap that keeps two requests off one slot. A slot whose lease ran out
    # counts the expiry and remembers its last holder, as leases_release_expired does (the
    # CASE reads the row as it was before the update).
    # `id = (SELECT ...)`: a scalar subquery runs once (`id IN (SELECT ...)` may run per row
    # and picked a second slot of the task).
    pick = slots.select_for_update(skip_locked=True, of=("self",)).values("id")[:1]
    was_leased = Q(status=Assignment.Status.LEASED)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                leased = Assignment.objects.filter(slot_claimable(now), id=Subquery(pick))
                taken = leased.update(
                    expired_leases=Case(
                        When(was_leased, then=EXPIRY_COUNTED["expired_leases"]),
                        default=F("expired_leases"),
                        output_field=PositiveIntegerField(),
                    ),
                    expired_worker=Case(
                        When(was_leased, then=EXPIRY_COUNTED["expired_worker"]),
                        default=F("expired_worker"),
                        output_field=IntegerField(),
                    ),
                    status=Assignment.Status.LEASED,
                    worker=worker,
                    leased_at=now,
                    lease_expires_at=now + timedelta(seconds=settings.TASK_LEASE_SECONDS),
                )
        except IntegrityError:
            # The same worker raced itself onto another slot of this task.
            continue
        if not taken:
            return None
        return (
            Assignment.objects.select_related(*LEASED_WITH)
            .filter(worker=worker, status=Assignment.Status.LEASED, leased_at=now)
            .order_by("-id")
            .first()
        )
    return None


def _leases_held(worker: User, now: datetime) -> list[Assignment]:
    """The worker's live leases, oldest slot first. One read; a lease of theirs that ran out
    goes back to the pool here (a write only then), so they may lease that task again."""
    held = list(
        Assignment.objects.filter(worker=worker, status=Assignment.Status.LEASED)
        .select_related(*LEASED_WITH)
        .order_by("id")
    )
    ran_out = [a.id for a in held if a.lease_expires_at is not None and a.lease_expires_at < now]
    if ran_out:
        Assignment.objects.filter(lease_ran_out(now), id__in=ran_out).update(
            **FREED_SLOT, **EXPIRY_COUNTED
        )
    return [a for a in held if a.id not in ran_out]


def task_next_for_worker(
    *,
    worker: User,
    stage: str | None = None,
    project: Project | None = None,
    now: datetime | None = None,
) -> Assignment | None:
    """Lease the next task this worker has not answered, or return None when there is none.

    A worker who already holds a live lease (e.g. after reloading the page) gets it back. A
    slot whose lease ran out is leased directly (no global release of expired leases first).
    """
    if profile_for(worker).blocked:
        raise WorkerBlocked("your account is blocked from new work; ask an admin")
    now = now or timezone.now()
    held = _leases_held(worker, now)
    wanted_stages = [stage] if stage else [s for s in Stage.values if stages.is_registered(s)]
    for wanted in wanted_stages:
        existing = next(
            (
                a
                for a in held
                if a.task.stage == wanted and (project is None or a.task.project_id == project.pk)
            ),
            None,
        )
        if existing is not None:
            return existing
        leased = _lease_one_free_slot(worker, tasks_open_to(worker, wanted, project), now)
        if leased is not None:
            return leased
    return None


def task_lease_for_worker(
    *, worker: User, task: Task, now: datetime | None = None
) -> Assignment | None:
    """Lease a free slot of one given task (a marketplace HIT carries exactly one task), or
    give back the live lease the worker already holds on it; None when the worker may not
    take it now (complete, every slot taken, answered before, not eligible). The same slot
    lease as `task_next_for_worker`, so the database constraints decide races."""
    if profile_for(worker).blocked:
        raise WorkerBlocked("your account is blocked from new work; ask an admin")
    now = now or timezone.now()
    _leases_held(worker, now)  # only this worker's run-out leases go back (no global write)
    held = Assignment.objects.filter(
        worker=worker, task=task, status=Assignment.Status.LEASED, lease_expires_at__gte=now
    ).select_related("task")
    with transaction.atomic():
        # One worker's concurrent requests (the HIT page loaded twice at once) queue on their
        # user row, so the second finds the first's lease instead of racing it for a slot.
        list(User.objects.select_for_update().filter(pk=worker.pk).values_list("pk"))
        if (existing := held.first()) is not None:
            return existing
        tasks = tasks_open_to(worker, task.stage, task.project).filter(pk=task.pk)
        return _lease_one_free_slot(worker, tasks, now)


def assignment_submit(
    *,
    assignment_id: int,
    worker: User,
    answer: Any,
    key: str,
    time_spent_seconds: float | None = None,
    now: datetime | None = None,
) -> Assignment:
    """Record one answer; a retry with the same key returns the first result unchanged."""
    if not key or len(key) > 100:
        raise AnswerInvalid("idempotency_key is required (1-100 characters)")
    if time_spent_seconds is not None and not (0 <= time_spent_seconds < 7 * 24 * 3600):
        raise AnswerInvalid("time_spent_seconds must be between 0 and a week")
    now = now or timezone.now()
    slot = Assignment.objects.filter(id=assignment_id).values("task_id").first()
    if slot is None:
        raise NotFound(f"assignment {assignment_id} does not exist")
    with transaction.atomic():
        # Lock order: the task, then its slot, as every stage's completion rule does (it
        # locks the task and then inserts rows referencing the slot). Locking the slot first
        # deadlocked against a completion under concurrent submits. NO KEY UPDATE: rows that
        # merely reference the task or the slot (spots, masks) are not blocked.
        task = Task.objects.select_for_update(no_key=True).get(id=slot["task_id"])
        assignment = (
            Assignment.objects.select_for_update(no_key=True, of=("self",))
            .filter(id=assignment_id)
            .first()
        )
        if assignment is None:
            raise NotFound(f"assignment {assignment_id} does not exist")
        assignment.task = task
        if assignment.worker_id != worker.pk:
            if assignment.expired_worker_id == worker.pk:
                raise LeaseExpired(_lease_expired_reason(assignment_id, taken=True))
            raise NotYours(assignment_id)
        if assignment.submission_key == key:
            return assignment  # the retried submit of an answer already counted
        if Assignment.objects.filter(worker=worker, submission_key=key).exists():
            raise KeyReused(f"idempotency key {key!r} was already used for another answer")
        if assignment.status != Assignment.Status.LEASED:
            raise WrongState(
                f"assignment {assignment_id} is {assignment.get_status_display().lower()}, "
                "not leased: it cannot take an answer"
            )
        if assignment.lease_expires_at is not None and assignment.lease_expires_at < now:
            raise LeaseExpired(_lease_expired_reason(assignment_id, taken=False))
        cleaned = stages.rules_for(task.stage).validate_answer(task, answer)
        assignment.status = Assignment.Status.SUBMITTED
        assignment.answer = cleaned
        assignment.submission_key = key
        assignment.submitted_at = now
        assignment.time_spent_seconds = time_spent_seconds
        try:
            with transaction.atomic():
                assignment.save(
                    update_fields=[
                        "status",
                        "answer",
                        "submission_key",
                        "submitted_at",
                        "time_spent_seconds",
                    ]
                )
        except IntegrityError:
            # The same key sent at the same moment for another of this worker's slots: the
            # unique (worker, submission_key) constraint decided which one counts.
            raise KeyReused(
                f"idempotency key {key!r} was already used for another answer"
            ) from None
        answered = task.assignments.filter(status=Assignment.Status.SUBMITTED).count()
        if answered >= task.answers_needed and task.status == Task.Status.OPEN:
            task.status = Task.Status.COMPLETE
            task.completed_at = now
            task.save(update_fields=["status", "completed_at"])
            # The stage's completion rule runs in a Celery task once this commits
            # (pipelines.tasks.engine.advance_task); the periodic sweep re-sends a lost one.
            events.send_on_commit(events.task_completed, task_id=task.id)
    return assignment


def _lease_expired_reason(assignment_id: int, *, taken: bool) -> str:
    where = "went back to the pool" if taken else "ran out"
    return (
        f"your lease on assignment {assignment_id} {where} before the answer arrived "
        f"(leases last {settings.TASK_LEASE_SECONDS // 60} minutes); the answer was not "
        "counted: lease a task again to resubmit your draft"
    )


def assignment_release(*, assignment_id: int, worker: User) -> Assignment:
    """A worker gives a leased task back to the pool without answering."""
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().filter(id=assignment_id).first()
        if assignment is None:
            raise NotFound(f"assignment {assignment_id} does not exist")
        if assignment.worker_id != worker.pk:
            raise NotYours(assignment_id)
        if assignment.status != Assignment.Status.LEASED:
            raise WrongState(f"assignment {assignment_id} is not leased")
        assignment.status = Assignment.Status.FREE
        assignment.worker = None
        assignment.leased_at = None
        assignment.lease_expires_at = None
        assignment.save(update_fields=["status", "worker", "leased_at", "lease_expires_at"])
    return assignment


def assignment_reject(*, assignment_id: int, reason: str) -> Assignment:
    """Quality control rejects an answer: it stops counting and the task re-enters the pool
    with a fresh slot, so another worker answers in its place."""
    with transaction.atomic():
        # Lock order: the task, then its slot (as assignment_submit).
        task_id = Assignment.objects.values_list("task_id", flat=True).get(id=assignment_id)
        task = Task.objects.select_for_update().get(id=task_id)
        assignment = Assignment.objects.select_for_update(of=("self",)).get(id=assignment_id)
        if assignment.status != Assignment.Status.SUBMITTED:
            raise WrongState(f"only a submitted answer can be rejected ({reason})")
        assignment.status = Assignment.Status.REJECTED
        assignment.save(update_fields=["status"])
        Assignment.objects.create(task=task)
        if task.status == Task.Status.COMPLETE:
            task.status = Task.Status.OPEN
            task.completed_at = None
            task.result = None
            task.save(update_fields=["status", "completed_at", "result"])
    return assignment


def task_advance(*, task_id: int) -> None:
    """Run the stage's completion rule for a complete task. Safe to run twice: the stage's
    rule is idempotent and a task reopened in between is left alone."""
    task = Task.objects.filter(id=task_id).first()
    if task is None or task.status != Task.Status.COMPLETE:
        return
    stages.rules_for(task.stage).on_task_complete(task)


def tasks_post_many(
    *, project: Project, stage: str, answers_needed: int, items: list[dict[str, Any]]
) -> list[Task]:
    """`task_post` for many tasks of one stage at once: one bulk insert for the tasks and one
    for all their answer slots, in one transaction. Each item may name `image`, `category`,
    `instance` (a model object or its id), `payload` and `priority`, as task_post takes
    them. Returns the tasks, with their ids, in the order of `items`."""
    stages.rules_for(stage)
    if answers_needed < 1:
        raise AnswerInvalid("a task needs at least one answer")
    if not items:
        return []

    def task_of(item: dict[str, Any]) -> Task:
        task = Task(
            project=project,
            stage=stage,
            payload=item.get("payload") or {},
            answers_needed=answers_needed,
            priority=item.get("priority", 0),
        )
        for name in ("image", "category", "instance"):
            value = item.get(name)
            if isinstance(value, int):
                setattr(task, f"{name}_id", value)
            elif value is not None:
                setattr(task, name, value)
        return task

    with transaction.atomic():
        tasks = Task.objects.bulk_create([task_of(item) for item in items], batch_size=1000)
        Assignment.objects.bulk_create(
            [Assignment(task=task) for task in tasks for _ in range(answers_needed)],
            batch_size=1000,
        )
    return tasks
