"""Export jobs started by an admin (page, API) and run by a Celery worker (issue 7), which
survive their worker dying (issue 17).

A job is queued here; `export_job_queued` (annotation/events.py) is sent after the commit and
the receiver in pipelines/tasks/export.py queues the task, which calls export_job_run. A
worker claims the job with one conditional UPDATE (queued, or running with an old heartbeat),
so two deliveries of the same message never run it twice at once; every later write of the
run is conditional on its attempt number, so a run that lost its claim changes nothing. The
worker saves a heartbeat with its progress. A worker killed mid-way (SIGKILL) leaves the job
`running` and a temporary `.part` file: export_jobs_recover (the periodic sweep) or the
redelivered message (the task acknowledges late) removes the partial files and runs the job
again from the start; finished files are only ever renamed into place whole.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from annotation.errors import DomainError, NotFound
from annotation.events import export_job_queued, send_on_commit
from annotation.models import ExportJob, Project
from annotation.services.coco_export import EXPORT_KINDS, export_run, split_from_option
from annotation.services.media_delivery import storage_is_local
from pipelines.coco.export import ExportFailed, partial_files_remove

PROGRESS_SAVE_EVERY = 0.01  # save progress when it moved by 1% of the total
HEARTBEAT_SECONDS = 30  # ... or when this long has passed since the last save
# A running job without a heartbeat for this long lost its worker (setting, seconds).
STALE_AFTER_SECONDS = 600


EXPORTS_PREFIX = "exports"  # under the media storage, local or S3 (issue 18)


def export_storage_prefix(job: ExportJob) -> str:
    """Where a job's files live in the media storage: exports/<project>/export-<id>."""
    return f"{EXPORTS_PREFIX}/{job.project.slug}/export-{job.id}"


def export_work_folder(job: ExportJob) -> Path:
    """Where the worker writes a job's files. Local storage: the storage's own folder (the
    shared media volume), so the web container offers what the worker wrote. S3: a
    staging folder under VAR_DIR, uploaded to the bucket once the export is whole."""
    if storage_is_local():
        return Path(default_storage.path(export_storage_prefix(job)))
    return Path(settings.VAR_DIR) / "export-staging" / job.project.slug / f"export-{job.id}"


def _upload(folder: Path, names: list[str], prefix: str) -> None:
    """Copy the finished files to the (S3) storage under `prefix`, replacing what an
    earlier attempt uploaded, then drop the staging folder."""
    for name in names:
        key = f"{prefix}/{name}"
        default_storage.delete(key)  # file_overwrite is off: save() would rename instead
        with (folder / name).open("rb") as handle:
            saved = default_storage.save(key, File(handle))
        if saved != key:
            raise OSError(f"storage saved {key!r} as {saved!r}")
    shutil.rmtree(folder, ignore_errors=True)


def stale_after() -> timedelta:
    return timedelta(
        seconds=getattr(settings, "COCOFORGE_EXPORT_STALE_SECONDS", STALE_AFTER_SECONDS)
    )


@transaction.atomic
def export_job_start(
    *,
    project: Project,
    split: str,
    kinds: list[str],
    created_by: User | None = None,
    include_unfinished: bool = False,
) -> ExportJob:
    """Queue an export (split: train, val, test, unassigned or all); a Celery worker runs it
    after commit. `include_unfinished`: also images whose annotation is not finished."""
    split_from_option(split)  # refuse a bad split now, not in the worker
    unknown = sorted(set(kinds) - set(EXPORT_KINDS))
    if unknown or not kinds:
        raise DomainError(f"choose what to export among {', '.join(EXPORT_KINDS)}")
    job = ExportJob.objects.create(
        project=project, split=split, kinds=sorted(set(kinds), key=EXPORT_KINDS.index),
        created_by=created_by, include_unfinished=include_unfinished,
    )  # fmt: skip
    send_on_commit(export_job_queued, job_id=job.id)
    return job


def _stuck(older_than: timedelta) -> Q:
    """Jobs `running` without a heartbeat for `older_than`: their worker died."""
    cutoff = timezone.now() - older_than
    return Q(status=ExportJob.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    )


def _claim(job: ExportJob, folder: Path) -> int | None:
    """Take the job for this worker: the attempt number, or None when it is done or running
    under a live worker. A failed job is tried again, as a retried task asks."""
    now = timezone.now()
    takeable = Q(status__in=[ExportJob.Status.QUEUED, ExportJob.Status.FAILED]) | _stuck(
        stale_after()
    )
    claimed = (
        ExportJob.objects.filter(takeable, id=job.id, attempts=job.attempts)
        .update(
            status=ExportJob.Status.RUNNING, folder=str(folder), heartbeat_at=now,
            attempts=F("attempts") + 1, done_items=0, error="",
        )
    )  # fmt: skip
    return job.attempts + 1 if claimed else None


