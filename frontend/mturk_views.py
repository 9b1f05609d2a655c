"""The MTurk ExternalQuestion page (`/mturk/external/`): MTurk opens it in an iframe with
assignmentId, hitId, workerId and turkSubmitTo. The rules are in
annotation/services/mturk_workers.py; this view picks the page: the preview, the stage's own
tool page in marketplace mode, the training first, or a page that says to return the HIT."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import resolve, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from annotation import stages
from annotation.errors import DomainError
from annotation.services import mturk_workers

PASSWORDLESS_BACKEND = "django.contrib.auth.backends.ModelBackend"


def framable_by_mturk(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Only the MTurk sites may frame this page (CSP frame-ancestors); every other page keeps
    X-Frame-Options: DENY."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        ancestors = " ".join(settings.MTURK_FRAME_ANCESTORS) or "'none'"
        response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        response.xframe_options_exempt = True  # type: ignore[attr-defined]
        return response

    return wrapped


def _problem(request: HttpRequest, error: DomainError) -> HttpResponse:
    return render(
        request,
        "frontend/mturk_problem.html",
        {"reason": error.reason, "code": error.code, "mturk_page": True},
        status=error.status_code,
    )


@framable_by_mturk
@require_GET
def mturk_external(request: HttpRequest) -> HttpResponseBase:
    params = request.GET
    if mturk_workers.is_preview(params.get("assignmentId")):
        # Nothing is created and the session is left as it is.
        try:
            preview = mturk_workers.hit_preview(params.get("hitId"))
        except DomainError as error:
            return _problem(request, error)
        return render(request, "frontend/mturk_preview.html", {**preview, "mturk_page": True})
    try:
        entry = mturk_workers.hit_enter(
            hit_id=params.get("hitId"),
            worker_id=params.get("workerId"),
            assignment_id=params.get("assignmentId"),
            turk_submit_to=params.get("turkSubmitTo"),
        )
    except DomainError as error:
        return _problem(request, error)
    if request.user.pk != entry.user.pk:
        login(request, entry.user, backend=PASSWORDLESS_BACKEND)
    get_token(request)  # the tool's API calls send the CSRF cookie's token
    assignment_id = entry.mturk_assignment.assignment_id
    mturk = {
        "assignment_id": assignment_id,
        "hit_id": entry.hit.hit_id,
        "external_submit": entry.submit_url,
        "lease_url": reverse("mturk-worker-api:lease", args=[assignment_id]),
        "submit_url": reverse("mturk-worker-api:submit", args=[assignment_id, 0]).replace(
            "/0/", "/{id}/"
        ),
        "answer_slot": entry.mturk_assignment.answer_slot_id,
    }
    if entry.kind == "submitted":
        return render(request, "frontend/mturk_submitted.html", {"mturk": mturk})
    if entry.kind == "training":
        category = entry.training_category
        assert category is not None
        training_url = (
            reverse("segmentation-training")
            + "?"
            + urlencode({"project": entry.hit.project_id, "category": category.coco_id})
        )
        return render(
            request,
            "frontend/mturk_training.html",
            {
                "mturk": mturk,
                "category": category,
                "training_url": training_url,
                "continue_url": request.get_full_path(),
            },
        )
    # The stage's own tool page, in marketplace mode: base.html adds the #mturk-hit element
    # the lease loop reads (frontend/static/js/api.js).
    assert entry.lease is not None
    tool_url_name = stages.rules_for(entry.lease.task.stage).tool_url_name
    if tool_url_name is None:
        return _problem(
            request, mturk_workers.ReturnTheHit("this stage has no tool page: return the HIT")
        )
    setattr(request, "mturk", mturk)  # noqa: B010 (HttpRequest declares no such attribute)
    return resolve(reverse(tool_url_name)).func(request)
