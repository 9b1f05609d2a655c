"""COCO JSON in and out of a project: the Django side of pipelines/coco/export.py.

Export (issue 7): only accepted work leaves the platform, i.e. rows of Annotation (verified
segmentations, crowd regions, imported annotations). Rows are streamed from the database in
id order with .iterator(chunk_size=...) (a server-side cursor on PostgreSQL), so memory stays
bounded at COCO scale; the writer renames the file into place only when it is complete.

Ids are stable across re-exports:
- annotations: Annotation.coco_id (given when the row is recorded, kept from imports);
- images: Image.coco_id, kept from an imported file; images without one get the next free
  ids (in the order they were stored) the first time they are exported, and keep them;
- categories: Category.coco_id (official 1-90 ids with gaps for the COCO template);
- licences: ExportLicense, kept from an imported file or given once, like image ids.

Crowd regions are stored as compressed RLE and written in the form the released instances
files use: uncompressed counts (a list of run lengths), with integer area and box (pixel
counts). An imported file's uncompressed RLE therefore comes back out exactly as it went in.
Polygon areas and boxes are written as stored (floats, Python repr).

Import is all or nothing: the file is checked first (pipelines/coco/import_checks.py, every
problem named by its entry), then everything is stored in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from pycocotools import mask as coco_mask
from shapely.geometry import Polygon

from annotation import events
from annotation.errors import DomainError, NotFound
from annotation.models import (
    Annotation,
    Category,
    CategoryPresence,
    ExportJob,
    ExportLicense,
    Image,
    Project,
    ReferenceMask,
)
from annotation.services.annotations import (
    AnnotationRow,
    AnnotationRowRefused,
    annotations_record_bulk,
)
from annotation.services.images import ImageCheckFailed, image_storage_name, photo_check
from annotation.services.projects import project_create
from pipelines.coco.export import (
    ExportFailed,
    ExportResult,
    rle_counts_from_string,
    write_coco,
    write_json_document,
    write_lines,
)
from pipelines.coco.import_checks import CocoInvalid, check_coco

CHUNK = 2000  # rows per database round trip when streaming
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # the released files' date_captured
ALL_SPLITS = None
RLE_FORMS = ("uncompressed", "compressed")


def software_version() -> str:
    try:
        with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def export_root() -> Path:
    """Where admin-started exports are written (setting COCOFORGE_EXPORT_ROOT, else var/)."""
    return Path(getattr(settings, "COCOFORGE_EXPORT_ROOT", Path(settings.VAR_DIR) / "exports"))


# Stable ids --------------------------------------------------------------------------------


@transaction.atomic
def image_ids_assign(*, project: Project) -> int:
    """Give every image of the project without an export id the next free ids, in the order
    the images were stored; ids once given are never changed. Returns how many were given."""
    locked = Project.objects.select_for_update().get(id=project.id)
    stored = Image.objects.filter(project=project).aggregate(m=Max("coco_id"))["m"] or 0
    # The counter remembers ids of deleted images: an id once exported is never given again.
    latest = max(stored, locked.image_ids_given)
    missing = list(
        Image.objects.filter(project=project, coco_id__isnull=True).order_by("id").only("id")
    )
    for offset, image in enumerate(missing, start=1):
        image.coco_id = latest + offset
    Image.objects.bulk_update(missing, ["coco_id"], batch_size=CHUNK)
    Project.objects.filter(id=project.id).update(image_ids_given=latest + len(missing))
    return len(missing)


@transaction.atomic
def licenses_assign(*, project: Project) -> dict[tuple[str, str], int]:
    """The licence id of every (name, url) the project's images carry; new pairs get the
    next ids (sorted by name, url) and keep them."""
    Project.objects.select_for_update().get(id=project.id)
    known = {(lic.name, lic.url): lic.coco_id for lic in project.export_licenses.all()}
    pairs = (
        Image.objects.filter(project=project)
        .exclude(license_name="", license_url="")
        .values_list("license_name", "license_url")
        .distinct()
    )
    new = sorted(set(pairs) - set(known))
    latest = max(known.values(), default=0)
    for offset, (name, url) in enumerate(new, start=1):
        ExportLicense.objects.create(project=project, coco_id=latest + offset, name=name, url=url)
        known[(name, url)] = latest + offset
    return known


# Selectors ---------------------------------------------------------------------------------


def split_filter(split: str | None, prefix: str = "") -> Q:
    """The images of one split ("": unassigned) or all (ALL_SPLITS); `prefix` leads from the
    queried model to its image, e.g. "image__"."""
    return Q() if split is ALL_SPLITS else Q(**{f"{prefix}split": split})


def images_for_export(*, project: Project, split: str | None) -> QuerySet:
    return (
        Image.objects.filter(split_filter(split), project=project)
        .order_by("coco_id")
        .values(
            "coco_id", "file_name", "width", "height", "license_name", "license_url",
            "original_url", "date_taken", "split",
        )
    )  # fmt: skip


def annotations_for_export(*, project: Project, split: str | None) -> QuerySet:
    return (
        Annotation.objects.filter(split_filter(split, "image__"), project=project)
        .order_by("coco_id")
        .values_list(
            "coco_id", "image__coco_id", "category__coco_id", "segmentation", "area",
            "bbox_xywh", "iscrowd",
        )
    )  # fmt: skip


def export_categories(*, project: Project, split: str | None = ALL_SPLITS) -> QuerySet[Category]:
    """The taxonomy's categories that a dataset lists, by id: those of the 2014 release for
    the COCO template (80 of 91, thesis §2.6), every category of a custom taxonomy, and any
    category with annotations (in the given split; the export counts every split)."""
    used = Annotation.objects.filter(split_filter(split, "image__"), project=project).values(
        "category_id"
    )
    return Category.objects.filter(
        Q(in_coco_2014=True) | Q(id__in=used), taxonomy=project.taxonomy
    ).order_by("coco_id")


def categories_for_export(*, project: Project) -> list[dict]:
    categories = export_categories(project=project)
    return [{"supercategory": c.supercategory, "id": c.coco_id, "name": c.name} for c in categories]


def presence_for_export(*, project: Project, split: str | None) -> QuerySet:
    return (
        CategoryPresence.objects.filter(split_filter(split, "image__"), image__project=project)
        .order_by("image__coco_id", "category__coco_id")
        .values_list("image__coco_id", "category__coco_id", "positions")
    )


# Entries as the released files write them ---------------------------------------------------


def _integral(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def rle_for_export(rle: dict, form: str = "uncompressed") -> dict:
    """A stored RLE (compressed counts string) in the export's form."""
    counts = rle["counts"]
    if form == "compressed":
        if isinstance(counts, list):
            height, width = rle["size"]
            counts = coco_mask.frPyObjects(rle, height, width)["counts"].decode("ascii")
        return {"size": list(rle["size"]), "counts": counts}
    if isinstance(counts, str):
        counts = rle_counts_from_string(counts)
    return {"size": list(rle["size"]), "counts": counts}


