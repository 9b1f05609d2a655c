"""The task engine's Celery tasks: a complete task's completion rule, and lease upkeep."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.dispatch import receiver

from annotation import events
from annotation.services import task_engine
from pipelines.tasks.handoff import handoff_task, send_handoff


@handoff_task()
def advance_task(task_id: int) -> None:
    """Run the stage's completion rule for a task that has all its answers. Idempotent: the
    rule reads the task under a row lock and stores each result once; a task reopened in
    between is left alone."""
    task_engine.task_advance(task_id=task_id)


@receiver(events.task_completed, dispatch_uid="pipelines.advance_task")
def _queue_advance(sender: Any, *, task_id: int, **kwargs: Any) -> None:
    send_handoff(advance_task, task_id)


@handoff_task()
def release_expired_leases() -> int:
    """Periodic (celery beat): leases that ran out go back to the pool. Idempotent."""
    return task_engine.leases_release_expired()


@shared_task
def ping() -> str:
    """Answers 'pong' from whichever worker runs it (health checks, the worker test)."""
    return "pong"
