"""Celery task of the COCO export (issue 7): thin, loads the job by id and runs it.

Queued by the receiver below when annotation.services.export_jobs sends export_job_queued
(after the commit). It acknowledges late: a worker killed mid-export leaves the message to be
delivered again, and export_job_run takes over a job whose worker died."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.dispatch import receiver

from annotation.events import export_job_queued
from annotation.services.export_jobs import export_job_run


@shared_task(acks_late=True)
def run_export(job_id: int) -> str:
    """Run one export job; a finished job, or one a live worker runs, is left as it is."""
    return export_job_run(job_id=job_id).status


@receiver(export_job_queued)
def queue_export(sender: Any, *, job_id: int, **kwargs: Any) -> None:
    run_export.delay(job_id)
