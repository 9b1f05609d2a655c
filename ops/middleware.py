"""One JSON log line per request (logger `cocoforge.request`), with the request id."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from ops.logging import request_id_from, request_id_var

logger = logging.getLogger("cocoforge.request")


def signed_in_user_id(request: HttpRequest) -> int | None:
    """The user id when this request already looked the user up (never a query of its own:
    /healthz must not touch the database)."""
    user = getattr(request, "_cached_user", None)
    if user is None:
        candidate = request.__dict__.get("user")
        if candidate is not None and not isinstance(candidate, SimpleLazyObject):
            user = candidate  # DRF's token authentication sets the user itself
    if user is not None and user.is_authenticated:
        return int(user.pk)
    return None


class RequestLogMiddleware:
    """Honours an incoming X-Request-ID (or makes one), sets it on the response and logs
    method, path, status, duration and user once the response is ready."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get("X-Request-ID"))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "request",
                extra={
                    "user_id": signed_in_user_id(request),
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            request_id_var.reset(token)
