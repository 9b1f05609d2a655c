"""API token authentication that reads the person's profile with the token (issue 17).

Every API request needs the profile (role, blocked) several times: the throttle, the
membership check, the task engine's blocked check, the payload's scrubbing. DRF's
TokenAuthentication reads the token and the user in one query; this one reads the profile
with them, and `services.people.profile_for` uses it for the rest of the request."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from annotation.services.people import REQUEST_PROFILE


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        try:
            token = Token.objects.select_related("user", "user__profile").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        profile = getattr(token.user, "profile", None)  # None: made outside cocoforge
        if profile is not None:
            # This request's user object only: a profile changed later is read afresh by
            # the next request.
            setattr(token.user, REQUEST_PROFILE, profile)
        return token.user, token
