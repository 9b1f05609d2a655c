"""Candidates from a local folder, a list of URLs or paths, or an S3 bucket prefix.

Each source is recorded as a SearchQuery of its own kind (the folder, list file or
s3://bucket/prefix is its text), so the admin sees its yield next to the Flickr queries.
Folders and lists reuse the parsing of `import_images` (annotation/services/image_sources).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from django.conf import settings

from annotation.errors import DomainError
from annotation.models import Image, Project
from annotation.models.collection import SearchQuery
from annotation.services.image_sources import sources_in_folder, sources_in_list
from annotation.services.images import SourceMetadata, fetch_bytes
from annotation.stages import collection


def _offer_from_meta(meta: SourceMetadata) -> collection.CandidateOffer:
    return collection.CandidateOffer(
        source=meta.source,
        source_ref=meta.source_ref,
        file_name=meta.file_name,
        fetch=lambda: fetch_bytes(meta.source_ref),
        download_url=meta.source_ref if meta.source_ref.startswith(("http://", "https://")) else "",
        original_url=meta.original_url,
        photographer=meta.photographer,
        date_taken=meta.date_taken,
        license_name=meta.license_name,
        license_url=meta.license_url,
    )


def offers_from_folder(folder: Path) -> list[collection.CandidateOffer]:
    return [_offer_from_meta(meta) for meta in sources_in_folder(folder)]


def offers_from_list(list_file: Path) -> list[collection.CandidateOffer]:
    """A text file of URLs/paths, or a CSV with location, photographer, date_taken, ..."""
    return [_offer_from_meta(meta) for meta in sources_in_list(list_file)]


def s3_location(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DomainError(f"{uri!r} is not an S3 location like s3://bucket/prefix/")
    return parsed.netloc, parsed.path.lstrip("/")


def offers_from_s3(uri: str, *, client: Any = None) -> Iterator[collection.CandidateOffer]:
    """Every object under s3://bucket/prefix (hidden names skipped), read with boto3. The
    client defaults to one built from the AWS_* environment, as django-storages does."""
    bucket, prefix = s3_location(uri)
    if client is None:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=getattr(settings, "AWS_S3_ENDPOINT_URL", None) or None
        )

    def reader(key: str) -> Callable[[], bytes]:
        def read() -> bytes:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
            content = body.read(settings.MAX_IMAGE_BYTES + 1)
            return content

        return read

    for listing in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in listing.get("Contents", []):
            key = entry["Key"]
            name = PurePosixPath(key).name
            if not name or name.startswith(".") or key.endswith("/"):
                continue
            yield collection.CandidateOffer(
                source=Image.Source.S3,
                source_ref=f"s3://{bucket}/{key}",
                file_name=key[len(prefix) :].lstrip("/") or name,
                fetch=reader(key),
            )


@dataclass
class SourceRun:
    query: SearchQuery
    outcomes: dict[str, int] = field(default_factory=dict)


def source_run(
    *,
    project: Project,
    kind: str,
    location: str,
    offers: Iterable[collection.CandidateOffer],
    on_photo: Callable[[str], None] | None = None,
) -> SourceRun:
    """Offer every photo of one source to the pool. Running it again skips stored photos."""
    query, _ = SearchQuery.objects.get_or_create(project=project, kind=kind, text=location[:500])
    run = SourceRun(query=query)
    for offer in offers:
        outcome = collection.collection_candidate_offer(
            project=project, query=query, offer=offer
        ).outcome
        run.outcomes[outcome] = run.outcomes.get(outcome, 0) + 1
        if outcome != "known":
            query.offered += 1
            query.save(update_fields=["offered", "updated_at"])
        if on_photo is not None:
            on_photo(outcome)
    query.status = SearchQuery.Status.DONE
    query.save(update_fields=["status", "updated_at"])
    return run
