"""Fixtures of the storage tests: one S3 server per test session, one bucket per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.storage.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server

_buckets = itertools.count(1)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_media(s3_server, settings, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """MEDIA_STORAGE=s3: the media storage is a fresh bucket of the local S3 server; boto3
    clients made from the environment (collect_images --s3) reach the same server."""
    bucket = f"media-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": s3_server.storage_settings(bucket)}
    settings.MEDIA_STORAGE = "s3"
    settings.MEDIA_ROOT = tmp_path / "unused-media"  # where nothing may be written
    settings.AWS_S3_ENDPOINT_URL = s3_server.endpoint_url
    for name, value in {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                        "AWS_DEFAULT_REGION": REGION}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return bucket
