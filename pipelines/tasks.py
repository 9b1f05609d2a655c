"""Celery tasks: thin and idempotent; each loads by id and calls one service."""

from celery import shared_task
from django.db import OperationalError

from annotation.services import task_engine


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def advance_task(task_id: int) -> None:
    """Run the stage's completion rule for a task that has all its answers."""
    task_engine.task_advance(task_id=task_id)


@shared_task
def release_expired_leases() -> int:
    """Periodic (celery beat): leases that ran out go back to the pool."""
    return task_engine.leases_release_expired()


@shared_task
def ping() -> str:
    """Answers 'pong' from whichever worker runs it (health checks, the worker test)."""
    return "pong"


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def evaluate_submission(submission_id: int) -> str:
    """Score a researcher's results against a release's hidden ground truth."""
    from annotation.services.evaluation_server import submission_evaluate

    return submission_evaluate(submission_id=submission_id).status
