"""Evaluation server pages: the releases, each release's leaderboard and upload form."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from annotation.errors import DomainError
from annotation.models.evaluation import Submission
from annotation.services.evaluation_server import (
    leaderboard,
    releases,
    results_body_checked,
    submission_create,
    submissions_today,
)
from pipelines.coco.cocoeval import STAT_NAMES  # pycocotools' order of the 12 numbers

# Column headers a reader cannot misread ("APl" reads as "API"): name, then what it means.
_SIZES = {"s": "small", "m": "medium", "l": "large"}
STAT_HEADERS = [
    (
        f"{name[:2]} {_SIZES[name[2]]}" if name[2:] in _SIZES else name,
        {"AP": "AP at IoU .50:.95", "AP50": "AP at IoU .50", "AP75": "AP at IoU .75",
         "AR1": "AR with 1 detection per image", "AR10": "AR with 10 detections per image",
         "AR100": "AR with 100 detections per image"}.get(
            name, f"{name[:2]} of {_SIZES.get(name[2:], '')} objects (pycocotools: {name})"
        ),
    )
    for name in STAT_NAMES
]  # fmt: skip


@login_required
def release_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "frontend/releases.html", {"releases": releases().select_related("project")}
    )


@login_required
def release_leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    release = get_object_or_404(releases(), slug=slug)
    person = cast(User, request.user)
    if request.method == "POST":
        try:
            # Refused by its declared length before it is stored or parsed (the CSRF check
            # has already received the form, into a temporary file, not into memory).
            results_body_checked(request.META.get("CONTENT_LENGTH"))
            upload = request.FILES.get("results")
            if upload is None:
                raise DomainError("choose a results file to upload")
            submission = submission_create(
                release=release,
                submitter=person,
                method_name=request.POST.get("method_name", ""),
                iou_type=request.POST.get("iou_type", ""),
                results=upload,
                results_file_name=upload.name or "results.json",
            )
        except DomainError as error:
            messages.error(request, error.reason)
        else:
            messages.success(
                request,
                f"{submission.method_name}: submitted for {submission.iou_type} evaluation. "
                "It is checked and scored in the background: its status is under Your "
                "submissions.",
            )
        return redirect("release-leaderboard", slug=release.slug)
    boards = [
        {"iou_type": iou_type, "rows": [
            {"submission": s, "stats": dict(zip(STAT_NAMES, s.stats or [], strict=False))}
            for s in leaderboard(release=release, iou_type=iou_type)
        ]}
        for iou_type in release.iou_types
    ]  # fmt: skip
    mine = (
        Submission.objects.filter(release=release, submitter=person)
        .defer("results_gz")
        .order_by("-created_at")[:10]
    )
    return render(
        request,
        "frontend/leaderboard.html",
        {
            "release": release,
            "boards": boards,
            "stat_names": STAT_NAMES,
            "stat_headers": STAT_HEADERS,
            "mine": mine,
            "left_today": max(
                0,
                release.daily_submission_limit
                - submissions_today(release=release, submitter=person),
            ),
        },
    )
