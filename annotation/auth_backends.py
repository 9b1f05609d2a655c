"""Sign-in limits (django-axes), in front of Django's own password check."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class SignInLimitBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every sign-in that comes over HTTP (/login/, the
    admin, /api/v1/auth/token/: each passes its request). A password check with no request
    (the test client's login, a shell) has no address to count against and is let through
    to the next backend, where axes would refuse it outright."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
