"""How every hand-off task is declared: acknowledged late, retried on transient errors with
backoff, bounded in time. Idempotence is each task's own contract (its docstring says why
running it twice changes nothing).

- acks_late + reject_on_worker_lost: a worker killed mid-task leaves its message unacked, so
  the broker hands it out again (after the Redis transport's visibility_timeout, settings)
  and another run finishes the job; the killed run's transaction was rolled back.
- autoretry_for TRANSIENT_ERRORS: a database restart or a broker blip while the task sends
  on is retried with exponential backoff and jitter; any other exception is a bug and fails
  the task loudly (retrying it would only repeat it).
- soft/hard time limits: CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT by default;
  long jobs (exports, evaluation, Flickr) take PIPELINE_LONG_TASK_* (settings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    BrokerError,
    ConnectionError,
)


def handoff_task(*, long: bool = False, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """`shared_task` with the hand-off policy above; `long=True` for exports and scoring."""
    policy: dict[str, Any] = {
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": TRANSIENT_ERRORS,
        "retry_backoff": 2,
        "retry_backoff_max": 300,
        "retry_jitter": True,
        "max_retries": 8,
    }
    if long:
        policy["soft_time_limit"] = settings.PIPELINE_LONG_TASK_SOFT_TIME_LIMIT
        policy["time_limit"] = settings.PIPELINE_LONG_TASK_TIME_LIMIT
    else:
        policy["soft_time_limit"] = settings.CELERY_TASK_SOFT_TIME_LIMIT
        policy["time_limit"] = settings.CELERY_TASK_TIME_LIMIT
    return shared_task(**{**policy, **options})  # type: ignore[no-any-return]


def send_handoff(task: Any, *args: Any) -> None:
    """`task.delay(*args)` from a signal receiver, after the commit. With the broker down
    (kombu's publish retries spent), only the message is lost: what caused it is committed
    and leaves its mark in the database, so the sweep (pipelines/sweep.py) sends it again.
    The request or task that committed still succeeds instead of failing after its commit."""
    try:
        task.delay(*args)
    except BrokerError as error:
        logger.warning(
            "hand-off %s%r not sent (broker unavailable: %s); the sweep repairs it",
            task.name, args, error,
        )  # fmt: skip
