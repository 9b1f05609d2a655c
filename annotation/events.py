"""Hand-offs between layers: a lower layer announces that work is ready, a higher one acts.

The layers point one way (models <- geometry <- services <- stages <- tasks/api/pages), so a
service or stage never imports a Celery task module, not even inside a function. A write that
hands work on calls `send_on_commit(signal, ...)`; the Celery task modules in `pipelines/`
connect receivers that only queue the task that does the work, whose rules stay in the stage
module it calls. Each signal below says what its keyword arguments are.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal


def send_on_commit(signal: Signal, **kwargs: Any) -> None:
    """Send `signal` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))


# A photo was stored (kwargs: image_id). pipelines/tasks_models.py asks the model service
# for its mask proposals; nothing waits for them.
image_stored = Signal()

__all__ = ["image_stored", "send_on_commit"]
