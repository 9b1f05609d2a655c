"""Counting the hand-offs of one Celery queue, so the crowd simulator knows when they have
all run without sleeping and looking twice.

With `settings.SIMULATION_COUNT_QUEUE` set (the simulator tests' and benchmark's settings,
tests/pipelines/simulator/queue_settings.py), every process of that site (the web server and
the Celery worker) adds 1 to `<queue>:published` in Redis for each task it sends to that
queue, and the worker adds 1 to `<queue>:finished` after each task of the queue has run
(`task_postrun`, sent for a success, a failure and a retry alike; a retry sends a new message,
counted as published). A task sends what follows it inside its own run, so `finished ==
published` holds only when nothing is queued, running or about to be sent: the simulator's
`crew.settle` reads the two counters (and, before the first hand-off or from a site that
does not count, falls back to looking at the queue and the database twice). A worker killed mid-task leaves its message
unacknowledged: it is counted once when the broker hands it out again and it runs.

Unset (every deployment), the two signal handlers return at once. Connected from
config/celery.py, so both the site and the worker have them.
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from celery.signals import before_task_publish, task_postrun
from django.conf import settings


def counted_queue() -> str | None:
    return getattr(settings, "SIMULATION_COUNT_QUEUE", None) or None


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def counters(queue: str) -> tuple[int, int] | None:
    """(published, finished) hand-offs of the queue so far; None when the site has counted
    none (it does not count, or has sent nothing yet)."""
    published, finished = _redis(settings.CELERY_BROKER_URL).mget(
        f"{queue}:published", f"{queue}:finished"
    )
    if published is None:
        return None
    return int(published), int(finished or 0)


@before_task_publish.connect
def _published(routing_key: str | None = None, **_: Any) -> None:
    queue = counted_queue()
    if queue is not None and routing_key == queue:
        _count(f"{queue}:published")


@task_postrun.connect
def _finished(task: Any = None, **_: Any) -> None:
    queue = counted_queue()
    if queue is None or task is None:
        return
    info = getattr(task.request, "delivery_info", None) or {}
    if info.get("routing_key") == queue:
        _count(f"{queue}:finished")


def _count(key: str) -> None:
    """Add one; the counters of a finished run expire a day after their last hand-off."""
    pipe = _redis(settings.CELERY_BROKER_URL).pipeline()
    pipe.incr(key)
    pipe.expire(key, 86_400)
    pipe.execute()
