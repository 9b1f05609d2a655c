"""Pages of the segmentation stage: the polygon editor (segmenting, training, expert
references) and the admins' pass-rate page. The editor is one static page whose JS talks to
the REST API; `data-mode` tells it which of the three jobs it does."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotation.models import Category, Image, Project
from annotation.models.labeling import Spot
from annotation.services import qualification
from frontend.access import require_admin, require_expert


def _editor(request: HttpRequest, mode: str, **context: object) -> HttpResponse:
    return render(request, "frontend/segmentation.html", {"mode": mode, **context})


@login_required
def segmentation_tool(request: HttpRequest) -> HttpResponse:
    return _editor(request, "task")


@login_required
def segmentation_training(request: HttpRequest) -> HttpResponse:
    """With ?project=&category=: the training editor; without: the categories to train on."""
    project_id, category_id = request.GET.get("project"), request.GET.get("category")
    if project_id and category_id:
        project = get_object_or_404(Project, pk=project_id)
        category = get_object_or_404(Category, taxonomy=project.taxonomy, coco_id=category_id)
        return _editor(request, "training", project=project, category=category)
    projects = [
        {
            "project": project,
            "categories": qualification.training_categories(
                worker=cast(User, request.user),  # login_required
                project=project,
            ),
        }
        for project in Project.objects.order_by("name")
    ]
    return render(
        request,
        "frontend/segmentation_training.html",
        {"projects": [p for p in projects if p["categories"]]},
    )


@login_required
def segmentation_expert(request: HttpRequest) -> HttpResponse:
    """Experts outline reference instances; without ?image=&category= a list of spotted
    (image, category) pairs without a reference yet."""
    require_expert(request, "only experts author reference outlines")
    image_id, category_id = request.GET.get("image"), request.GET.get("category")
    if image_id and category_id:
        image = get_object_or_404(Image.objects.select_related("project"), pk=image_id)
        category = get_object_or_404(Category, taxonomy=image.project.taxonomy, coco_id=category_id)
        spot = Spot.objects.filter(image=image, category=category).order_by("id").first()
        image_url = default_storage.url(image.file.name) if image.file else ""
        return _editor(
            request, "expert", image=image, image_url=image_url, category=category, spot=spot
        )
    pairs = qualification.reference_candidates(limit=200)
    return render(request, "frontend/segmentation_expert.html", {"pairs": pairs})


@login_required
def segmentation_pass_rates(request: HttpRequest) -> HttpResponse:
    require_admin(request, "only admins see pass rates")
    rows = [
        {"project": project, "rates": qualification.pass_rates(project=project)}
        for project in Project.objects.order_by("name")
    ]
    return render(request, "frontend/segmentation_pass_rates.html", {"rows": rows})
