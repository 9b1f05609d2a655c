"""Where photos come from for `import_images`: a local folder, or a list of URLs or paths.

A list is a text file with one URL or path per line (blank lines and # comments skipped),
or a CSV with a header naming at least `location` (a URL or path) and any of
`photographer`, `date_taken` (ISO 8601), `license`, `license_url`, `original_url`,
`file_name`.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import Image
from annotation.services.images import SourceMetadata


def sources_in_folder(folder: Path, *, recursive: bool = True) -> list[SourceMetadata]:
    """Every file in the folder (sorted, so runs are repeatable). Files that are not images
    are offered too, so they are recorded as rejections instead of skipped unseen; only
    hidden files are left out."""
    if not folder.is_dir():
        raise DomainError(f"{folder} is not a folder")
    pattern = "**/*" if recursive else "*"
    files = sorted(
        p for p in folder.glob(pattern)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )  # fmt: skip
    return [
        SourceMetadata(
            source=Image.Source.FOLDER,
            source_ref=str(path),
            file_name=str(path.relative_to(folder)),
        )
        for path in files
    ]


def _parse_date(value: str, line: int) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(f"line {line}: date_taken {value!r} is not an ISO 8601 date") from None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _meta_for(location: str, line: int, base: Path, row: dict[str, str]) -> SourceMetadata:
    is_url = location.startswith(("http://", "https://"))
    if is_url:
        name = PurePosixPath(urlparse(location).path).name or f"url-{line}"
        ref = location
    else:
        path = Path(location).expanduser()
        ref = str(path if path.is_absolute() else base / path)
        name = path.name
    return SourceMetadata(
        source=Image.Source.URL if is_url else Image.Source.PATH,
        source_ref=ref,
        file_name=row.get("file_name") or name,
        original_url=row.get("original_url") or (location if is_url else ""),
        photographer=row.get("photographer", ""),
        date_taken=_parse_date(row.get("date_taken", ""), line),
        license_name=row.get("license", ""),
        license_url=row.get("license_url", ""),
    )


def sources_in_list(list_file: Path) -> list[SourceMetadata]:
    """Read a list of URLs or paths; relative paths are relative to the list's folder."""
    try:
        text = list_file.read_text(encoding="utf-8")
    except OSError as error:
        raise DomainError(f"cannot read {list_file}: {error.strerror}") from None
    base = list_file.parent
    if list_file.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "location" not in reader.fieldnames:
            raise DomainError(f"{list_file}: the CSV header needs a 'location' column")
        metas = []
        for line, row in enumerate(reader, start=2):
            location = (row.get("location") or "").strip()
            if not location:
                raise DomainError(f"{list_file} line {line}: 'location' is empty")
            clean = {k: (v or "").strip() for k, v in row.items() if k}
            metas.append(_meta_for(location, line, base, clean))
        return metas
    metas = []
    for line, raw in enumerate(text.splitlines(), start=1):
        location = raw.strip()
        if location and not location.startswith("#"):
            metas.append(_meta_for(location, line, base, {}))
    return metas
