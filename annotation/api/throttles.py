"""DRF throttles with their rates in settings.THROTTLE_RATES, read at each request (so an
environment variable, or a test's override_settings, changes them without a restart of the
class). Admins are never throttled: they run imports and checks from scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:  # rest_framework.views imports the throttle classes named in settings
    from rest_framework.views import APIView

from annotation.services.people import is_admin


class SettingsRateThrottle(SimpleRateThrottle):
    scope = ""

    def get_rate(self) -> str | None:
        return settings.THROTTLE_RATES.get(self.scope)


class AnnotatorThrottle(SettingsRateThrottle):
    """Per signed-in worker; the view names the scope (`lease`, `submit`)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope = getattr(view, "throttle_scope", "")
        if not self.scope or (request.user.is_authenticated and is_admin(request.user)):  # type: ignore[arg-type]
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TokenAddressThrottle(SettingsRateThrottle):
    """Token requests per client address."""

    scope = "token_address"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenAccountThrottle(SettingsRateThrottle):
    """Token requests per account named in the request, whoever sends them."""

    scope = "token_account"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None  # nothing to count: the serializer refuses it
        return self.cache_format % {"scope": self.scope, "ident": username.strip().lower()[:150]}
