"""The top bar: every page a person's role may use, grouped, from one table.

A page whose URL name is not installed (a stage this installation does not run yet) is left
out instead of failing the page."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.auth.models import User
from django.urls import NoReverseMatch, reverse

from annotation.models import Project, WorkerProfile
from annotation.services.people import profile_for

register = template.Library()

ANNOTATOR = WorkerProfile.Role.ANNOTATOR
EXPERT = WorkerProfile.Role.EXPERT
ADMIN = WorkerProfile.Role.ADMIN

# (group, label, url name, whether it takes the project id, roles that see it)
PAGES: list[tuple[str, str, str, bool, tuple[str, ...]]] = [
    ("Work", "Filtering", "collection-grid", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Work", "Labeling", "labeling-tool", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Work", "Spotting", "spotting-tool", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Work", "Segmentation", "segmentation-tool", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Work", "Verification", "verification-tool", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Work", "Crowd painting", "crowd-tool", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Work", "Training", "segmentation-training", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Work", "My record", "my-record", False, (ANNOTATOR, EXPERT, ADMIN)),
    ("Expert", "References", "segmentation-expert", False, (EXPERT, ADMIN)),
    ("Expert", "Gold review", "verification-gold", False, (EXPERT, ADMIN)),
    ("Manage", "Dashboard", "pipeline-dashboard", True, (ADMIN,)),
    ("Manage", "Collection", "admin:collection_run", False, (ADMIN,)),
    ("Manage", "Export", "export-page", False, (ADMIN,)),
    ("Manage", "Statistics", "stats-page", True, (ADMIN,)),
    ("Manage", "Worker quality", "labeling-quality", False, (ADMIN,)),
    ("Manage", "Pass rates", "segmentation-pass-rates", False, (ADMIN,)),
    ("Manage", "Releases", "releases", False, (ADMIN,)),
    ("Manage", "Settings", "project-settings", True, (ADMIN,)),
    ("Manage", "Marketplace", "marketplace", True, (ADMIN,)),
]


def _url(name: str, with_project: bool, project: Project | None) -> str | None:
    try:
        if with_project:
            if project is None:
                return None
            return reverse(name, args=[project.id])
        return reverse(name)
    except NoReverseMatch:
        return None


def nav_groups_for(user: User, project: Project | None) -> list[dict[str, Any]]:
    role = profile_for(user).role
    groups: dict[str, list[dict[str, str]]] = {}
    for group, label, name, with_project, roles in PAGES:
        if role not in roles:
            continue
        url = _url(name, with_project, project)
        if url is not None:
            groups.setdefault(group, []).append({"label": label, "url": url, "name": name})
    return [{"name": name, "links": links} for name, links in groups.items()]


@register.inclusion_tag("frontend/_nav.html", takes_context=True)
def role_navigation(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return {"groups": [], "current": ""}
    project = context.get("project")
    if not isinstance(project, Project):
        project = Project.objects.order_by("name").first()
    return {"groups": nav_groups_for(user, project), "current": request.path}
