"""Pages of the labeling and spotting stages: the two tools and the admin's quality page.

The tools are static pages whose JS talks to the REST API; the quality page draws the
thesis's Fig. 2.4 from the worker-quality report with the site's one charting module
(frontend/figures.py). Setting the precision line shows first whose answers it would
reject; rejecting them is a separate, unticked choice.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from annotation.errors import DomainError
from annotation.models import Project
from annotation.services import worker_quality
from frontend.access import require_admin
from frontend.figures import quality_scatter_svg, quality_union_svg


@login_required
def labeling_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/labeling.html")


@login_required
def spotting_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/spotting.html")


@login_required
def labeling_quality(request: HttpRequest) -> HttpResponse:
    """Admin page: the precision/recall scatter, the union-of-k curve and the precision line."""
    require_admin(request, "only admins see worker quality")
    projects = list(Project.objects.order_by("name"))
    project_id = request.GET.get("project") or request.POST.get("project")
    if project_id:
        project = get_object_or_404(Project, pk=project_id)
    elif projects:
        project = projects[0]
    else:
        return render(request, "frontend/quality.html", {"projects": []})
    if request.method == "POST":
        try:
            line = float(request.POST.get("precision_line", ""))
            result = worker_quality.precision_line_set(
                project=project, line=line, apply=request.POST.get("apply") == "1"
            )
        except ValueError:
            messages.error(request, "The precision line is a number between 0 and 1.")
        except DomainError as error:
            messages.error(request, error.reason)
        else:
            rejected = sum(result["rejected"].values())
            messages.info(
                request,
                f"Precision line set to {result['precision_line']:.2f}; "
                f"{rejected} answer{'s' if rejected != 1 else ''} of "
                f"{len(result['rejected'])} worker{'s' if len(result['rejected']) != 1 else ''} "
                "rejected and returned to the pool.",
            )
        return redirect(f"{reverse('labeling-quality')}?project={project.id}")
    preview_line, preview = None, None
    if request.GET.get("preview"):
        try:
            preview_line = float(request.GET["preview"])
            if not 0 <= preview_line <= 1:
                raise ValueError
        except ValueError:
            messages.error(request, "The precision line is a number between 0 and 1.")
            preview_line = None
        else:
            preview = worker_quality.labeling_rejections_preview(project=project, line=preview_line)
    report = worker_quality.labeling_quality_report(project=project)
    return render(
        request,
        "frontend/quality.html",
        {
            "projects": projects,
            "project": project,
            "report": report,
            "scatter_svg": quality_scatter_svg(report),
            "union_svg": quality_union_svg(report),
            "preview_line": preview_line,
            "preview": preview,
            "preview_answers": sum(row["answers"] for row in preview or []),
        },
    )
