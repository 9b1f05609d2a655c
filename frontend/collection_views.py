"""Pages of stage 1: the iconic-filtering grid, and the candidates' thumbnails.

Thumbnails are made once when a candidate is stored (annotation/stages/collection.py) and
served from Django storage with a long private cache lifetime and an ETag: a grid of 128
loads from the browser's cache the second time, and never re-encodes a photo.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from annotation.errors import DomainError
from annotation.models.collection import Candidate
from annotation.selectors.access import projects_for
from annotation.services.media_delivery import (
    media_response,
    media_served_directly,
    storage_is_local,
)
from annotation.stages.collection import collection_thumbnail_for, collection_thumbnail_stored

THUMBNAIL_CACHE_SECONDS = 7 * 24 * 3600


@login_required
def collection_grid(request: HttpRequest) -> HttpResponse:
    """The filtering tool: the worker marks the iconic or invalid photos of a grid."""
    return render(
        request,
        "frontend/collection_grid.html",
        {
            "thumbnail_px": settings.COLLECTION_THUMBNAIL_PX,
            # The JS replaces the 0 with a candidate id.
            "thumbnail_url_pattern": reverse("collection-thumbnail", args=[0]),
        },
    )


@require_GET
@login_required
def candidate_thumbnail(request: HttpRequest, candidate_id: int) -> HttpResponseBase:
    candidate = Candidate.objects.filter(
        id=candidate_id, project__in=projects_for(request.user)
    ).first()
    if candidate is None:  # or of a project this person is not a member of
        raise Http404("no such candidate")
    etag = f'"{candidate.checksum_sha256 or candidate.id}-{settings.COLLECTION_THUMBNAIL_PX}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponseBase = HttpResponseNotModified()
    elif media_served_directly():
        # nginx (X-Accel-Redirect) or S3 (a presigned URL) sends the stored thumbnail.
        try:
            name = collection_thumbnail_stored(candidate, check_exists=storage_is_local())
        except DomainError as error:
            raise Http404(error.reason) from None
        response = media_response(name=name, content_type="image/jpeg")
        if response.status_code != 200:  # a redirect to a URL that expires: not cached
            return response
    else:
        try:
            content = collection_thumbnail_for(candidate)
        except DomainError as error:
            raise Http404(error.reason) from None
        response = HttpResponse(content, content_type="image/jpeg")
    response["ETag"] = etag
    response["Cache-Control"] = f"private, max-age={THUMBNAIL_CACHE_SECONDS}, immutable"
    return response