def image_entry(row: dict, licenses: dict[tuple[str, str], int]) -> dict:
    entry: dict[str, Any] = {}
    license_id = licenses.get((row["license_name"], row["license_url"]))
    if license_id is not None:
        entry["license"] = license_id
    entry["file_name"] = row["file_name"]
    entry["height"] = row["height"]
    entry["width"] = row["width"]
    if row["date_taken"] is not None:
        entry["date_captured"] = row["date_taken"].astimezone(UTC).strftime(DATE_FORMAT)
    if row["original_url"]:
        entry["flickr_url"] = row["original_url"]
    entry["id"] = row["coco_id"]
    entry["_split"] = row["split"] or "unassigned"
    return entry


def annotation_entry(row: tuple, rle_form: str = "uncompressed") -> dict:
    coco_id, image_id, category_id, segmentation, area, bbox, iscrowd = row
    if isinstance(segmentation, dict):
        segmentation = rle_for_export(segmentation, rle_form)
        # Mask regions are counted in pixels: the released files store ints.
        area = _integral(area)
        bbox = [_integral(v) for v in bbox]
    return {
        "segmentation": segmentation,
        "area": area,
        "iscrowd": int(iscrowd),
        "image_id": image_id,
        "bbox": bbox,
        "category_id": category_id,
        "id": coco_id,
    }


