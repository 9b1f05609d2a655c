"""Celery task of the COCO export (issue 7): thin, loads the job by id and runs it.

Imported by annotation.services.coco_io.export_job_start (which queues it after commit)."""

from __future__ import annotations

from celery import shared_task

from annotation.services.coco_io import export_job_run


@shared_task(acks_late=True)
def run_export(job_id: int) -> str:
    """Run one export job; a finished or running job is left as it is."""
    return export_job_run(job_id=job_id).status
