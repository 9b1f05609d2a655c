"""Test settings: PostgreSQL and Redis when they are reachable, SQLite and eager Celery if not.

COCOFORGE_TEST_BACKEND=sqlite forces the embedded default (the suite passes on both).
"""

import os
import socket
import tempfile
from pathlib import Path


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


backend = os.environ.get("COCOFORGE_TEST_BACKEND", "auto")
if backend not in {"auto", "sqlite", "postgres"}:
    raise ValueError("COCOFORGE_TEST_BACKEND must be auto, sqlite or postgres")
use_services = backend == "postgres" or (backend == "auto" and reachable("127.0.0.1", 5432))
if use_services:
    # One database per test process, so concurrent runs on one server never collide.
    os.environ.setdefault(
        "DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/cocoforge_{os.getpid()}"
    )
    if reachable("127.0.0.1", 6379):
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
        # Broker keys per test process too: a worker test never takes another run's messages.
        os.environ.setdefault("CELERY_BROKER_KEY_PREFIX", f"cocoforge-test-{os.getpid()}:")
else:
    os.environ["DATABASE_URL"] = "sqlite:///" + os.path.join(
        tempfile.gettempdir(), "cocoforge-test.sqlite3"
    )
    os.environ.pop("REDIS_URL", None)
# One folder per test process too: concurrent runs (CI beside a developer's) never share files.
os.environ.setdefault(
    "COCOFORGE_VAR_DIR", os.path.join(tempfile.gettempdir(), f"cocoforge-test-var-{os.getpid()}")
)
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-deployment")
# Throttles out of the way of ordinary tests; the throttle tests set their own rates.
for _scope in ("LEASE", "SUBMIT", "CLICK_MASK", "TOKEN_ADDRESS", "TOKEN_ACCOUNT"):
    os.environ.setdefault(f"THROTTLE_{_scope}_RATE", "100000/minute")
# Tests that need task side effects run them in-process; the worker test sets its own.
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
# No models worker consumes the `models` queue in tests: publish nothing unless a test asks.
os.environ["MODELS_SERVICE"] = "0"

from .base import *  # noqa: E402,F403

MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="cocoforge-media-"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not the shared-cache in-memory default, whose table locks ignore the timeout.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"cocoforge-test-{os.getpid()}.sqlite3")
    }
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Throttle counts in process memory: the shared Redis would carry them across test runs.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
