"""Mechanical Turk (issue 18): thin tasks over annotation/services/mturk.py.

- sync_mturk (celery beat, `mturk-sync`): for each project with mturk_enabled = 1, sync the
  submitted assignments, review them when the project asks for it (mturk_auto_review) and
  expire the HITs whose tasks are finished. Nothing happens without AWS credentials.
- grant_mturk_qualification: a worker from MTurk passed a category's training
  (events.qualification_passed): the category's MTurk qualification is granted.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from annotation import events
from annotation.errors import DomainError
from annotation.services import mturk
from pipelines.tasks.handoff import handoff_task

logger = logging.getLogger(__name__)


@handoff_task()
def sync_mturk() -> dict[str, Any]:
    """Sync, review (where configured) and expire every MTurk project. Idempotent: each step
    only moves what MTurk reports onto cocoforge's record, or acts on what is still undone.
    One project's MTurk error is logged and does not stop the others."""
    projects = mturk.mturk_projects()
    if not projects or not mturk.mturk_configured():
        return {"projects": 0}
    report: dict[str, Any] = {"projects": len(projects), "lines": []}
    for project in projects:
        try:
            synced = mturk.assignments_sync(project=project)
            reviewed = mturk.review_pending(project=project)
            expired = mturk.hits_expire_finished(project=project)
        except DomainError as error:
            logger.warning("MTurk sync of %s stopped: %s", project.slug, error.reason)
            report["lines"].append(f"{project.slug}: {error.reason}")
            continue
        done = sum(1 for line in reviewed if line.done in ("approved", "rejected"))
        report["lines"].append(
            f"{project.slug}: {synced.line()}; {done} reviewed; {len(expired)} HIT(s) expired"
        )
    return report


@handoff_task()
def grant_mturk_qualification(user_id: int, category_id: int) -> int:
    """Grant the category's MTurk qualification to a worker who passed its training (none
    for a worker who did not come from MTurk). Granting twice changes nothing on MTurk.
    MTurk's refusal is logged, not raised: the pass is already saved, and without a broker
    this runs inside the worker's own request."""
    try:
        return mturk.qualification_grant(user_id=user_id, category_id=category_id)
    except DomainError as error:
        logger.warning(
            "MTurk qualification for user %s, category %s not granted: %s",
            user_id,
            category_id,
            error.reason,
        )
        return 0


@receiver(events.qualification_passed, dispatch_uid="pipelines.grant_mturk_qualification")
def _queue_grant(sender: Any, *, worker_id: int, category_id: int, **kwargs: Any) -> None:
    grant_mturk_qualification.delay(worker_id, category_id)
