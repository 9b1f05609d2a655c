"""One exception handler: every API error is a 4xx JSON body with a reason a person reads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from annotation.errors import DomainError


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            label = key if key != "non_field_errors" else ""
            out.extend(_flatten(value, f"{prefix}{label}: " if label else prefix))
        return out
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    return [f"{prefix}{detail}"]


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer is its HTML "Bad Request (400)" page.
        return Response(
            {
                "error": "too_large",
                "detail": "the request body is larger than this endpoint accepts "
                f"({settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)",
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent):
        return Response(
            {"error": "invalid", "detail": "the request has too many form fields"},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DomainError):
        return Response({"error": exc.code, "detail": exc.reason}, status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database connection dropped (a restart, a failover, a killed backend): the open
        # transaction was rolled back. Writes are idempotent by their keys, so a retry is safe.
        return Response(
            {
                "error": "unavailable",
                "detail": "the database connection was lost before this request finished; "
                "send it again (an answer with the same idempotency key is counted once)",
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DjangoValidationError):
        messages = exc.messages
        return Response(
            {"error": "invalid", "detail": "; ".join(messages)},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Http404):
        code = "not_found"
    elif isinstance(exc, PermissionDenied):
        code = "permission_denied"
    else:
        code = getattr(exc, "default_code", "error")
    data = response.data
    detail = data.get("detail") if isinstance(data, dict) and set(data) == {"detail"} else None
    reason = str(detail) if detail is not None else "; ".join(_flatten(data))
    response.data = {"error": str(code), "detail": reason}
    if isinstance(data, dict) and detail is None:
        response.data["fields"] = data
    return response
