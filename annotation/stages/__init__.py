"""The stage registry: each pipeline stage registers how the task engine treats its tasks.

A stage module (collection, labeling, spotting, segmentation, verification, crowd) calls
`register(StageRules(...))` at import time. The task engine asks the registry:
- `validate_answer(task, answer)`: return the cleaned answer or raise AnswerInvalid;
- `on_task_complete(task)`: aggregate the answers of a task that has all it needs
  (runs in a Celery task after the commit, must be idempotent);
- `eligible_tasks(tasks, worker)`: narrow a queryset to tasks the worker may take
  (e.g. per-category qualification).

Stage modules hold rules only: no Celery tasks. A stage hands work to the next one by
sending a signal of annotation/events.py after its commit (`send_on_commit`); the Celery
tasks that act on it live in pipelines/tasks/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from annotation.errors import AnswerInvalid, StageNotAvailable


def _all_tasks(tasks: Any, worker: Any) -> Any:
    return tasks


def _nothing_on_complete(task: Any) -> None:
    return None


@dataclass(frozen=True)
class StageRules:
    stage: str
    validate_answer: Callable[[Any, Any], dict]
    on_task_complete: Callable[[Any], None] = _nothing_on_complete
    eligible_tasks: Callable[[Any, Any], Any] = _all_tasks
    # Shown on the annotator's home page: the page a worker opens to do this stage's work.
    tool_url_name: str | None = None
    description: str = ""


_registry: dict[str, StageRules] = {}


def register(rules: StageRules) -> StageRules:
    _registry[rules.stage] = rules
    return rules


def rules_for(stage: str) -> StageRules:
    try:
        return _registry[stage]
    except KeyError:
        raise StageNotAvailable(stage) from None


def is_registered(stage: str) -> bool:
    return stage in _registry


@contextmanager
def registered(rules: StageRules) -> Iterator[StageRules]:
    """Register rules for the duration of a block (tests), restoring what was there."""
    previous = _registry.get(rules.stage)
    _registry[rules.stage] = rules
    try:
        yield rules
    finally:
        if previous is None:
            _registry.pop(rules.stage, None)
        else:
            _registry[rules.stage] = previous


__all__ = [
    "AnswerInvalid",
    "StageRules",
    "is_registered",
    "register",
    "registered",
    "rules_for",
]
