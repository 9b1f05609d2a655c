"""Who may open a page: the same role rules as the API (annotation.services.people)."""

from typing import cast

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from annotation.services.people import is_admin, is_expert


def require_admin(request: HttpRequest, reason: str) -> None:
    if not is_admin(cast(User, request.user)):
        raise PermissionDenied(reason)


def require_expert(request: HttpRequest, reason: str) -> None:
    if not is_expert(cast(User, request.user)):
        raise PermissionDenied(reason)
