"""One JSON log line per Celery task (logger `cocoforge.task`): id, name, duration, state.

A task queued while serving a request carries that request's id in a message header, so the
task's log lines and the request's share it.
"""

from __future__ import annotations

import logging
import time
from contextvars import Token
from typing import Any

from celery import signals

from ops.logging import request_id_var

logger = logging.getLogger("cocoforge.task")

_started: dict[str, tuple[float, Token[str] | None]] = {}


def add_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id != "-":
        headers.setdefault("request_id", request_id)


def task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request_id = getattr(getattr(task, "request", None), "request_id", None)
    token = request_id_var.set(str(request_id)) if request_id else None
    _started[str(task_id)] = (time.perf_counter(), token)


def task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started, token = _started.pop(str(task_id), (None, None))
    logger.info(
        "task",
        extra={
            "task_id": task_id,
            "task_name": getattr(task, "name", None),
            "state": state,
            "duration_ms": None
            if started is None
            else round((time.perf_counter() - started) * 1000, 2),
        },
    )
    if token is not None:
        request_id_var.reset(token)


def connect() -> None:
    signals.before_task_publish.connect(add_request_id, weak=False, dispatch_uid="ops-rid")
    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="ops-prerun")
    signals.task_postrun.connect(task_finished, weak=False, dispatch_uid="ops-postrun")
