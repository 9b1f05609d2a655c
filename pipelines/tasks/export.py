"""COCO export jobs (issue 7): thin, loads the job by id and runs it."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from annotation import events
from annotation.services.export_jobs import export_job_run
from pipelines.tasks.handoff import handoff_task, send_handoff


@handoff_task(long=True)
def run_export(job_id: int) -> str:
    """Run one export job; a finished or running job is left as it is."""
    return export_job_run(job_id=job_id).status


@receiver(events.export_job_queued, dispatch_uid="pipelines.run_export")
def _queue_export(sender: Any, *, job_id: int, **kwargs: Any) -> None:
    send_handoff(run_export, job_id)
