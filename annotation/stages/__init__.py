"""The stage registry: each pipeline stage registers how the task engine treats its tasks.

A stage module (collection, labeling, spotting, segmentation, verification, crowd) calls
`register(StageRules(...))` at import time. The task engine asks the registry:
- `validate_answer(task, answer)`: return the cleaned answer or raise AnswerInvalid;
- `on_task_complete(task)`: aggregate the answers of a task that has all it needs
  (runs in a Celery task after the commit, must be idempotent);
- `eligible_tasks(tasks, worker)`: narrow a queryset to tasks the worker may take
  (e.g. per-category qualification).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction

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


def hand_on_after_commit(stage: str, task_name: str, **kwargs: Any) -> None:
    """Queue a later stage's Celery task `task_name` once the current transaction commits,
    if this installation runs that stage. Looked up by name at run time because later stages
    import earlier ones (segmentation reads spotting's spots), never the other way round."""
    if not is_registered(stage):
        return

    def queue() -> None:
        module = importlib.import_module(f"annotation.stages.{stage}")
        getattr(module, task_name).delay(**kwargs)

    transaction.on_commit(queue)


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
    "hand_on_after_commit",
    "is_registered",
    "register",
    "registered",
    "rules_for",
]
