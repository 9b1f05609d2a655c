"""Celery tasks of stage 1 (image collection): thin, each loads by id and calls the stage.

Imported by the admin's collection page and by `collect_images`, which registers them with
the Celery app (pipelines/tasks.py belongs to the task engine)."""

from __future__ import annotations

from celery import shared_task

from annotation.models import Project
from annotation.sources import flickr
from annotation.stages import collection


@shared_task(acks_late=True)
def collect_from_flickr(project_id: int, max_queries: int, per_query: int | None = None) -> dict:
    """Fetch the next queries of a project's plan from Flickr, then post full grids.
    Safe to run twice: stored photos are skipped and finished queries are not asked again."""
    project = Project.objects.get(id=project_id)
    runs = flickr.queries_run(
        project=project, client=flickr.FlickrClient.from_settings(), max_queries=max_queries,
        limit=per_query,
    )  # fmt: skip
    collection.collection_grids_post(project=project, include_partial=False)
    return {"queries": len(runs), "errors": sum(1 for run in runs if run.error)}


@shared_task(acks_late=True)
def post_collection_grids(project_id: int, include_partial: bool = True) -> int:
    project = Project.objects.get(id=project_id)
    return len(collection.collection_grids_post(project=project, include_partial=include_partial))
