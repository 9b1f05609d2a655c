"""Pages of the labeling and spotting stages: the two tools and the admin's quality page.

The tools are static pages whose JS talks to the REST API; the quality page draws the
thesis's Fig. 2.4 as inline SVG from the worker-quality report.
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


@login_required
def labeling_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/labeling.html")


@login_required
def spotting_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/spotting.html")


# Plot geometry (pixels of the SVG drawing area) -------------------------------------------

PLOT = {"left": 50, "top": 15, "width": 300, "height": 300}


def _px(value: float, axis: str) -> float:
    if axis == "x":
        return round(PLOT["left"] + value * PLOT["width"], 1)
    return round(PLOT["top"] + (1 - value) * PLOT["height"], 1)


def _jobs_colour(mean_jobs: float, most_jobs: float) -> str:
    """Few jobs: light yellow; most jobs: dark red (Fig. 2.4b's colour scale)."""
    t = 0.0 if most_jobs <= 1 else min(1.0, (mean_jobs - 1) / (most_jobs - 1))
    red, green, blue = round(253 - t * 120), round(224 - t * 200), round(140 - t * 110)
    return f"rgb({red},{green},{blue})"


def scatter_figure(report: dict) -> dict:
    cells = report["scatter"]
    most_workers = max((c["workers"] for c in cells), default=1)
    most_jobs = max((c["mean_jobs"] for c in cells), default=1)
    circles = []
    for cell in cells:
        recall = (cell["recall_low"] + cell["recall_high"]) / 2
        precision = (cell["precision_low"] + cell["precision_high"]) / 2
        circles.append(
            {
                **cell,
                "cx": _px(recall, "x"),
                "cy": _px(precision, "y"),
                # Area proportional to the number of workers.
                "r": round(4 + 11 * (cell["workers"] / most_workers) ** 0.5, 1),
                "fill": _jobs_colour(cell["mean_jobs"], most_jobs),
            }
        )
    line = report["precision_line"]
    return {
        "circles": circles,
        "line_y": _px(line, "y") if line is not None else None,
        "most_jobs": round(most_jobs, 1),
    }


def union_figure(report: dict) -> dict:
    curve = [p for p in report["union_of_k"] if p["recall"] is not None]
    most_k = max((p["k"] for p in curve), default=1)
    width = PLOT["width"]

    def kx(k: int) -> float:
        return round(PLOT["left"] + (k - 1) / max(most_k - 1, 1) * width, 1)

    points = [{**p, "x": kx(p["k"]), "y": _px(p["recall"], "y")} for p in curve]
    experts = [
        {**e, "y": _px(e["recall"], "y")} for e in report["experts"] if e["recall"] is not None
    ]
    return {
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        "experts": experts,
        "ticks": [{"k": p["k"], "x": p["x"]} for p in points],
    }


def axis_ticks() -> list[dict]:
    return [{"v": v / 10, "x": _px(v / 10, "x"), "y": _px(v / 10, "y")} for v in range(0, 11, 2)]


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
                project=project, line=line, apply=bool(request.POST.get("apply"))
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
    report = worker_quality.labeling_quality_report(project=project)
    return render(
        request,
        "frontend/quality.html",
        {
            "projects": projects,
            "project": project,
            "report": report,
            "scatter": scatter_figure(report),
            "union": union_figure(report),
            "ticks": axis_ticks(),
            "plot": PLOT,
        },
    )