def info_entry(project: Project) -> dict:
    now = timezone.now()
    return {
        "description": project.description or project.name,
        "url": "",
        "version": software_version(),
        "year": now.year,
        "contributor": project.name,
        "date_created": now.strftime("%Y/%m/%d"),
    }


# Export ------------------------------------------------------------------------------------

Progress = Callable[[int, int], None]  # (done entries, total entries)


@dataclass
class ExportRun:
    files: list[Path] = field(default_factory=list)
    results: list[ExportResult] = field(default_factory=list)


def _progress_adapter(progress: Progress | None, total: int, offset: int) -> Any:
    if progress is None:
        return None
    seen: dict[str, int] = {}

    def report(section: str, count: int) -> None:
        seen[section] = count
        progress(offset + sum(seen.values()), total)

    return report


def instances_export(
    *,
    project: Project,
    split: str | None,
    out: Path,
    rle_form: str = "uncompressed",
    progress: Progress | None = None,
    total: int | None = None,
    offset: int = 0,
    assign_ids: bool = True,
) -> ExportResult:
    """Write the project's accepted annotations (of one split or all) as a COCO file.
    `assign_ids=False`: the caller has just given the images their ids (export_run)."""
    if rle_form not in RLE_FORMS:
        raise DomainError(f"RLE form must be one of {', '.join(RLE_FORMS)}, not {rle_form!r}")
    if assign_ids:
        image_ids_assign(project=project)
    licenses = licenses_assign(project=project)
    images = images_for_export(project=project, split=split)
    annotations = annotations_for_export(project=project, split=split)
    if total is None:
        total = images.count() + annotations.count()
    used_licenses = [
        {"url": lic.url, "id": lic.coco_id, "name": lic.name}
        for lic in project.export_licenses.order_by("coco_id")
    ]
    return write_coco(
        out,
        info=info_entry(project),
        licenses=used_licenses,
        images=(image_entry(row, licenses) for row in images.iterator(chunk_size=CHUNK)),
        annotations=(
            annotation_entry(row, rle_form) for row in annotations.iterator(chunk_size=CHUNK)
        ),
        categories=categories_for_export(project=project),
        progress=_progress_adapter(progress, total, offset),
        manifest={"project": project.name, "split": split or "all", "kind": "instances"},
        software_version=software_version(),
    )


def presence_export(
    *, project: Project, split: str | None, out: Path, assign_ids: bool = True
) -> ExportResult:
    """Stage 2's category-presence labels (thesis §2.4.1): which categories labeling workers
    found in each image, with the icon positions they placed (worker ids left out)."""
    if assign_ids:
        image_ids_assign(project=project)

    def rows() -> Iterator[dict]:
        for image_id, category_id, positions in presence_for_export(
            project=project, split=split
        ).iterator(chunk_size=CHUNK):
            yield {
                "image_id": image_id,
                "category_id": category_id,
                "workers": len({p.get("worker") for p in positions}),
                "positions": [[p["x"], p["y"]] for p in positions],
            }

    return write_json_document(
        out,
        [
            ("info", info_entry(project)),
            ("categories", categories_for_export(project=project)),
            ("category_presence", rows()),
        ],
        manifest={"project": project.name, "split": split or "all", "kind": "presence"},
        software_version=software_version(),
    )


def image_lists_export(
    *, project: Project, out_dir: Path, prefix: str = "", assign_ids: bool = True
) -> list[Path]:
    """One text file per split, `<image id><TAB><file name>` a line, in id order."""
    if assign_ids:
        image_ids_assign(project=project)
    written = []
    splits = Image.objects.filter(project=project).values_list("split", flat=True).distinct()
    for split in sorted(set(splits)):
        path = Path(out_dir) / f"{prefix}images_{split or 'unassigned'}.txt"
        rows = (
            Image.objects.filter(project=project, split=split)
            .order_by("coco_id")
            .values_list("coco_id", "file_name")
            .iterator(chunk_size=CHUNK)
        )
        write_lines(path, (f"{coco_id}\t{file_name}" for coco_id, file_name in rows))
        written.append(path)
    return written


EXPORT_KINDS = ("instances", "image-lists", "presence")


def split_from_option(value: str) -> str | None:
    """'all' -> every image, 'unassigned' -> images without a split, else the split."""
    if value == "all":
        return ALL_SPLITS
    if value == "unassigned":
        return ""
    if value not in ("train", "val", "test"):
        raise DomainError(f"split must be train, val, test, unassigned or all, not {value!r}")
    return value


