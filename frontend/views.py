"""Annotator pages. Pages read through selectors; the tools talk to the REST API."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from annotation.selectors.access import media_visible_to, projects_for
from annotation.selectors.next_steps import next_steps_for
from annotation.selectors.record import worker_record
from annotation.selectors.work import projects_with_counts, stage_summaries_for
from annotation.services.media_delivery import media_response
from annotation.services.people import profile_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The stages in COCO's order, with the work available to this person."""
    person = cast(User, request.user)  # login_required
    stages = stage_summaries_for(person)
    return render(
        request,
        "frontend/home.html",
        {
            "profile": profile_for(person),
            "stages": stages,
            "next_steps": next_steps_for(person, stages),
            "projects": projects_with_counts().filter(pk__in=projects_for(person).values("pk")),
        },
    )


@login_required
def my_record(request: HttpRequest) -> HttpResponse:
    """The signed-in worker's own answers per stage, trainings and standing."""
    person = cast(User, request.user)
    return render(
        request,
        "frontend/record.html",
        {"profile": profile_for(person), "record": worker_record(person)},
    )


@login_required
def media(request: HttpRequest, path: str) -> HttpResponseBase:
    """A stored file, for signed-in people only: a project's photos to its members,
    anything else stored to admins only. Sent by nginx (X-Accel-Redirect) or S3 (a
    presigned URL) after this check when deployed; see annotation/services/media_delivery."""
    if not media_visible_to(request.user, path):
        raise Http404("no such file")
    return media_response(name=path)
