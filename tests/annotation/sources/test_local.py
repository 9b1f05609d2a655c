"""Folder, URL-list and S3 sources feed the one candidate pool."""

from __future__ import annotations

import io

import pytest

from annotation.errors import DomainError
from annotation.models.collection import Candidate, SearchQuery
from annotation.services.projects import project_create
from annotation.sources import local
from tests.annotation.sources.flickr_server import FlickrServer, photo_bytes


@pytest.fixture
def project(db):  # type: ignore[no-untyped-def]
    return project_create(name="Local", categories=[{"name": "dog"}])


def test_a_csv_list_of_urls_keeps_its_metadata_and_records_failures(project, tmp_path):
    with FlickrServer() as server:
        server.fake.files["a.jpg"] = photo_bytes(1)
        base = server.fake.base
        listing = tmp_path / "photos.csv"
        listing.write_text(
            "location,photographer,date_taken,license\n"
            f"{base}/photos/a.jpg,Ann,2013-05-01T10:00:00,CC BY 2.0\n"
            f"{base}/photos/missing.jpg,Bob,,\n"
        )
        run = local.source_run(project=project, kind=SearchQuery.Kind.URLS, location=str(listing),
                               offers=local.offers_from_list(listing))  # fmt: skip
    assert run.outcomes == {"stored": 1, "failed": 1}
    stored = Candidate.objects.get(status="pooled")
    assert (stored.photographer, stored.license_name, stored.source) == ("Ann", "CC BY 2.0", "url")
    assert stored.date_taken.isoformat() == "2013-05-01T10:00:00+00:00"
    failed = Candidate.objects.get(status="failed")
    assert "404" in failed.reason and failed.photographer == "Bob"


class FakeS3:
    """The two boto3 S3 calls the source uses, over a dict of key -> bytes."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.reads: list[str] = []

    def get_paginator(self, name: str):  # type: ignore[no-untyped-def]
        assert name == "list_objects_v2"
        objects = self.objects

        class Paginator:
            def paginate(self, Bucket: str, Prefix: str):  # type: ignore[no-untyped-def]
                keys = sorted(k for k in objects if k.startswith(Prefix))
                yield {"Contents": [{"Key": k} for k in keys[:2]]}
                yield {"Contents": [{"Key": k} for k in keys[2:]]}

        return Paginator()

    def get_object(self, Bucket: str, Key: str) -> dict:
        self.reads.append(Key)
        return {"Body": io.BytesIO(self.objects[Key])}


def test_an_s3_prefix_is_listed_page_by_page_and_read_once(project):
    s3 = FakeS3({"raw/a.jpg": photo_bytes(1), "raw/sub/b.jpg": photo_bytes(2),
                 "raw/.hidden.jpg": b"x", "raw/c.txt": b"text", "other/d.jpg": photo_bytes(3)})  # fmt: skip
    uri = "s3://bucket/raw/"
    run = local.source_run(project=project, kind=SearchQuery.Kind.S3, location=uri,
                           offers=local.offers_from_s3(uri, client=s3))  # fmt: skip
    assert run.outcomes == {"stored": 2, "failed": 1}
    assert set(Candidate.objects.filter(status="pooled").values_list("source_ref", flat=True)) == {
        "s3://bucket/raw/a.jpg", "s3://bucket/raw/sub/b.jpg"}  # fmt: skip
    assert Candidate.objects.get(source_ref="s3://bucket/raw/sub/b.jpg").file_name == "sub/b.jpg"
    s3.reads.clear()
    again = local.source_run(project=project, kind=SearchQuery.Kind.S3, location=uri,
                             offers=local.offers_from_s3(uri, client=s3))  # fmt: skip
    assert again.outcomes == {"known": 3} and s3.reads == []


def test_an_s3_location_must_name_a_bucket():
    with pytest.raises(DomainError, match="not an S3 location"):
        local.s3_location("bucket/raw")
