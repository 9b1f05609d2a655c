"""Gunicorn settings (`--config python:config.gunicorn`): with PROMETHEUS_MULTIPROC_DIR set,
a worker that exits has its live gauges removed from the shared metrics files."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import multiprocess


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
