"""Pages of verification (the grid of masks) and crowd painting (brush and eraser), each one
static page whose JS leases work from the generic REST API and submits the answer; and the
experts' gold page (review, retire, restore, generate gold; the missing-gold warning)."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from annotation.errors import DomainError
from annotation.models import Project
from annotation.services import gold as gold_service
from annotation.stages import verification
from frontend.access import require_expert


@login_required
def verification_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/verification.html")


@login_required
def crowd_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/crowd.html")


@login_required
def gold_review(request: HttpRequest) -> HttpResponse:
    """Experts review a project's gold: each item's picture, where it came from, how often
    verifiers caught it; retire or restore it, or generate more from accepted masks. Every
    project short of gold is named at the top."""
    require_expert(request, "only experts and admins review gold")
    expert = cast(User, request.user)
    projects = list(Project.objects.order_by("name"))
    shortages = [
        (project, shortage)
        for project in projects
        if (shortage := verification.gold_shortage(project=project)) is not None
    ]
    project_id = request.GET.get("project") or request.POST.get("project")
    project = (
        get_object_or_404(Project, pk=project_id)
        if project_id and project_id.isdigit()
        else (projects[0] if projects else None)
    )
    if request.method == "POST" and project is not None:
        action = request.POST.get("action", "")
        try:
            if action == "generate":
                count = request.POST.get("count", "8")
                if not count.isdigit() or not 1 <= int(count) <= 500:
                    raise DomainError("give a number of gold items from 1 to 500")
                made = gold_service.gold_generate(project=project, count=int(count), author=expert)
                messages.success(request, f"{len(made)} gold item(s) made from accepted masks.")
            elif action in ("retire", "restore") and request.POST.get("gold", "").isdigit():
                gold = gold_service.gold_set_active(
                    expert=expert,
                    gold_id=int(request.POST["gold"]),
                    active=action == "restore",
                    reason=request.POST.get("reason", ""),
                )
                messages.success(request, f"Gold item {gold.id} {action}d.")
            else:
                raise DomainError("unknown action")
        except DomainError as error:
            messages.error(request, error.reason)
        return redirect(f"{reverse('verification-gold')}?project={project.id}")
    rows = gold_service.gold_review(project=project) if project else []
    return render(
        request,
        "frontend/verification_gold.html",
        {
            "projects": projects,
            "project": project,
            "rows": rows,
            "counts": gold_service.gold_counts(project=project) if project else {},
            "shortages": shortages,
        },
    )