def export_job_run(*, job_id: int) -> ExportJob:
    """Run a queued export (or one whose worker died), saving progress on the job; a failure
    is recorded on the job and leaves no file. Running a finished or live job again changes
    nothing."""
    job = ExportJob.objects.select_related("project").get(id=job_id)
    folder = export_work_folder(job)
    attempt = _claim(job, folder)
    if attempt is None:
        job.refresh_from_db()
        return job
    mine = ExportJob.objects.filter(id=job.id, attempts=attempt)
    if folder.is_dir():
        partial_files_remove(folder)  # what a killed attempt left
    saved_done, saved_at = 0, timezone.now()

    def progress(done: int, total: int) -> None:
        nonlocal saved_done, saved_at
        now = timezone.now()
        moved = done - saved_done >= PROGRESS_SAVE_EVERY * total or done == total
        quiet = (now - saved_at).total_seconds() >= HEARTBEAT_SECONDS
        if total and (moved or quiet):
            saved_done, saved_at = done, now
            mine.update(done_items=done, total_items=total, heartbeat_at=now)

    try:
        run = export_run(
            project=job.project, split=split_from_option(job.split or "all"), kinds=job.kinds,
            out_dir=folder, progress=progress, include_unfinished=job.include_unfinished,
        )  # fmt: skip
    except (DomainError, ExportFailed, OSError) as error:
        reason = error.reason if isinstance(error, DomainError) else str(error)
        mine.update(status=ExportJob.Status.FAILED, error=reason, finished_at=timezone.now())
        job.refresh_from_db()
        return job
    # The checksum of the first file when it is a JSON document (the instances file, else the
    # presence labels); the JSON documents come before the image lists.
    first = run.results[0] if run.results and run.files[0] == run.results[0].path else None
    checksum = first.sha256 if first is not None else ""
    names = []
    for path in run.files:
        names.append(path.name)
        for extra in (".sha256", ".manifest.json"):
            if path.with_name(path.name + extra).exists():
                names.append(path.name + extra)
    if not storage_is_local():
        try:
            _upload(folder, names, export_storage_prefix(job))
        except (OSError, BotoCoreError, ClientError) as error:
            mine.update(status=ExportJob.Status.FAILED, error=f"upload to storage failed: {error}",
                        finished_at=timezone.now())  # fmt: skip
            job.refresh_from_db()
            return job
    mine.update(
        status=ExportJob.Status.DONE, files=names, checksum_sha256=checksum,
        finished_at=timezone.now(),
    )  # fmt: skip
    job.refresh_from_db()
    return job


def export_jobs_recover(*, older_than: timedelta) -> list[int]:
    """Jobs a dead worker left behind: `running` without a heartbeat for `older_than`, or
    `queued` for that long (a lost message; a re-queued job counts from its re-queueing).
    Each is queued again (after the commit), its partial files removed; returns their ids.
    Cheap and idempotent when nothing is wrong."""
    now = timezone.now()
    waited = Q(heartbeat_at__lt=now - older_than) | Q(
        heartbeat_at__isnull=True, created_at__lt=now - older_than
    )
    left = _stuck(older_than) | (Q(status=ExportJob.Status.QUEUED) & waited)
    recovered = []
    for job_id, attempts, folder in ExportJob.objects.filter(left).values_list(
        "id", "attempts", "folder"
    ):
        # Conditions again in the UPDATE: a live worker may have saved a heartbeat since.
        requeued = (
            ExportJob.objects.filter(left, id=job_id, attempts=attempts)
            .update(status=ExportJob.Status.QUEUED, done_items=0, heartbeat_at=now)
        )  # fmt: skip
        if not requeued:
            continue  # a worker took it meanwhile
        if folder and Path(folder).is_dir():
            partial_files_remove(folder)
        send_on_commit(export_job_queued, job_id=job_id)
        recovered.append(job_id)
    return recovered


def export_job_file(*, job: ExportJob, name: str) -> str:
    """The storage name of one finished file of a job (only names the job wrote)."""
    if job.status != ExportJob.Status.DONE or name not in job.files:
        raise NotFound(f"export {job.id} has no file {name!r}")
    stored = f"{export_storage_prefix(job)}/{name}"
    if not default_storage.exists(stored):
        raise NotFound(f"the file {name!r} of export {job.id} is no longer in storage")
    return stored


@transaction.atomic
def export_job_delete(*, job: ExportJob) -> None:
    """Remove a job and its files from the media storage (local or S3). A running job is
    refused: its worker would write the files again."""
    if job.status == ExportJob.Status.RUNNING:
        raise DomainError(f"export {job.id} is running; delete it once it has finished")
    prefix = export_storage_prefix(job)
    for name in job.files:
        default_storage.delete(f"{prefix}/{name}")
    if job.folder and Path(job.folder).is_dir():
        shutil.rmtree(job.folder, ignore_errors=True)  # an empty local folder, or staging
    job.delete()
