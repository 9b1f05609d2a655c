"""COCO import into a project (issue 7): a released instances file, or a team's own.

All or nothing: the file is checked first (pipelines/coco/import_checks.py, every problem
named by its entry; then the photos and dates here), then everything is stored in one
transaction, and photos saved before a failure are removed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from shapely.geometry import Polygon

from annotation.errors import DomainError
from annotation.models import Annotation, Category, ExportLicense, Image, Project, ReferenceMask
from annotation.services.annotations import (
    AnnotationRow,
    AnnotationRowRefused,
    annotations_record_bulk,
)
from annotation.services.coco_entries import DATE_FORMAT, rle_for_export
from annotation.services.images import ImageCheckFailed, image_storage_name, photo_check
from annotation.services.projects import project_create
from pipelines.coco.import_checks import CocoInvalid, check_coco

CHUNK = 2000  # rows per bulk insert


@dataclass
class ImportSummary:
    project: Project
    created_project: bool = False
    images: int = 0
    annotations: int = 0
    references: int = 0
    skipped_crowd: int = 0
    licenses: int = 0


def _parse_date(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    for parse in (lambda t: datetime.strptime(t, DATE_FORMAT), datetime.fromisoformat):
        try:
            parsed = parse(text)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(text)


Photos = dict[int, tuple[Path, str]]  # image id -> (photo file, its SHA-256)


def _file_problems(data: dict, images_dir: Path | None) -> tuple[list[str], Photos]:
    """Problems that need the photos or the platform's rules (dates), after check_coco.
    Each photo is read and decoded once here and then let go: the import reads it again."""
    problems: list[str] = []
    photos: Photos = {}
    for index, image in enumerate(data["images"]):
        where = f"images[{index}] (id {image['id']})"
        try:
            _parse_date(image.get("date_captured"))
        except ValueError:
            problems.append(f"{where}: date_captured {image['date_captured']!r} is not a date")
        if images_dir is None:
            continue
        path = Path(images_dir) / image["file_name"]
        try:
            size = path.stat().st_size
            if size > settings.MAX_IMAGE_BYTES:  # refused by its size, before it is read
                problems.append(
                    f"{where}: {image['file_name']!r}: {size} bytes, more than the limit of "
                    f"{settings.MAX_IMAGE_BYTES}"
                )
                continue
            content = path.read_bytes()
        except OSError:
            problems.append(f"{where}: no photo {image['file_name']!r} in {images_dir}")
            continue
        try:
            checked = photo_check(content)
        except ImageCheckFailed as failure:
            problems.append(f"{where}: {image['file_name']!r}: {failure.detail}")
            continue
        if (checked.width, checked.height) != (image["width"], image["height"]):
            problems.append(
                f"{where}: the photo is {checked.width}x{checked.height}, the file says "
                f"{image['width']}x{image['height']}"
            )
        photos[image["id"]] = (path, hashlib.sha256(content).hexdigest())
    return problems, photos


def _project_for_import(name: str, categories: list[dict], summary: ImportSummary) -> Project:
    project = Project.objects.filter(Q(slug=name) | Q(name=name)).first()
    if project is None:
        summary.created_project = True
        return project_create(
            name=name,
            categories=[
                {"id": c["id"], "name": c["name"], "supercategory": c.get("supercategory") or ""}
                for c in categories
            ],
            description="Imported from a COCO file",
        )
    return project


def _category_map(project: Project, categories: list[dict]) -> dict[int, Category]:
    existing = {c.coco_id: c for c in project.taxonomy.categories.all()}
    problems = []
    for index, entry in enumerate(categories):
        category = existing.get(entry["id"])
        if category is None:
            problems.append(
                f"categories[{index}] (id {entry['id']}): project {project.name!r} has no "
                f"category with id {entry['id']} ({entry['name']!r})"
            )
        elif category.name != entry["name"]:
            problems.append(
                f"categories[{index}] (id {entry['id']}): the project calls id {entry['id']} "
                f"{category.name!r}, the file {entry['name']!r}"
            )
    if problems:
        raise CocoInvalid(problems)
    return existing


def _licenses_for_import(project: Project, licenses: list[dict]) -> dict[int, tuple[str, str]]:
    by_id = {}
    for index, entry in enumerate(licenses):
        name, url = str(entry.get("name") or ""), str(entry.get("url") or "")
        current = ExportLicense.objects.filter(project=project, coco_id=entry["id"]).first()
        if current is None:
            try:
                with transaction.atomic():
                    ExportLicense.objects.create(
                        project=project, coco_id=entry["id"], name=name, url=url
                    )
            except IntegrityError:
                raise CocoInvalid(
                    [f"licenses[{index}] (id {entry['id']}): the project has this licence "
                     "under another id"]
                ) from None  # fmt: skip
        elif (current.name, current.url) != (name, url):
            raise CocoInvalid(
                [f"licenses[{index}] (id {entry['id']}): the project's licence "
                 f"{entry['id']} is {current.name!r}"]
            )  # fmt: skip
        by_id[entry["id"]] = (name, url)
    return by_id


def _inside_point(polygons: list[list[float]]) -> tuple[float, float]:
    """A point on the object, shown to trainees as which object to outline."""
    largest = max(
        (Polygon(np.asarray(p, dtype=float).reshape(-1, 2)).buffer(0) for p in polygons),
        key=lambda shape: shape.area,
    )
    if largest.is_empty:
        points = np.asarray(polygons[0], dtype=float).reshape(-1, 2)
        return float(points[:, 0].mean()), float(points[:, 1].mean())
    point = largest.representative_point()
    return float(point.x), float(point.y)


def import_coco_file(
    *,
    path: Path | None = None,
    data: dict | None = None,
    project_name: str,
    images_dir: Path | None = None,
    split: str = "",
    as_reference: bool = False,
    author: User | None = None,
) -> ImportSummary:
    """Load a COCO instances file into a project (created with the file's categories when
    it does not exist): images, licences and accepted annotations with the file's ids, area
    and bbox; or, `as_reference`, its polygons as experts' reference masks for training.
    All or nothing: any problem raises DomainError naming the entries, nothing is stored."""
    if (path is None) == (data is None):
        raise DomainError("give the COCO file's path or its parsed content")
    if path is not None:
        try:
            size = path.stat().st_size
        except OSError as error:
            raise DomainError(f"cannot read {path}: {error.strerror}") from None
        if size > settings.MAX_COCO_IMPORT_BYTES:  # refused by its size, before it is read
            raise DomainError(
                f"{path} is {size} bytes, more than MAX_COCO_IMPORT_BYTES "
                f"({settings.MAX_COCO_IMPORT_BYTES}): the importer holds the whole file in "
                "memory (about 8 times its size). Split it by images, or raise the limit on "
                "a machine with that memory."
            )
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError as error:
            raise DomainError(f"cannot read {path}: {error.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DomainError(f"{path} is not valid JSON: {error}") from None
    if split not in Image.Split.values:
        raise DomainError(f"split must be one of train, val, test or blank, not {split!r}")
    if as_reference and author is None:
        raise DomainError("reference masks need an author (an expert's user name)")
    try:
        check_coco(data)
        assert isinstance(data, dict)
        problems, photos = _file_problems(data, images_dir)
        if problems:
            raise CocoInvalid(problems)
    except CocoInvalid as invalid:
        raise DomainError(str(invalid)) from None
    saved: list[str] = []
    try:
        return _import_checked(
            data, project_name, photos, split, as_reference, author, saved,
        )  # fmt: skip
    except CocoInvalid as invalid:
        _remove_files(saved)
        raise DomainError(str(invalid)) from None
    except BaseException:
        _remove_files(saved)
        raise


def _remove_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


@transaction.atomic
def _import_checked(
    data: dict,
    project_name: str,
    photos: Photos,
    split: str,
    as_reference: bool,
    author: User | None,
    saved: list[str],
) -> ImportSummary:
    summary = ImportSummary(project=None)  # type: ignore[arg-type]
    project = _project_for_import(project_name, data["categories"], summary)
    summary.project = project
    Project.objects.select_for_update().get(id=project.id)
    categories = _category_map(project, data["categories"])
    licenses = _licenses_for_import(project, data.get("licenses") or [])
    summary.licenses = len(licenses)
    images = _images_store(project, data["images"], photos, licenses, split, saved)
    summary.images = len(images)
    if as_reference:
        assert author is not None  # checked by import_coco_file
        summary.references, summary.skipped_crowd = _references_store(
            data["annotations"], images, categories, author
        )
    else:
        summary.annotations = _annotations_store(project, data["annotations"], images, categories)
    return summary


def _images_store(
    project: Project,
    entries: list[dict],
    photos: Photos,
    licenses: dict[int, tuple[str, str]],
    split: str,
    saved: list[str],
) -> dict[int, Image]:
    """The file's images with their ids (refused when the project has one of the ids or one
    of the photos), their photos saved to storage (names appended to `saved`)."""
    taken = set(
        Image.objects.filter(project=project, coco_id__in=[i["id"] for i in entries])
        .values_list("coco_id", flat=True)
    )  # fmt: skip
    if taken:
        raise CocoInvalid(
            [f"images[{index}] (id {image['id']}): project {project.name!r} already has an "
             f"image with id {image['id']}"
             for index, image in enumerate(entries) if image["id"] in taken][:50]
        )  # fmt: skip
    checksums = []
    for entry in entries:
        photo = photos.get(entry["id"])
        if photo is not None:
            checksums.append(photo[1])
        else:
            # No photo: a stand-in that is unique per image id (the checksum is only used to
            # spot duplicate photos, and there is none to compare).
            checksums.append(hashlib.sha256(f"coco-import:{entry['id']}".encode()).hexdigest())
    _refuse_duplicate_photos(project, entries, checksums)
    images: dict[int, Image] = {}
    for index, (entry, checksum) in enumerate(zip(entries, checksums, strict=True)):
        photo = photos.get(entry["id"])
        license_id = entry.get("license")
        license_name, license_url = (
            licenses.get(license_id, ("", "")) if license_id is not None else ("", "")
        )
        image = Image(
            project=project,
            coco_id=entry["id"],
            file_name=entry["file_name"],
            width=entry["width"],
            height=entry["height"],
            checksum_sha256=checksum,
            source=Image.Source.COCO,
            original_url=entry.get("flickr_url") or entry.get("coco_url") or "",
            date_taken=_parse_date(entry.get("date_captured")),
            license_name=license_name,
            license_url=license_url,
            split=split,
        )
        if photo is not None:
            suffix = Path(entry["file_name"]).suffix.lower() or ".jpg"
            content = _photo_again(photo, f"images[{index}] (id {entry['id']})")
            image.file.save(
                image_storage_name(project.id, checksum, suffix), ContentFile(content), save=False
            )
            saved.append(str(image.file.name))
        images[entry["id"]] = image
    try:
        with transaction.atomic():
            Image.objects.bulk_create(list(images.values()), batch_size=CHUNK)
    except IntegrityError:
        # Another importer stored one of the photos since the check above.
        _refuse_duplicate_photos(project, entries, checksums)
        raise
    if images:
        Project.objects.filter(id=project.id, image_ids_given__lt=max(images)).update(
            image_ids_given=max(images)
        )
    return images


def _references_store(
    entries: list[dict], images: dict[int, Image], categories: dict[int, Category], author: User
) -> tuple[int, int]:
    """The file's polygons as experts' reference masks; returns (stored, crowds skipped)."""
    references: list[ReferenceMask] = []
    skipped_crowd = 0
    for entry in entries:
        segmentation = entry["segmentation"]
        if isinstance(segmentation, dict) or entry["iscrowd"]:
            skipped_crowd += 1  # a crowd region is no outline to train on
            continue
        spot_x, spot_y = _inside_point(segmentation)
        references.append(ReferenceMask(
            image=images[entry["image_id"]], category=categories[entry["category_id"]],
            author=author, spot_x=spot_x, spot_y=spot_y,
            polygons=segmentation, area=entry["area"], bbox_xywh=entry["bbox"],
        ))  # fmt: skip
    if references:
        ReferenceMask.objects.bulk_create(references, batch_size=CHUNK)
    return len(references), skipped_crowd


def _annotations_store(
    project: Project, entries: list[dict], images: dict[int, Image], categories: dict[int, Category]
) -> int:
    """The file's annotations as accepted ones, with their ids; returns how many."""
    rows = [
        AnnotationRow(
            image=images[entry["image_id"]],
            category=categories[entry["category_id"]],
            segmentation=(
                rle_for_export(entry["segmentation"], "compressed")
                if isinstance(entry["segmentation"], dict)
                else entry["segmentation"]
            ),
            area=float(entry["area"]),
            bbox_xywh=entry["bbox"],
            origin=Annotation.Origin.IMPORT,
            iscrowd=bool(entry["iscrowd"]),
            coco_id=entry["id"],
        )
        for entry in entries
    ]
    if not rows:
        return 0
    try:
        return len(annotations_record_bulk(project=project, rows=rows))
    except AnnotationRowRefused as error:
        raise CocoInvalid([f"annotation id {entries[error.index]['id']}: {error.reason}"]) from None


def _photo_again(photo: tuple[Path, str], where: str) -> bytes:
    """A checked photo's bytes, read again to be stored; refused if it changed since."""
    path, checksum = photo
    try:
        content = path.read_bytes()
    except OSError:
        raise CocoInvalid([f"{where}: no photo {path.name!r} in {path.parent}"]) from None
    if hashlib.sha256(content).hexdigest() != checksum:
        raise CocoInvalid([f"{where}: the photo {path.name!r} changed during the import"])
    return content


def _refuse_duplicate_photos(project: Project, entries: list[dict], checksums: list[str]) -> None:
    """The first image (in file order) whose photo the project already has, or that an
    earlier image of the file has: one query."""
    seen = set(
        Image.objects.filter(project=project, checksum_sha256__in=set(checksums)).values_list(
            "checksum_sha256", flat=True
        )
    )
    for index, (entry, checksum) in enumerate(zip(entries, checksums, strict=True)):
        if checksum in seen:
            raise CocoInvalid(
                [f"images[{index}] (id {entry['id']}): the same photo is already stored in "
                 f"project {project.name!r}"]
            )  # fmt: skip
        seen.add(checksum)
