"""Candidate intake from any source (Flickr, folders, URL lists, S3: annotation/sources/):
one photo offered at a time is stored in the candidate pool with its thumbnail and
perceptual hash, or recorded with why not (known, capped by the photographer cap, same
bytes as another, failed)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import imagehash
import PIL.Image
import PIL.ImageOps
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from annotation.errors import DomainError
from annotation.models import Project
from annotation.models.collection import Candidate, SearchQuery
from annotation.services.images import ImageCheckFailed, photo_check
from annotation.stages.collection.photographer_cap import photographer_cap_reason


@dataclass
class CandidateOffer:
    """A photo a source offers; `fetch` reads its bytes (only when the photo is wanted)."""

    source: str
    source_ref: str
    file_name: str
    fetch: Callable[[], bytes]
    download_url: str = ""
    original_url: str = ""
    title: str = ""
    photographer: str = ""
    photographer_id: str = ""
    date_taken: datetime | None = None
    license_name: str = ""
    license_url: str = ""


@dataclass
class OfferOutcome:
    # "stored", "known" (already in the pool: skipped), "capped", "duplicate" or "failed"
    outcome: str
    candidate: Candidate


def photo_thumbnail(content: bytes, size_px: int) -> tuple[bytes, str]:
    """A JPEG no larger than size_px on its long side, and the 64-bit perceptual hash
    (imagehash.phash: DCT of a 32x32 greyscale) as 16 hex digits."""
    with PIL.Image.open(io.BytesIO(content)) as photo:
        oriented = PIL.ImageOps.exif_transpose(photo) or photo
        rgb = oriented.convert("RGB")
    return _thumbnail_of(rgb, size_px)


def _thumbnail_of(rgb: PIL.Image.Image, size_px: int) -> tuple[bytes, str]:
    """`photo_thumbnail` of a photo already decoded, oriented and in RGB (shrunk in place)."""
    phash = str(imagehash.phash(rgb))
    rgb.thumbnail((size_px, size_px))
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=85, optimize=True)
    return buffer.getvalue(), phash


def collection_candidate_offer(
    *, project: Project, query: SearchQuery | None, offer: CandidateOffer
) -> OfferOutcome:
    """Take one photo into the candidate pool, or record why not. A photo already in the pool
    (same source reference) is skipped without a download, so re-running a query resumes.
    Every other outcome is a Candidate row: stored, capped, or failed with its reason."""
    known = Candidate.objects.filter(project=project, source_ref=offer.source_ref).first()
    if known is not None:
        return OfferOutcome("known", known)
    candidate = Candidate(
        project=project,
        query=query,
        source=offer.source,
        source_ref=offer.source_ref[:1000],
        download_url=offer.download_url[:1000],
        original_url=offer.original_url[:1000],
        title=offer.title[:500],
        file_name=offer.file_name[:500],
        photographer=offer.photographer[:200],
        photographer_id=offer.photographer_id[:200],
        date_taken=offer.date_taken,
        license_name=offer.license_name[:200],
        license_url=offer.license_url[:500],
    )
    capped = photographer_cap_reason(
        project=project,
        photographer=offer.photographer,
        photographer_id=offer.photographer_id,
        date_taken=offer.date_taken,
    )
    if capped:
        candidate.status, candidate.reason = Candidate.Status.CAPPED, capped
        return _candidate_save(candidate, "capped")
    try:
        content = offer.fetch()
    except Exception as error:  # any source's read failure is recorded, the run goes on
        return _candidate_fail(candidate, f"download failed: {error}")
    checksum = hashlib.sha256(content).hexdigest()
    same_bytes = Candidate.objects.filter(project=project, checksum_sha256=checksum).first()
    thumb = b""
    if same_bytes is not None and same_bytes.phash and same_bytes.width and same_bytes.height:
        # These bytes were decoded once already: their hash and size are known.
        phash, width, height = same_bytes.phash, same_bytes.width, same_bytes.height
    else:
        try:
            # One decode gives the checks, the hash and the thumbnail.
            checked = photo_check(content, keep_image=True)
            assert checked.image is not None
            thumb, phash = _thumbnail_of(
                checked.image.convert("RGB"), settings.COLLECTION_THUMBNAIL_PX
            )
        except ImageCheckFailed as failure:
            return _candidate_fail(candidate, f"{failure.reason}: {failure.detail}")
        except (OSError, ValueError) as error:
            return _candidate_fail(candidate, f"truncated: cannot make a thumbnail: {error}")
        width, height = checked.width, checked.height
    candidate.checksum_sha256, candidate.phash = checksum, phash
    candidate.width, candidate.height = width, height
    if same_bytes is not None:
        candidate.status = Candidate.Status.DUPLICATE
        candidate.duplicate_of = same_bytes
        candidate.reason = f"same bytes as candidate {same_bytes.id}"
        return _candidate_save(candidate, "duplicate")
    # Relative to the fields' upload_to ("collection/", "collection/thumbs/").
    folder = f"{project.id}/{checksum[:2]}"
    suffix = "." + (checked.format or "img").lower().replace("jpeg", "jpg")
    candidate.file.save(f"{folder}/{checksum}{suffix}", ContentFile(content), save=False)
    candidate.thumbnail.save(
        f"{folder}/{checksum}_t{settings.COLLECTION_THUMBNAIL_PX}.jpg",
        ContentFile(thumb),
        save=False,
    )
    return _candidate_save(candidate, "stored")


def _candidate_fail(candidate: Candidate, reason: str) -> OfferOutcome:
    candidate.status = Candidate.Status.FAILED
    candidate.reason = reason[:2000]
    return _candidate_save(candidate, "failed")


def _candidate_save(candidate: Candidate, outcome: str) -> OfferOutcome:
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        # Another run stored the same photo between the check and the insert.
        for field in (candidate.file, candidate.thumbnail):
            if field:
                field.delete(save=False)
        known = Candidate.objects.get(project=candidate.project, source_ref=candidate.source_ref)
        return OfferOutcome("known", known)
    return OfferOutcome(outcome, candidate)


def collection_thumbnail_stored(candidate: Candidate, *, check_exists: bool) -> str:
    """The storage name of the candidate's thumbnail, made (and stored) first if it has none,
    or, with `check_exists`, if it is lost from storage. For a web server or S3 to send the
    file without Django reading it (issue 18)."""
    name = candidate.thumbnail.name or ""
    if name and (not check_exists or candidate.thumbnail.storage.exists(name)):
        return name
    if name:
        candidate.thumbnail = None  # type: ignore[assignment]
    collection_thumbnail_for(candidate)
    return candidate.thumbnail.name or ""


def collection_thumbnail_for(candidate: Candidate) -> bytes:
    """The stored thumbnail; made once from the stored photo if it is missing."""
    if candidate.thumbnail:
        try:  # one storage round trip, not an exists() check and then the read
            with candidate.thumbnail.open("rb") as handle:
                return handle.read()
        except FileNotFoundError:
            pass  # lost from storage: made again below
    if not candidate.file:
        raise DomainError(f"candidate {candidate.id} has no stored photo")
    with candidate.file.open("rb") as handle:
        thumb, _ = photo_thumbnail(handle.read(), settings.COLLECTION_THUMBNAIL_PX)
    name = (
        f"{candidate.project_id}/thumbs/{candidate.id}.jpg"  # under upload_to "collection/thumbs/"
    )
    candidate.thumbnail.save(name, ContentFile(thumb), save=False)
    Candidate.objects.filter(id=candidate.id).update(thumbnail=candidate.thumbnail.name)
    return thumb
