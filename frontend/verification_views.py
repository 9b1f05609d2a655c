"""Pages of verification (the grid of masks) and crowd painting (brush and eraser). Each is
one static page whose JS leases work from the generic REST API and submits the answer."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def verification_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/verification.html")


@login_required
def crowd_tool(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/crowd.html")
