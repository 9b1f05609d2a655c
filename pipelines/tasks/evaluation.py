"""The evaluation server: score a researcher's results file against a release's hidden
ground truth."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from annotation import events
from annotation.services.evaluation_server import submission_evaluate
from pipelines.tasks.handoff import handoff_task, send_handoff


@handoff_task(long=True)
def evaluate_submission(submission_id: int) -> str:
    """Score one pending submission. Idempotent: a scored or failed one is left as it is."""
    return submission_evaluate(submission_id=submission_id).status


@receiver(events.submission_ready, dispatch_uid="pipelines.evaluate_submission")
def _queue_evaluation(sender: Any, *, submission_id: int, **kwargs: Any) -> None:
    send_handoff(evaluate_submission, submission_id)
