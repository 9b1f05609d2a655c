"""Hand-offs between layers: a lower layer announces that work is ready, a higher one acts.

The layers point one way (models <- geometry <- services <- stages <- tasks/api/pages), so a
service or stage never imports a Celery task module, not even inside a function. A write that
hands work on calls `send_on_commit(signal, ...)`; the Celery task modules in
`pipelines/tasks/` connect receivers that only queue the task that does the work, whose rules
stay in the stage module it calls. `pipelines.apps.PipelinesConfig.ready` imports those
modules, so every process that loads Django (web, worker, beat, commands, tests) has the
receivers connected.

A message can still be lost after the commit (a broker outage, a worker killed before it
acknowledged). Every task a signal queues is idempotent, and the periodic sweep
(`annotation.services.pipeline_sweep`) sends the same signals again for whatever a lost
message left behind.

Each signal below says what its keyword arguments are.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

# task_id: int. A task got all the answers it needs (task engine); its stage's completion
# rule runs next (pipelines.tasks.engine.advance_task).
task_completed = Signal()

# project_id: int. Spotting tasks completed: segmentation posts work for the new spots
# (pipelines.tasks.stages.post_segmentation_tasks).
spots_ready = Signal()

# project_id: int. New outlines wait for verification: full grids are posted
# (pipelines.tasks.stages.post_verification_grids).
masks_ready = Signal()

# project_id: int. Verification decided masks: (image, category) pairs waiting on those
# verdicts go on (next instance, done, or crowd painting)
# (pipelines.tasks.stages.advance_segmentation_pairs).
masks_verified = Signal()

# project_id: int. Pairs reached the individual cap with spots left beyond it: they get
# their painting task (pipelines.tasks.stages.post_crowd_tasks).
crowd_pairs_ready = Signal()

# project_id: int, image_ids: list[int]. Photos entered the dataset: they get their
# category-labeling tasks (pipelines.tasks.stages.post_labeling_tasks).
images_ready_for_labeling = Signal()

# job_id: int. An export job was queued (pipelines.tasks.export.run_export).
export_job_queued = Signal()

# submission_id: int. A results file waits to be scored
# (pipelines.tasks.evaluation.evaluate_submission).
submission_ready = Signal()


# worker_id: int, category_id: int. A worker passed a category's segmentation training
# (annotation.services.qualification); a worker who came from Mechanical Turk is granted the
# category's MTurk qualification (pipelines.tasks.marketplace.grant_mturk_qualification).
qualification_passed = Signal()


def send_on_commit(signal: Signal, **kwargs: Any) -> None:
    """Send `signal` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))


# image_id: int. A photo was stored: pipelines/tasks/models.py asks the model service for
# its mask proposals; nothing waits for them.
image_stored = Signal()

__all__ = [
    "crowd_pairs_ready",
    "export_job_queued",
    "image_stored",
    "images_ready_for_labeling",
    "masks_ready",
    "masks_verified",
    "qualification_passed",
    "send_on_commit",
    "spots_ready",
    "submission_ready",
    "task_completed",
]
