"""COCO export of a project: the Django side of pipelines/coco/export.py (issue 7).

Only accepted work leaves the platform, i.e. rows of Annotation (verified segmentations,
crowd regions, imported annotations), and by default only for images whose annotation is
finished (annotation/selectors/coco_export.py; `include_unfinished` asks for every image, and
the instances manifest lists the images left out). Rows are streamed from the database in id
order with .iterator(chunk_size=...) (a server-side cursor on PostgreSQL), so memory stays
bounded at COCO scale; the writer renames each file into place only when it is complete.

Ids are stable across re-exports:
- annotations: Annotation.coco_id (given when the row is recorded, kept from imports);
- images: Image.coco_id, kept from an imported file; images without one get the next free
  ids (in the order they were stored) the first time they are exported, and keep them;
- categories: Category.coco_id (official 1-90 ids with gaps for the COCO template);
- licences: ExportLicense, kept from an imported file or given once, like image ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max

from annotation.errors import DomainError
from annotation.models import ExportLicense, Image, Project
from annotation.selectors.coco_export import (
    ALL_SPLITS,
    annotations_for_export,
    categories_for_export,
    image_list_for_export,
    images_for_export,
    images_left_out,
    presence_for_export,
    split_filter,
)
from annotation.services.coco_entries import (
    RLE_FORMS,
    annotation_entry,
    image_entry,
    info_entry,
    software_version,
)
from pipelines.coco.export import ExportResult, write_coco, write_json_document, write_lines

CHUNK = 2000  # rows per database round trip when streaming
EXPORT_KINDS = ("instances", "image-lists", "presence")


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


# The files ---------------------------------------------------------------------------------

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


def left_out_ids(*, project: Project, split: str | None, include_unfinished: bool) -> set[int]:
    """Export ids of the images an export leaves out (none with `include_unfinished`); ids
    must have been given (image_ids_assign)."""
    if include_unfinished:
        return set()
    left_out = images_left_out(project=project, split=split).values_list("coco_id", flat=True)
    return {coco_id for coco_id in left_out if coco_id is not None}


def export_total(*, project: Project, split: str | None, left_out: set[int]) -> int:
    """Entries of an instances export: its images and their annotations."""
    images = Image.objects.filter(split_filter(split), project=project).count()
    annotations = annotations_for_export(project=project, split=split)
    total = images + annotations.count()
    if left_out:
        dropped = annotations.filter(image__coco_id__in=left_out).count()
        total -= len(left_out) + dropped
    return total


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
    include_unfinished: bool = False,
    left_out: set[int] | None = None,
) -> ExportResult:
    """Write the project's accepted annotations (of one split or all) as a COCO file; only
    images whose annotation is finished unless `include_unfinished`. `assign_ids=False` and
    `left_out`: the caller has just given the images their ids and found the images left out
    (export_run)."""
    if rle_form not in RLE_FORMS:
        raise DomainError(f"RLE form must be one of {', '.join(RLE_FORMS)}, not {rle_form!r}")
    if assign_ids:
        image_ids_assign(project=project)
    if left_out is None:
        left_out = left_out_ids(project=project, split=split, include_unfinished=include_unfinished)
    licenses = licenses_assign(project=project)
    images = images_for_export(project=project, split=split)
    annotations = annotations_for_export(project=project, split=split)
    if total is None:
        total = export_total(project=project, split=split, left_out=left_out)
    used_licenses = [
        {"url": lic.url, "id": lic.coco_id, "name": lic.name}
        for lic in project.export_licenses.order_by("coco_id")
    ]
    return write_coco(
        out,
        info=info_entry(project),
        licenses=used_licenses,
        images=(
            image_entry(row, licenses)
            for row in images.iterator(chunk_size=CHUNK)
            if row["coco_id"] not in left_out
        ),
        annotations=(
            annotation_entry(row, rle_form)
            for row in annotations.iterator(chunk_size=CHUNK)
            if row[1] not in left_out  # the image's export id
        ),
        categories=categories_for_export(project=project),
        progress=_progress_adapter(progress, total, offset),
        manifest={
            "project": project.name,
            "split": split or "all",
            "kind": "instances",
            "include_unfinished": include_unfinished,
            "left_out_unfinished": sorted(left_out),
        },
        software_version=software_version(),
    )


def presence_export(
    *,
    project: Project,
    split: str | None,
    out: Path,
    assign_ids: bool = True,
    include_unfinished: bool = False,
    left_out: set[int] | None = None,
) -> ExportResult:
    """Stage 2's category-presence labels (thesis §2.4.1): which categories labeling workers
    found in each image, with the icon positions they placed (worker ids left out)."""
    if assign_ids:
        image_ids_assign(project=project)
    if left_out is None:
        left_out = left_out_ids(project=project, split=split, include_unfinished=include_unfinished)
    labels = presence_for_export(project=project, split=split)

    def rows() -> Iterator[dict]:
        for image_id, category_id, positions in labels.iterator(chunk_size=CHUNK):
            if image_id in left_out:
                continue
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
    *,
    project: Project,
    out_dir: Path,
    split: str | None = ALL_SPLITS,
    prefix: str = "",
    assign_ids: bool = True,
    include_unfinished: bool = False,
    left_out: set[int] | None = None,
) -> list[Path]:
    """One text file per split (only the asked split's, when one is asked),
    `<image id><TAB><file name>` a line, in id order."""
    if assign_ids:
        image_ids_assign(project=project)
    if left_out is None:
        left_out = left_out_ids(project=project, split=split, include_unfinished=include_unfinished)
    written = []
    splits = Image.objects.filter(split_filter(split), project=project).values_list(
        "split", flat=True
    )
    for name in sorted(set(splits.distinct())):
        rows = image_list_for_export(project=project, split=name).iterator(chunk_size=CHUNK)
        lines = (
            f"{coco_id}\t{file_name}" for coco_id, file_name in rows if coco_id not in left_out
        )
        path = Path(out_dir) / f"{prefix}images_{name or 'unassigned'}.txt"
        write_lines(path, lines)
        written.append(path)
    return written


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
    include_unfinished: bool = False,
) -> ExportRun:
    """Every export a researcher asked for, into one folder; the instances file first.
    Each file is complete or absent (see pipelines/coco/export.py). The run lists the files
    written and, for the JSON documents, their results (checksum, size, counts)."""
    unknown = sorted(set(kinds) - set(EXPORT_KINDS))
    if unknown or not kinds:
        raise DomainError(f"export kinds are {', '.join(EXPORT_KINDS)}; got {kinds!r}")
    out_dir = Path(out_dir)
    names = default_file_names(split=split)
    image_ids_assign(project=project)  # once for every kind below
    left_out = left_out_ids(project=project, split=split, include_unfinished=include_unfinished)
    total = 0
    if "instances" in kinds:
        total = export_total(project=project, split=split, left_out=left_out)
    run = ExportRun()
    if "instances" in kinds:
        out = out_dir / (instances_name or names["instances"])
        result = instances_export(
            project=project, split=split, out=out, rle_form=rle_form, progress=progress,
            total=total, assign_ids=False, include_unfinished=include_unfinished,
            left_out=left_out,
        )  # fmt: skip
        run.files.append(out)
        run.results.append(result)
    if "presence" in kinds:
        out = out_dir / names["presence"]
        run.results.append(
            presence_export(
                project=project,
                split=split,
                out=out,
                assign_ids=False,
                include_unfinished=include_unfinished,
                left_out=left_out,
            )
        )
        run.files.append(out)
    if "image-lists" in kinds:
        run.files.extend(
            image_lists_export(
                project=project,
                out_dir=out_dir,
                split=split,
                assign_ids=False,
                include_unfinished=include_unfinished,
                left_out=left_out,
            )
        )
    if progress is not None:
        progress(total, total)
    return run
