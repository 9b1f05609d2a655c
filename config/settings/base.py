"""Settings read from the environment, in one place (12-factor).

With nothing set, the embedded default runs: SQLite under ./var, Celery eager (tasks run
in-process), media on local disk under ./var/media. Set DATABASE_URL, REDIS_URL and
MEDIA_STORAGE=s3 for a real deployment (docker-compose.yml does).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("COCOFORGE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def local_secret_key() -> str:
    """A per-checkout random key for the embedded default; never a key written in the code."""
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotation",
    "pipelines",
    "frontend",
    "ops",
]

MIDDLEWARE = [
    "ops.middleware.RequestLogMiddleware",  # first: it times and logs everything below
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'cocoforge.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite serialises writers. IMMEDIATE transactions take the write lock up front, so
    # the busy timeout turns contention into waiting instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or REDIS_URL or None
# Without a broker the embedded default runs tasks in-process, so the demo needs no Redis.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "default")
# The `models` queue is consumed only by the GPU worker (docker-compose service `models`).
# Every task of the web app lives in pipelines/tasks/ (autodiscovered; no CELERY_IMPORTS).
CELERY_TASK_ROUTES = {"models_zoo.*": {"queue": "models"}}
# Hand-offs (pipelines/tasks/handoff.py): a worker killed mid-task leaves its message unacked;
# with reject_on_worker_lost it goes back to the queue instead of being dropped.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Time limits (issue 17): a hand-off is short; exports, scoring and Flickr runs are long.
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "300"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "360"))
PIPELINE_LONG_TASK_SOFT_TIME_LIMIT = int(
    os.environ.get("PIPELINE_LONG_TASK_SOFT_TIME_LIMIT", "3600")
)
PIPELINE_LONG_TASK_TIME_LIMIT = int(os.environ.get("PIPELINE_LONG_TASK_TIME_LIMIT", "3720"))
# Redis redelivers a message that was taken but never acknowledged (a dead worker) after
# visibility_timeout seconds. It must exceed the longest task's hard limit, or a long export
# still running would be handed to a second worker; 2 h by default.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "7200")),
}
if os.environ.get("CELERY_BROKER_KEY_PREFIX"):
    # Installations (or test processes) sharing one Redis keep apart: queues and the
    # unacknowledged-message index are per prefix, so one never redelivers another's work.
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = os.environ["CELERY_BROKER_KEY_PREFIX"]
# The periodic sweep (pipelines/sweep.py): what a lost message left behind is repaired once
# it is older than this (a hand-off still on its way is not repeated needlessly).
PIPELINE_SWEEP_GRACE_SECONDS = int(os.environ.get("PIPELINE_SWEEP_GRACE_SECONDS", "600"))
# Whether the web app sends work to the model service (queue `models`): on whenever there is
# a broker. Off, tasks go out without model suggestions (docs/admin/models.md).
MODELS_SERVICE = env_bool("MODELS_SERVICE", bool(CELERY_BROKER_URL))
CELERY_BEAT_SCHEDULE = {
    "release-expired-leases": {
        "task": "pipelines.tasks.engine.release_expired_leases",
        "schedule": 60.0,
    },
    "sweep-pipeline": {
        "task": "pipelines.tasks.sweep.sweep_pipeline",
        "schedule": float(os.environ.get("PIPELINE_SWEEP_EVERY_SECONDS", "300")),
    },
    # Mechanical Turk (docs/admin/mturk.md): sync submitted assignments, review them when a
    # project asks for it, expire HITs whose tasks are finished. Projects without
    # mturk_enabled, or an installation without AWS credentials, are left alone.
    "mturk-sync": {
        "task": "pipelines.tasks.marketplace.sync_mturk",
        "schedule": float(os.environ.get("MTURK_SYNC_EVERY_SECONDS", "300")),
    },
}

# --- Mechanical Turk (docs/admin/mturk.md) ----------------------------------------------
# The address MTurk workers' browsers reach this site at (https://..., no trailing slash):
# the ExternalQuestion of every HIT points at SITE_URL + /mturk/external/.
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/")
# HITs go to the requester sandbox unless this is set: real money moves only when asked.
MTURK_PRODUCTION = env_bool("MTURK_PRODUCTION", False)
MTURK_SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
# The requester account's keys when they differ from the AWS_* ones (which may be the media
# bucket's, e.g. MinIO's in docker-compose); unset, boto3's usual chain is used.
MTURK_AWS_ACCESS_KEY_ID = os.environ.get("MTURK_AWS_ACCESS_KEY_ID", "")
MTURK_AWS_SECRET_ACCESS_KEY = os.environ.get("MTURK_AWS_SECRET_ACCESS_KEY", "")
MTURK_PRODUCTION_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"

# --- storage --------------------------------------------------------------------------
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = os.environ.get("MEDIA_URL", "/media/")
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STATIC_URL = "/static/"
MEDIA_STORAGE = os.environ.get("MEDIA_STORAGE", "local")  # "local" or "s3"
if MEDIA_STORAGE == "s3":
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", "cocoforge"),
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "querystring_auth": True,
            "querystring_expire": int(os.environ.get("MEDIA_URL_EXPIRE_SECONDS", "300")),
            "file_overwrite": False,
            "signature_version": "s3v4",  # presigned URLs with X-Amz-Expires (issue 18)
        },
    }
elif MEDIA_STORAGE == "local":
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ValueError(f"MEDIA_STORAGE must be 'local' or 's3', not {MEDIA_STORAGE!r}")
# Issue 18: downloads leave after Django's permission check without Python streaming them:
# S3 answers a presigned URL valid this long; local storage behind nginx answers with an
# X-Accel-Redirect to this internal location (deploy/nginx.conf). docs/admin/storage.md.
MEDIA_URL_EXPIRE_SECONDS = int(os.environ.get("MEDIA_URL_EXPIRE_SECONDS", "300"))
MEDIA_ACCEL_REDIRECT = os.environ.get("MEDIA_ACCEL_REDIRECT", "0") == "1"
MEDIA_ACCEL_PREFIX = os.environ.get("MEDIA_ACCEL_PREFIX", "/protected-media/")
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Whitenoise serves static files straight from the apps when collectstatic has not run
# (the demo); production runs collectstatic in the image.
WHITENOISE_USE_FINDERS = True

# --- auth -----------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous script gets 401 with a WWW-Authenticate header.
        "annotation.api.authentication.TokenAuthentication",  # reads the profile with it
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotation.api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # A view opts in with `throttle_scope`; the rates are THROTTLE_RATES (below).
    "DEFAULT_THROTTLE_CLASSES": ["annotation.api.throttles.AnnotatorThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cocoforge API",
    "DESCRIPTION": "Crowd annotation of COCO-style datasets: projects, images and the task engine.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package: the docs work with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Issue 17: the error body and status codes every endpoint can answer.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotation.api.schema.document_errors",
    ],
}

# --- the task engine ------------------------------------------------------------------
# How long a worker holds a leased task before it returns to the pool.
TASK_LEASE_SECONDS = int(os.environ.get("TASK_LEASE_SECONDS", "900"))

# --- image ingestion ------------------------------------------------------------------
# Pillow refuses images above this many pixels (decompression bombs); COCO's largest
# photos are 640 px on the long side, Flickr originals rarely exceed 50 MP.
MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", str(89_478_485)))
IMAGE_FETCH_TIMEOUT_SECONDS = float(os.environ.get("IMAGE_FETCH_TIMEOUT_SECONDS", "20"))
MAX_IMAGE_BYTES = int(os.environ.get("MAX_IMAGE_BYTES", str(50 * 1024 * 1024)))
# import_coco reads a whole COCO file into memory (json.load, about 8x the file's size):
# larger files are refused by their size first (issue 17). COCO 2017's train instances file
# is 448 MB.
MAX_COCO_IMPORT_BYTES = int(os.environ.get("MAX_COCO_IMPORT_BYTES", str(1024 * 1024 * 1024)))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Logs (docs/admin/operations.md): LOG_FORMAT=json writes one JSON object per line (every
# request and every Celery task among them, with its request id); text is for reading in a
# terminal. production.py defaults to json.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "ops.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "ops.logging.JsonLineFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
if LOG_FORMAT not in LOGGING["formatters"]:
    raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}")
# The worker logs through LOGGING above rather than replacing the root logger's handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- stage 1: image collection (annotation/stages/collection.py, annotation/sources/) ----
FLICKR_API_KEY = os.environ.get("FLICKR_API_KEY", "")
FLICKR_API_URL = os.environ.get("FLICKR_API_URL", "https://api.flickr.com/services/rest/")
# Flickr allows 3,600 API calls an hour per key: one call a second stays under it.
FLICKR_MIN_INTERVAL_SECONDS = float(os.environ.get("FLICKR_MIN_INTERVAL_SECONDS", "1.0"))
FLICKR_TIMEOUT_SECONDS = float(os.environ.get("FLICKR_TIMEOUT_SECONDS", "15"))
FLICKR_MAX_RETRIES = int(os.environ.get("FLICKR_MAX_RETRIES", "4"))
FLICKR_BACKOFF_SECONDS = float(os.environ.get("FLICKR_BACKOFF_SECONDS", "1.0"))
# Which size to download, first present wins (url_z: 640 px, COCO's image size).
FLICKR_SIZE_PREFERENCE = env_list("FLICKR_SIZE_PREFERENCE", "url_z,url_c,url_o")
COLLECTION_THUMBNAIL_PX = int(os.environ.get("COLLECTION_THUMBNAIL_PX", "160"))

# --- accounts and limits (docs/admin/accounts-and-limits.md) ---------------------------
# django-axes: sign-in failures counted per account and, separately, per address; past the
# limit that account (or address) is refused until the cool-off ends, even with the right
# password. /login/, the admin and the API token endpoint all sign in through it.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "annotation.auth_backends.SignInLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("SIGNIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("SIGNIN_COOLOFF_HOURS", "0.25"))  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each counted on its own
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = env_bool("AXES_VERBOSE", False)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind the reverse proxy (docker-compose) the address is the first X-Forwarded-For hop.
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0")) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# DRF throttles (annotation/api/throttles.py), "N/second|minute|hour|day". The crowd
# simulator and tests raise them through the environment. Admins are not throttled.
THROTTLE_RATES = {
    # Leasing and submitting work, per annotator.
    "lease": os.environ.get("THROTTLE_LEASE_RATE", "120/minute"),
    "submit": os.environ.get("THROTTLE_SUBMIT_RATE", "120/minute"),
    # Click-to-mask decodes a photo and runs GrabCut: a CPU cost per click, per annotator.
    "click_mask": os.environ.get("THROTTLE_CLICK_MASK_RATE", "30/minute"),
    # Asking for an API token, per address and per account named.
    "token_address": os.environ.get("THROTTLE_TOKEN_ADDRESS_RATE", "20/hour"),
    "token_account": os.environ.get("THROTTLE_TOKEN_ACCOUNT_RATE", "10/hour"),
}
# Throttle counts live in the cache: Redis when there is one, so every web process counts
# together; in-process memory for the embedded default.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Which of a category's least-used training outlines a trainee gets: "random" (people cannot
# tell which comes next) or "first" (reproducible: the crowd simulator's own site uses it).
QUALIFICATION_REFERENCE_CHOICE = os.environ.get("QUALIFICATION_REFERENCE_CHOICE", "random")
if QUALIFICATION_REFERENCE_CHOICE not in {"random", "first"}:
    raise ValueError("QUALIFICATION_REFERENCE_CHOICE must be random or first")
# --- Amazon Mechanical Turk, worker side (docs/annotator/mturk.md) ----------------------
# The only hosts the HIT page posts MTurk's externalSubmit form to (`turkSubmitTo`), and the
# only sites that may frame that page (CSP frame-ancestors; the rest of the site is DENY).
MTURK_SUBMIT_HOSTS = env_list(
    "MTURK_SUBMIT_HOSTS", "https://www.mturk.com,https://workersandbox.mturk.com"
)
MTURK_FRAME_ANCESTORS = env_list("MTURK_FRAME_ANCESTORS", ",".join(MTURK_SUBMIT_HOSTS))
# MTurk shows the HIT page in an iframe of another site: browsers send and keep this site's
# cookies there only when they are SameSite=None (with Secure, so over HTTPS). An
# installation that publishes HITs sets both to None (docs/admin/security-model.md).
SESSION_COOKIE_SAMESITE = os.environ.get("SESSION_COOKIE_SAMESITE", "Lax")
CSRF_COOKIE_SAMESITE = os.environ.get("CSRF_COOKIE_SAMESITE", "Lax")
for _samesite in (SESSION_COOKIE_SAMESITE, CSRF_COOKIE_SAMESITE):
    if _samesite not in {"Lax", "Strict", "None"}:
        raise ValueError("SESSION_COOKIE_SAMESITE / CSRF_COOKIE_SAMESITE: Lax, Strict or None")
# --- operations (docs/admin/operations.md) ---------------------------------------------
# Prometheus: django-prometheus times every request (its middleware first and last); the
# database backends stay Django's own. /metrics answers only these addresses (networks in
# CIDR form allowed) or a request with `Authorization: Bearer <METRICS_BEARER_TOKEN>`.
INSTALLED_APPS += ["django_prometheus"]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1")
METRICS_BEARER_TOKEN = os.environ.get("METRICS_BEARER_TOKEN", "")
