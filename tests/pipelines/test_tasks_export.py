"""The export task runs a job once, records progress, and records failures on the job."""

import hashlib
from pathlib import Path

import pytest

from annotation.models import ExportJob
from annotation.services.annotations import annotation_record
from annotation.services.images import SourceMetadata, image_ingest
from pipelines.tasks.export import run_export
from tests.conftest import jpeg_bytes


@pytest.fixture
def export_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Exports live in the media storage (issue 18): local storage writes them there."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path / "exports"


@pytest.mark.django_db
def test_a_job_runs_once_and_writes_its_files(coco_project, export_root):
    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    image = image_ingest(project=coco_project, content=jpeg_bytes(20, 20), meta=meta).image
    annotation_record(
        project=coco_project, image=image, category=coco_project.taxonomy.categories.first(),
        segmentation=[[1.0, 1.0, 9.0, 1.0, 9.0, 9.0]], area=32.0, bbox_xywh=[1.0, 1.0, 8.0, 8.0],
        origin="segmentation",
    )  # fmt: skip
    job = ExportJob.objects.create(
        project=coco_project, kinds=["instances", "image-lists"], include_unfinished=True
    )
    assert run_export(job.id) == "done"
    job.refresh_from_db()
    assert (job.done_items, job.total_items) == (2, 2)
    folder = Path(job.folder)
    assert folder.parent == export_root / coco_project.slug
    assert "instances_all.json" in job.files and "images_unassigned.txt" in job.files
    assert all((folder / name).is_file() for name in job.files)
    first = (folder / "instances_all.json").stat().st_mtime_ns
    assert run_export(job.id) == "done"  # a retried task changes nothing
    assert (folder / "instances_all.json").stat().st_mtime_ns == first


@pytest.mark.django_db
def test_a_failing_job_records_why(coco_project, export_root):
    job = ExportJob.objects.create(project=coco_project, kinds=["instances"], split="dev")
    assert run_export(job.id) == "failed"
    job.refresh_from_db()
    assert "split must be" in job.error and job.files == []


@pytest.mark.django_db
def test_a_jobs_checksum_is_its_first_json_files(coco_project, export_root):
    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    image_ingest(project=coco_project, content=jpeg_bytes(20, 20), meta=meta)
    presence = ExportJob.objects.create(
        project=coco_project, kinds=["presence", "image-lists"], include_unfinished=True
    )
    lists = ExportJob.objects.create(
        project=coco_project, kinds=["image-lists"], include_unfinished=True
    )
    assert run_export(presence.id) == run_export(lists.id) == "done"
    presence.refresh_from_db()
    lists.refresh_from_db()
    written = Path(presence.folder) / "category_presence_all.json"
    assert presence.checksum_sha256 == hashlib.sha256(written.read_bytes()).hexdigest()
    assert presence.files == [
        "category_presence_all.json", "category_presence_all.json.sha256",
        "category_presence_all.json.manifest.json", "images_unassigned.txt",
        "images_unassigned.txt.sha256",
    ]  # fmt: skip
    assert lists.checksum_sha256 == ""


@pytest.mark.django_db
def test_a_job_left_running_by_a_dead_worker_is_recovered_and_a_live_one_left_alone(
    coco_project, export_root, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.services.export_jobs import export_jobs_recover

    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    image_ingest(project=coco_project, content=jpeg_bytes(20, 20), meta=meta)
    long_ago = timezone.now() - timedelta(hours=2)
    dead = ExportJob.objects.create(
        project=coco_project, kinds=["instances"], include_unfinished=True,
        status=ExportJob.Status.RUNNING, heartbeat_at=long_ago, attempts=1,
    )  # fmt: skip
    folder = export_root / coco_project.slug / f"export-{dead.id}"
    folder.mkdir(parents=True)
    partial = folder / ".instances_all.json.x1y2.part"  # what the killed worker left
    partial.write_bytes(b'{"images":[')
    ExportJob.objects.filter(id=dead.id).update(folder=str(folder))
    live = ExportJob.objects.create(
        project=coco_project, kinds=["instances"], status=ExportJob.Status.RUNNING,
        heartbeat_at=timezone.now(), attempts=1,
    )  # fmt: skip
    assert run_export(live.id) == "running"  # a second delivery while its worker lives
    with django_capture_on_commit_callbacks(execute=True):
        assert export_jobs_recover(older_than=timedelta(minutes=10)) == [dead.id]
    dead.refresh_from_db()
    assert dead.status == ExportJob.Status.DONE and dead.attempts == 2
    assert Path(dead.folder) == folder and not partial.exists()
    assert list(folder.glob(".*.part")) == []
    assert (Path(dead.folder) / "instances_all.json").is_file()
    live.refresh_from_db()
    assert live.status == ExportJob.Status.RUNNING and live.attempts == 1
    assert export_jobs_recover(older_than=timedelta(minutes=10)) == []


@pytest.mark.django_db
def test_a_redelivered_message_takes_over_a_job_whose_worker_died(
    coco_project, export_root, settings
):
    from datetime import timedelta

    from django.utils import timezone

    settings.COCOFORGE_EXPORT_STALE_SECONDS = 60
    job = ExportJob.objects.create(
        project=coco_project, kinds=["image-lists"], include_unfinished=True,
        status=ExportJob.Status.RUNNING, attempts=1,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    assert run_export(job.id) == "done"
    job.refresh_from_db()
    assert job.attempts == 2
