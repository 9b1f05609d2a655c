"""Production: everything the embedded default fills in must come from the environment, and
the settings refuse to load with DEBUG on or a weak or well-known SECRET_KEY."""

import os

from django.core.exceptions import ImproperlyConfigured

for required in ("SECRET_KEY", "DATABASE_URL"):
    if not os.environ.get(required):
        raise ImproperlyConfigured(f"{required} must be set in production")

from .base import *  # noqa: E402,F403

# One JSON line per log record unless LOG_FORMAT says otherwise (docs/admin/operations.md).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
if LOG_FORMAT not in LOGGING["formatters"]:  # noqa: F405
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405

# Keys seen in tutorials, templates and this repository's own examples.
KNOWN_KEYS = {"changeme", "change-me", "secret", "secret_key", "secretkey", "django-insecure",
              "test-only-secret-key-not-for-deployment", "your-secret-key", "password", "dev"}  # fmt: skip
MIN_KEY_LENGTH = 50
MIN_KEY_DISTINCT_CHARACTERS = 5

if DEBUG:  # noqa: F405
    raise ImproperlyConfigured(
        "DEBUG is on: production refuses to start with it (it shows settings and source in "
        "error pages); unset DEBUG or use config.settings.dev"
    )
_key = SECRET_KEY  # noqa: F405
if (
    _key.strip().lower() in KNOWN_KEYS
    or _key.startswith("django-insecure")
    or len(_key) < MIN_KEY_LENGTH
    or len(set(_key)) < MIN_KEY_DISTINCT_CHARACTERS
):
    raise ImproperlyConfigured(
        f"SECRET_KEY is weak or a default: production needs at least {MIN_KEY_LENGTH} random "
        "characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)  # noqa: F405
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
