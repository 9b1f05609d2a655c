"""Stage 1 (image collection): Flickr query runs, queued from the admin's collection page."""

from __future__ import annotations

from annotation.models import Project
from annotation.sources import flickr
from annotation.stages import collection
from pipelines.tasks.handoff import handoff_task


@handoff_task(long=True)
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