def default_file_names(*, split: str | None) -> dict[str, str]:
    name = "all" if split is ALL_SPLITS else (split or "unassigned")
    return {"instances": f"instances_{name}.json", "presence": f"category_presence_{name}.json"}


def export_run(
    *,
    project: Project,
    split: str | None,
    kinds: list[str],
    out_dir: Path,
    instances_name: str | None = None,
    rle_form: str = "uncompressed",
    progress: Progress | None = None,
) -> ExportRun:
    """Every export a researcher asked for, into one folder; the instances file first.
    Each file is complete or absent (see pipelines/coco/export.py). The run lists the files
    written and, for the JSON documents, their results (checksum, size, counts)."""
    unknown = sorted(set(kinds) - set(EXPORT_KINDS))
    if unknown or not kinds:
        raise DomainError(f"export kinds are {', '.join(EXPORT_KINDS)}; got {kinds!r}")
    out_dir = Path(out_dir)
    names = default_file_names(split=split)
    images = Image.objects.filter(split_filter(split), project=project).count()
    annotations = Annotation.objects.filter(split_filter(split, "image__"), project=project)
    total = (images + annotations.count()) if "instances" in kinds else 0
    image_ids_assign(project=project)  # once for every kind below
    run = ExportRun()
    if "instances" in kinds:
        out = out_dir / (instances_name or names["instances"])
        result = instances_export(
            project=project, split=split, out=out, rle_form=rle_form, progress=progress,
            total=total, assign_ids=False,
        )  # fmt: skip
        run.files.append(out)
        run.results.append(result)
    if "presence" in kinds:
        out = out_dir / names["presence"]
        run.results.append(presence_export(project=project, split=split, out=out, assign_ids=False))
        run.files.append(out)
    if "image-lists" in kinds:
        run.files.extend(image_lists_export(project=project, out_dir=out_dir, assign_ids=False))
    if progress is not None:
        progress(total, total)
    return run


# Import ------------------------------------------------------------------------------------


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

    taken = set(
        Image.objects.filter(project=project, coco_id__in=[i["id"] for i in data["images"]])
        .values_list("coco_id", flat=True)
    )  # fmt: skip
    if taken:
        raise CocoInvalid(
            [f"images[{index}] (id {image['id']}): project {project.name!r} already has an "
             f"image with id {image['id']}"
             for index, image in enumerate(data["images"]) if image["id"] in taken][:50]
        )  # fmt: skip
    checksums = []
    for entry in data["images"]:
        photo = photos.get(entry["id"])
        if photo is not None:
            checksums.append(photo[1])
        else:
            # No photo: a stand-in that is unique per image id (the checksum is only used to
            # spot duplicate photos, and there is none to compare).
            checksums.append(hashlib.sha256(f"coco-import:{entry['id']}".encode()).hexdigest())
    _refuse_duplicate_photos(project, data["images"], checksums)
    images: dict[int, Image] = {}
    for index, (entry, checksum) in enumerate(zip(data["images"], checksums, strict=True)):
        photo = photos.get(entry["id"])
        license_name, license_url = licenses.get(entry.get("license"), ("", ""))
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
        _refuse_duplicate_photos(project, data["images"], checksums)
        raise
    summary.images = len(images)
    if images:
        Project.objects.filter(id=project.id, image_ids_given__lt=max(images)).update(
            image_ids_given=max(images)
        )

    references: list[ReferenceMask] = []
    rows: list[AnnotationRow] = []
    entries: list[dict] = []
    for entry in data["annotations"]:
        image = images[entry["image_id"]]
        category = categories[entry["category_id"]]
        segmentation = entry["segmentation"]
        if as_reference:
            assert author is not None  # checked by import_coco_file
            if isinstance(segmentation, dict) or entry["iscrowd"]:
                summary.skipped_crowd += 1  # a crowd region is no outline to train on
                continue
            spot_x, spot_y = _inside_point(segmentation)
            references.append(ReferenceMask(
                image=image, category=category, author=author, spot_x=spot_x, spot_y=spot_y,
                polygons=segmentation, area=entry["area"], bbox_xywh=entry["bbox"],
            ))  # fmt: skip
            continue
        rows.append(
            AnnotationRow(
                image=image,
                category=category,
                segmentation=(
                    rle_for_export(segmentation, "compressed")
                    if isinstance(segmentation, dict)
                    else segmentation
                ),
                area=float(entry["area"]),
                bbox_xywh=entry["bbox"],
                origin=Annotation.Origin.IMPORT,
                iscrowd=bool(entry["iscrowd"]),
                coco_id=entry["id"],
            )
        )
        entries.append(entry)
    if references:
        ReferenceMask.objects.bulk_create(references, batch_size=CHUNK)
        summary.references = len(references)
    if rows:
        try:
            summary.annotations = len(annotations_record_bulk(project=project, rows=rows))
        except AnnotationRowRefused as error:
            raise CocoInvalid(
                [f"annotation id {entries[error.index]['id']}: {error.reason}"]
            ) from None
    return summary


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


