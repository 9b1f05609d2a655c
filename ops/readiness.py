"""What /readyz and `manage.py readyz` check: the database, the broker, the media storage.

Each check returns None when the dependency answers, or the reason it does not.
"""

from __future__ import annotations

import os

import redis
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection

TIMEOUT_SECONDS = 2.0


def database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "not ready"
        return f"{type(error).__name__}: {error}".strip()
    return None


def broker_url() -> str:
    return str(getattr(settings, "CELERY_BROKER_URL", "") or "")


def broker_problem() -> str | None:
    """Redis answers PING (nothing to check for the embedded default, which runs tasks
    in-process)."""
    url = broker_url()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:  # connection refused, timeout, auth
        return f"{type(error).__name__}: {error}".strip()
    return None


def storage_problem() -> str | None:
    """Local media: the folder exists and can be written. S3 and other stores: a lookup of
    one key answers (a missing key is an answer)."""
    try:
        if isinstance(default_storage, FileSystemStorage):
            location = str(default_storage.location)
            if not os.path.isdir(location):
                return f"media folder {location} does not exist"
            if not os.access(location, os.W_OK):
                return f"media folder {location} is not writable"
            return None
        default_storage.exists("readyz-probe")
    except Exception as error:  # network, credentials, missing bucket
        return f"{type(error).__name__}: {error}".strip()
    return None


def readiness() -> dict[str, str]:
    """{"database": "ok" | reason, "broker": ..., "storage": ...}."""
    checks = {
        "database": database_problem(),
        "broker": broker_problem(),
        "storage": storage_problem(),
    }
    return {name: problem or "ok" for name, problem in checks.items()}
