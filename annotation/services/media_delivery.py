"""How a stored file (photo, thumbnail, export) leaves the site, after the caller's
permission check (issue 18). Python never streams the bytes in a deployment:

- S3 (MEDIA_STORAGE=s3): a 302 to a presigned URL that expires after
  MEDIA_URL_EXPIRE_SECONDS;
- local storage behind nginx (MEDIA_ACCEL_REDIRECT=1): an empty answer with an
  `X-Accel-Redirect` header naming the file under MEDIA_ACCEL_PREFIX, an `internal`
  location of nginx (deploy/nginx.conf) that sends it from the shared media volume;
- local storage without nginx (runserver, the demo, the tests): Django streams the file.

The caller checks who may see the file first (annotation/selectors/access.py); these
functions only decide how it is sent.
"""

from __future__ import annotations

import hashlib
import json
import os.path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils._os import safe_join

DEFAULT_URL_EXPIRE_SECONDS = 300
DEFAULT_ACCEL_PREFIX = "/protected-media/"


def storage_is_local() -> bool:
    """Whether the media storage is a folder on this machine (FileSystemStorage)."""
    return isinstance(storages["default"], FileSystemStorage)


def media_served_directly() -> bool:
    """Whether a file is handed to nginx or S3 rather than streamed by Django."""
    return not storage_is_local() or bool(getattr(settings, "MEDIA_ACCEL_REDIRECT", False))


def _disposition(download_name: str | None) -> str | None:
    if download_name is None:
        return None
    return f"attachment; filename*=UTF-8''{quote(download_name)}"


def _presigned_url(name: str, parameters: dict[str, str]) -> str:
    """A presigned GET URL for `name`, the same one for everybody during half its life.

    A fresh signature on every request would make every thumbnail a new URL, so browsers
    could never reuse what they fetched (a grid of 128 thumbnails went to S3 in full on
    every visit). Reusing the URL while at least half its life is left, and asking S3 to
    send the file as cacheable for that long, lets the browser answer repeat loads from its
    own cache; the redirect to it is still decided per request, after the permission check.
    """
    expire = int(getattr(settings, "MEDIA_URL_EXPIRE_SECONDS", DEFAULT_URL_EXPIRE_SECONDS))
    s3: Any = storages["default"]  # S3Storage.url takes the signing parameters
    reuse_seconds = expire // 2
    if reuse_seconds < 1:  # too short a life to share: a fresh signature each time
        return str(s3.url(name, parameters=parameters or None, expire=expire))
    signed = {**parameters, "ResponseCacheControl": f"private, max-age={reuse_seconds}"}
    where = [getattr(s3, "endpoint_url", None), getattr(s3, "bucket_name", None)]
    key = (
        "presigned:"
        + hashlib.sha256(
            json.dumps([where, name, sorted(signed.items()), expire]).encode()
        ).hexdigest()
    )
    cached = cache.get(key)
    if isinstance(cached, str):
        return cached
    url = str(s3.url(name, parameters=signed, expire=expire))
    cache.set(key, url, timeout=reuse_seconds)
    return url


def service_url(name: str, *, seconds: int) -> str:
    """A presigned GET URL for another service of this deployment (the models worker),
    valid `seconds`; only for object storage, where that service holds no credentials."""
    if storage_is_local():
        raise ValueError("local media: give the service a path under the shared media root")
    s3: Any = storages["default"]
    return str(s3.url(name, expire=seconds))


def media_response(
    *, name: str, download_name: str | None = None, content_type: str | None = None
) -> HttpResponseBase:
    """The answer that delivers the stored file `name` (relative to the media storage);
    `download_name` makes it an attachment with that file name. 404 when a local file is
    missing or the name leaves the media root."""
    disposition = _disposition(download_name)
    if ".." in name.split("/") or name.startswith("/"):
        raise Http404("no such file")  # outside the media storage
    if not storage_is_local():
        parameters: dict[str, str] = {}
        if disposition:
            parameters["ResponseContentDisposition"] = disposition
        if content_type:
            parameters["ResponseContentType"] = content_type
        redirect = HttpResponseRedirect(_presigned_url(name, parameters))
        # The redirect is asked for again every time (the permission check runs each time);
        # the URL it names is a short-lived credential no proxy may keep.
        redirect["Cache-Control"] = "private, no-store"
        return redirect
    try:
        path = safe_join(settings.MEDIA_ROOT, name)
    except (ValueError, SuspiciousFileOperation) as error:  # a name that leaves the root
        raise Http404("no such file") from error
    if getattr(settings, "MEDIA_ACCEL_REDIRECT", False):
        if not os.path.isfile(path):
            raise Http404("no such file")
        response = HttpResponse(content_type=content_type or "")
        if not content_type:
            del response["Content-Type"]  # nginx sets it from the file's extension
        prefix = getattr(settings, "MEDIA_ACCEL_PREFIX", DEFAULT_ACCEL_PREFIX)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(name.lstrip("/"))
        if disposition:
            response["Content-Disposition"] = disposition
        return response
    try:
        handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    except OSError as error:
        raise Http404("no such file") from error
    streamed = FileResponse(
        handle, as_attachment=download_name is not None, filename=download_name or ""
    )
    if content_type:
        streamed["Content-Type"] = content_type
    return streamed