# Export jobs (admin) -------------------------------------------------------------------------

PROGRESS_SAVE_EVERY = 0.01  # save progress when it moved by 1% of the total


@transaction.atomic
def export_job_start(
    *, project: Project, split: str, kinds: list[str], created_by: User | None = None
) -> ExportJob:
    """Queue an export (split: train, val, test, unassigned or all); the Celery task
    pipelines.tasks.export.run_export runs it after commit."""
    split_from_option(split)  # refuse a bad split now, not in the worker
    unknown = sorted(set(kinds) - set(EXPORT_KINDS))
    if unknown or not kinds:
        raise DomainError(f"choose what to export among {', '.join(EXPORT_KINDS)}")
    job = ExportJob.objects.create(
        project=project, split=split, kinds=sorted(set(kinds), key=EXPORT_KINDS.index),
        created_by=created_by,
    )  # fmt: skip
    events.send_on_commit(events.export_job_queued, job_id=job.id)
    return job


def export_job_run(*, job_id: int) -> ExportJob:
    """Run a queued export, saving progress on the job; a failure is recorded on the job and
    leaves no file. Running a finished job again changes nothing."""
    job = ExportJob.objects.select_related("project").get(id=job_id)
    if job.status in (ExportJob.Status.DONE, ExportJob.Status.RUNNING):
        return job
    folder = export_root() / job.project.slug / f"export-{job.id}"
    ExportJob.objects.filter(id=job.id).update(status=ExportJob.Status.RUNNING, folder=str(folder))
    saved = {"done": 0}

    def progress(done: int, total: int) -> None:
        if total and (done - saved["done"] >= PROGRESS_SAVE_EVERY * total or done == total):
            saved["done"] = done
            ExportJob.objects.filter(id=job.id).update(done_items=done, total_items=total)

    try:
        run = export_run(
            project=job.project, split=split_from_option(job.split or "all"), kinds=job.kinds,
            out_dir=folder, progress=progress,
        )  # fmt: skip
    except (DomainError, ExportFailed, OSError) as error:
        reason = error.reason if isinstance(error, DomainError) else str(error)
        ExportJob.objects.filter(id=job.id).update(
            status=ExportJob.Status.FAILED, error=reason, finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    # The checksum of the first file when it is a JSON document (the instances file, else the
    # presence labels); the JSON documents come before the image lists.
    first = run.results[0] if run.results and run.files[0] == run.results[0].path else None
    checksum = first.sha256 if first is not None else ""
    names = []
    for path in run.files:
        names.append(path.name)
        for extra in (".sha256", ".manifest.json"):
            if path.with_name(path.name + extra).exists():
                names.append(path.name + extra)
    ExportJob.objects.filter(id=job.id).update(
        status=ExportJob.Status.DONE, files=names, checksum_sha256=checksum,
        finished_at=timezone.now(),
    )  # fmt: skip
    job.refresh_from_db()
    return job


def export_job_file(*, job: ExportJob, name: str) -> Path:
    """The path of one finished file of a job (only names the job wrote)."""
    if job.status != ExportJob.Status.DONE or name not in job.files:
        raise NotFound(f"export {job.id} has no file {name!r}")
    path = Path(job.folder) / name
    if not path.is_file():
        raise NotFound(f"the file {name!r} of export {job.id} is no longer on disk")
    return path
