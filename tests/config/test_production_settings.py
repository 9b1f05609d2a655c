"""Production settings refuse to load with DEBUG on or a weak SECRET_KEY (each case imports
the settings in a fresh interpreter, as a deployment would)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG = secrets.token_urlsafe(50)


def load_production(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update({"DATABASE_URL": "sqlite:////tmp/cocoforge-prod-check.sqlite3", **env})
    return subprocess.run(
        [sys.executable, "-c", "import config.settings.production as s; print('loaded', s.DEBUG)"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_strong_key_without_debug_loads():
    result = load_production(SECRET_KEY=STRONG)
    assert result.returncode == 0, result.stderr
    assert "loaded False" in result.stdout


@pytest.mark.parametrize("debug", ["1", "true", "on"])
def test_debug_on_is_refused(debug):
    result = load_production(SECRET_KEY=STRONG, DEBUG=debug)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DEBUG is on" in result.stderr


@pytest.mark.parametrize(
    "key",
    ["changeme", "secret", "django-insecure-" + "x" * 50, "short-but-random-9f8e7d", "a" * 60],
)
def test_a_weak_or_default_secret_key_is_refused(key):
    result = load_production(SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY is weak or a default" in result.stderr


def test_a_missing_secret_key_is_refused():
    result = load_production()
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr
