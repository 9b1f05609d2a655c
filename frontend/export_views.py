"""Admin pages of the COCO export: start an export (a Celery task), follow its progress,
download the files when done; and a project's dataset statistics (thesis Fig. 2.5)."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.errors import DomainError
from annotation.models import ExportJob, Project
from annotation.services.coco_export import EXPORT_KINDS, split_from_option
from annotation.services.dataset_stats import dataset_stats, stats_charts
from annotation.services.export_jobs import export_job_delete, export_job_file, export_job_start
from annotation.services.media_delivery import media_response
from frontend.access import require_admin

SPLITS = ("all", "train", "val", "test", "unassigned")


def _require_admin(request: HttpRequest) -> None:
    require_admin(request, "only admins export datasets")


@login_required
def export_page(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    error = ""
    if request.method == "POST":
        project = get_object_or_404(Project, pk=request.POST.get("project") or 0)
        try:
            export_job_start(
                project=project, split=request.POST.get("split", "all"),
                kinds=request.POST.getlist("kinds"), created_by=cast(User, request.user),
                include_unfinished=request.POST.get("include_unfinished") == "on",
            )  # fmt: skip
        except DomainError as failure:
            error = failure.reason
        else:
            return redirect("export-page")
    jobs = list(ExportJob.objects.select_related("project")[:30])
    running = any(j.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING) for j in jobs)
    return render(
        request,
        "frontend/export.html",
        {
            "projects": Project.objects.order_by("name"),
            "splits": SPLITS,
            "kinds": EXPORT_KINDS,
            "jobs": jobs,
            "running": running,
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
def export_download(request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
    _require_admin(request)
    job = get_object_or_404(ExportJob, pk=pk)
    try:
        stored = export_job_file(job=job, name=name)
    except DomainError as failure:
        raise PermissionDenied(failure.reason) from None
    return media_response(name=stored, download_name=name)


@login_required
@require_POST
def export_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a finished or failed export and its files from the media storage."""
    _require_admin(request)
    job = get_object_or_404(ExportJob, pk=pk)
    try:
        export_job_delete(job=job)
    except DomainError as failure:
        return HttpResponse(failure.reason, status=409, content_type="text/plain")
    return redirect("export-page")


@login_required
def stats_page(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    project = get_object_or_404(Project, pk=pk)
    split_option = request.GET.get("split", "all")
    try:
        split = split_from_option(split_option)
    except DomainError:
        split_option, split = "all", None
    stats = dataset_stats(project=project, split=split)
    with tempfile.TemporaryDirectory() as folder:
        charts = [
            {"name": path.stem.replace("_", " "),
             "data": base64.b64encode(Path(path).read_bytes()).decode("ascii")}
            for path in stats_charts(stats, Path(folder))
        ]  # fmt: skip
    return render(
        request,
        "frontend/stats.html",
        {
            "project": project,
            "stats": stats,
            "charts": charts,
            "splits": SPLITS,
            "split": split_option,
        },
    )
