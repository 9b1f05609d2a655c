"""Image ingestion: check a photo, record its metadata, store it through Django storage.

Every input ends as either an Image or an ImageRejection with its reason; nothing is
dropped silently. Width and height are those after EXIF orientation, i.e. what a browser
shows and what annotators draw on.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import PIL.Image
import PIL.ImageOps
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.events import image_stored, send_on_commit
from annotation.models import Image, ImageRejection, Project

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_ARTIST = 0x013B
EXIF_IFD = 0x8769


@dataclass
class SourceMetadata:
    """What is known of a photo's origin; blank fields are filled from EXIF when present."""

    source: str
    source_ref: str
    file_name: str
    original_url: str = ""
    photographer: str = ""
    date_taken: datetime | None = None
    license_name: str = ""
    license_url: str = ""


@dataclass
class IngestResult:
    image: Image | None = None
    rejection: ImageRejection | None = None

    @property
    def accepted(self) -> bool:
        return self.image is not None


@dataclass
class IngestSummary:
    imported: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def add(self, result: IngestResult) -> None:
        if result.accepted:
            self.imported += 1
        else:
            assert result.rejection is not None
            reason = result.rejection.reason
            self.rejected[reason] = self.rejected.get(reason, 0) + 1


class ImageCheckFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class CheckedPhoto:
    width: int
    height: int
    format: str
    exif_date_taken: datetime | None
    exif_artist: str
    # The decoded photo after EXIF orientation, only when photo_check(keep_image=True).
    image: PIL.Image.Image | None = field(default=None, repr=False, compare=False)


def photo_check(content: bytes, *, keep_image: bool = False) -> CheckedPhoto:
    """Decode the whole photo once. Raises ImageCheckFailed with a reason code. With
    keep_image, the decoded and oriented photo comes back in `image`, so a caller that
    needs the pixels (a thumbnail, a hash) does not decode the bytes a second time."""
    if len(content) > settings.MAX_IMAGE_BYTES:
        raise ImageCheckFailed(
            ImageRejection.Reason.TOO_LARGE,
            f"{len(content)} bytes, more than the limit of {settings.MAX_IMAGE_BYTES}",
        )
    PIL.Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between the limit and twice the limit; refuse both.
            warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(io.BytesIO(content)) as photo:
                photo.load()  # a truncated file fails here, not at open()
                oriented = PIL.ImageOps.exif_transpose(photo) or photo
                if keep_image and oriented is photo:
                    oriented = photo.copy()  # closing `photo` below would empty it
                width, height = oriented.size
                image_format = photo.format or ""
                exif = photo.getexif()
    except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning) as error:
        raise ImageCheckFailed(ImageRejection.Reason.DECOMPRESSION_BOMB, str(error)) from None
    except PIL.UnidentifiedImageError:
        raise ImageCheckFailed(
            ImageRejection.Reason.NOT_AN_IMAGE, "not a format Pillow can read as an image"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageCheckFailed(ImageRejection.Reason.TRUNCATED, f"cannot decode: {error}") from None
    date_taken = None
    raw_date = exif.get_ifd(EXIF_IFD).get(EXIF_DATETIME_ORIGINAL) if exif else None
    if isinstance(raw_date, str):
        try:
            date_taken = timezone.make_aware(
                datetime.strptime(raw_date.strip(), "%Y:%m:%d %H:%M:%S")
            )
        except ValueError:
            date_taken = None
    artist = str(exif.get(EXIF_ARTIST, "")).strip() if exif else ""
    return CheckedPhoto(
        width, height, image_format, date_taken, artist, image=oriented if keep_image else None
    )


def _reject(
    project: Project, meta: SourceMetadata, reason: str, detail: str, **extra
) -> IngestResult:
    rejection = ImageRejection.objects.create(
        project=project, source_ref=meta.source_ref[:1000], reason=reason, detail=detail, **extra
    )
    return IngestResult(rejection=rejection)


def image_storage_name(project_id: int, checksum: str, suffix: str) -> str:
    """A project's photo by its SHA-256, under a folder of its first byte. Relative to the
    field's upload_to ("images/"), which Django puts in front when saving."""
    return f"{project_id}/{checksum[:2]}/{checksum}{suffix}"


def image_ingest(*, project: Project, content: bytes, meta: SourceMetadata) -> IngestResult:
    """Store one photo, or record why it was refused."""
    checksum = hashlib.sha256(content).hexdigest()
    duplicate = Image.objects.filter(project=project, checksum_sha256=checksum).first()
    if duplicate is not None:
        return _reject(
            project, meta, ImageRejection.Reason.DUPLICATE,
            f"same bytes as image {duplicate.id} ({duplicate.file_name})",
            checksum_sha256=checksum, duplicate_of=duplicate,
        )  # fmt: skip
    try:
        checked = photo_check(content)
    except ImageCheckFailed as failure:
        return _reject(project, meta, failure.reason, failure.detail, checksum_sha256=checksum)

    suffix = PurePosixPath(meta.file_name).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        suffix = mimetypes.guess_extension(f"image/{checked.format.lower()}") or ".img"
    image = Image(
        project=project,
        file_name=meta.file_name[:500],
        width=checked.width,
        height=checked.height,
        checksum_sha256=checksum,
        source=meta.source,
        original_url=meta.original_url[:1000],
        photographer=(meta.photographer or checked.exif_artist)[:200],
        date_taken=meta.date_taken or checked.exif_date_taken,
        license_name=meta.license_name[:200],
        license_url=meta.license_url[:500],
    )
    storage_name = image_storage_name(project.id, checksum, suffix)
    try:
        with transaction.atomic():
            image.file.save(storage_name, ContentFile(content), save=False)
            image.save()
            send_on_commit(image_stored, image_id=image.id)
    except IntegrityError:
        # Another importer stored the same bytes between our check and our insert.
        image.file.delete(save=False)
        duplicate = Image.objects.get(project=project, checksum_sha256=checksum)
        return _reject(
            project, meta, ImageRejection.Reason.DUPLICATE,
            f"same bytes as image {duplicate.id} ({duplicate.file_name})",
            checksum_sha256=checksum, duplicate_of=duplicate,
        )  # fmt: skip
    return IngestResult(image=image)


def fetch_bytes(ref: str) -> bytes:
    """Read a local path or download an http(s) URL, bounded in size and time."""
    limit = settings.MAX_IMAGE_BYTES
    if ref.startswith(("http://", "https://")):
        request = urllib.request.Request(ref, headers={"User-Agent": "cocoforge-image-import"})
        with urllib.request.urlopen(
            request, timeout=settings.IMAGE_FETCH_TIMEOUT_SECONDS
        ) as response:
            content = response.read(limit + 1)
    else:
        with Path(ref).expanduser().open("rb") as handle:
            content = handle.read(limit + 1)
    return content


def image_ingest_ref(*, project: Project, meta: SourceMetadata) -> IngestResult:
    """Fetch a path or URL and ingest it; a failed read is recorded as a rejection."""
    try:
        content = fetch_bytes(meta.source_ref)
    except urllib.error.HTTPError as error:
        return _reject(
            project, meta, ImageRejection.Reason.UNREADABLE, f"HTTP {error.code} {error.reason}"
        )
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        detail = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
        return _reject(project, meta, ImageRejection.Reason.UNREADABLE, f"cannot read: {detail}")
    return image_ingest(project=project, content=content, meta=meta)
