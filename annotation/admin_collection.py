"""Admin pages of the collection stage(s); imported by annotation/admin.py.

Besides the two tables, "Collection run" (/admin/annotation/searchquery/run/) holds the same
controls as `collect_images`: plan, plan the fallback, fetch from Flickr (a Celery task),
post grids; and the per-query yield.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from annotation.errors import DomainError
from annotation.models import Project
from annotation.models.collection import Candidate, SearchQuery
from annotation.stages import collection
from pipelines.tasks.collection import collect_from_flickr


@admin.register(SearchQuery)
class SearchQueryAdmin(admin.ModelAdmin):
    list_display = ["text", "kind", "project", "status", "pages_done", "offered", "stored", "kept",
                    "updated_at"]  # fmt: skip
    list_filter = ["project", "kind", "status"]
    search_fields = ["text"]
    readonly_fields = [
        "pages_done",
        "total_available",
        "offered",
        "error",
        "created_at",
        "updated_at",
    ]
    change_list_template = "admin/annotation/collection/searchquery_changelist.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(**collection.query_yield_annotations())

    @admin.display(ordering="stored", description="stored")  # type: ignore[misc]
    def stored(self, query: SearchQuery) -> int:
        return query.stored  # type: ignore[attr-defined]

    @admin.display(ordering="kept", description="kept")  # type: ignore[misc]
    def kept(self, query: SearchQuery) -> int:
        return query.kept  # type: ignore[attr-defined]

    def get_urls(self):  # type: ignore[no-untyped-def]
        run = path("run/", self.admin_site.admin_view(self.run_view), name="collection_run")
        return [run, *super().get_urls()]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        projects = Project.objects.order_by("name")
        chosen = str(request.GET.get("project") or request.POST.get("project") or "")
        project = projects.filter(pk=int(chosen)).first() if chosen.isdigit() else None
        project = project or projects.first()
        if request.method == "POST" and project is not None:
            try:
                self.message_user(request, run_action(project, request.POST), messages.SUCCESS)
            except (DomainError, ValueError) as error:
                self.message_user(request, str(getattr(error, "reason", error)), messages.ERROR)
            return HttpResponseRedirect(f"{reverse('admin:collection_run')}?project={project.pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Collection run",
            "opts": self.model._meta,
            "projects": projects,
            "project": project,
            "summary": collection.collection_summary(project=project) if project else None,
            "queries": (
                collection.collection_queries_with_yield(project=project).order_by(
                    "-stored",  # type: ignore[misc]  # an annotation the plugin cannot see
                    "id",
                )[:200]
                if project
                else []
            ),
        }
        return TemplateResponse(request, "admin/annotation/collection/run.html", context)


def run_action(project: Project, form) -> str:  # type: ignore[no-untyped-def]
    """One control of the run page; returns what happened, for the admin's message."""
    action = form.get("action")
    if action == "plan":
        kinds = form.getlist("kinds") or list(collection.DEFAULT_PLAN_KINDS)
        return f"Planned {collection.collection_queries_plan(project=project, kinds=kinds)} new queries."
    if action == "fallback":
        return f"Planned {collection.collection_queries_plan_fallback(project=project)} fallback queries."
    if action == "flickr":
        count = max(1, min(10_000, int(form.get("max_queries") or 10)))
        per_query = int(form.get("per_query") or 0) or None
        collect_from_flickr.delay(project.id, count, per_query)
        return f"Fetching the next {count} queries from Flickr (a background task)."
    if action == "grids":
        posted = collection.collection_grids_post(
            project=project, include_partial=bool(form.get("partial"))
        )
        return f"Posted {len(posted)} filtering grid(s)."
    raise ValueError(f"unknown action {action!r}")


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ["id", "preview", "status", "photographer", "date_taken", "query", "votes",
                    "image", "reason"]  # fmt: skip
    list_filter = ["project", "status", "source"]
    search_fields = ["source_ref", "photographer", "title", "phash"]
    list_select_related = ["query", "image"]
    raw_id_fields = ["query", "duplicate_of", "grid_task", "image"]
    readonly_fields = ["phash", "duplicate_group", "checksum_sha256", "votes_marked", "votes_total",
                       "created_at"]  # fmt: skip

    @admin.display(description="photo")
    def preview(self, candidate: Candidate) -> str:
        if not candidate.thumbnail:
            return "-"
        url = reverse("collection-thumbnail", args=[candidate.id])
        return format_html('<img src="{}" alt="" style="height:48px">', url)

    @admin.display(description="marked / answers")
    def votes(self, candidate: Candidate) -> str:
        return f"{candidate.votes_marked}/{candidate.votes_total}" if candidate.votes_total else ""
