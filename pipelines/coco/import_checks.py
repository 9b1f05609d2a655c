"""Checks of a COCO instances file before anything is imported; no Django.

Every problem names the entry it is in, as a person would look it up in the file:
    annotations[17] (id 42): category_id 99 is not in categories
so a team can fix a malformed file instead of guessing. The importer refuses the whole file
when any problem is found (all or nothing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from pipelines.coco.export import rle_counts_from_string

MAX_PROBLEMS = 50  # a badly broken file gets the first ones and a count, not a wall of text
# The database's columns: category and licence ids, widths and heights are `integer`; image
# and annotation ids `bigint`. A larger number is a problem named here, not a DataError
# traceback halfway through the import.
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1


class CocoInvalid(ValueError):
    """A COCO file that cannot be imported; `problems` lists every entry at fault."""

    def __init__(self, problems: list[str], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        shown = "\n".join(f"- {p}" for p in problems)
        more = self.total - len(problems)
        super().__init__(
            f"the COCO file has {self.total} problem(s):\n{shown}"
            + (f"\n... and {more} more" if more > 0 else "")
        )


def _number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond any float (JSON allows 10**400)
        return False


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class _Problems:
    def __init__(self, limit: int) -> None:
        self.shown: list[str] = []
        self.total = 0
        self.limit = limit

    def add(self, text: str) -> None:
        self.total += 1
        if len(self.shown) < self.limit:
            self.shown.append(text)


def _where(section: str, index: int, entry: Any) -> str:
    if isinstance(entry, dict) and "id" in entry:
        return f"{section}[{index}] (id {entry['id']!r})"
    return f"{section}[{index}]"


def _check_polygons(segmentation: list, where: str, problems: _Problems) -> None:
    if not segmentation:
        problems.add(f"{where}: segmentation is an empty list of polygons")
    for number, part in enumerate(segmentation):
        if not isinstance(part, list):
            problems.add(f"{where}: polygon {number} is not a list of numbers")
        elif len(part) % 2:
            problems.add(f"{where}: polygon {number} has an odd count of coordinates ({len(part)})")
        elif len(part) < 6:
            problems.add(
                f"{where}: polygon {number} has {len(part)} coordinates; at least 6 "
                "(3 points) make a polygon"
            )
        elif not all(_number(v) for v in part):
            problems.add(f"{where}: polygon {number} has a coordinate that is not a number")


def _check_rle(rle: dict, image: dict | None, where: str, problems: _Problems) -> None:
    size, counts = rle.get("size"), rle.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(_whole(v) for v in size)):
        problems.add(f"{where}: RLE size must be [height, width], not {size!r}")
        return
    height, width = size
    if image is not None and [height, width] != [image.get("height"), image.get("width")]:
        problems.add(
            f"{where}: RLE size [{height}, {width}] disagrees with image {image.get('id')!r} "
            f"({image.get('height')} high, {image.get('width')} wide)"
        )
    if isinstance(counts, list):
        if not all(_whole(v) and v >= 0 for v in counts):
            problems.add(f"{where}: RLE counts must be non-negative whole numbers")
            return
        runs = counts
    elif isinstance(counts, str):
        try:
            runs = rle_counts_from_string(counts)
        except (IndexError, ValueError):
            problems.add(f"{where}: RLE counts string is not valid compressed RLE")
            return
        if any(v < 0 for v in runs):
            problems.add(f"{where}: RLE counts string is not valid compressed RLE")
            return
    else:
        problems.add(f"{where}: RLE counts must be a list of run lengths or a string")
        return
    if sum(runs) != height * width:
        problems.add(
            f"{where}: RLE runs cover {sum(runs)} pixels, but the mask has "
            f"{height} x {width} = {height * width}"
        )


def _index_by_id(
    data: dict,
    section: str,
    required: tuple[str, ...],
    problems: _Problems,
    *,
    min_id: int,
    max_id: int = MAX_INT,
) -> dict[int, dict]:
    entries = data.get(section)
    by_id: dict[int, dict] = {}
    if not isinstance(entries, list):
        problems.add(f"{section}: expected a list")
        return by_id
    for index, entry in enumerate(entries):
        where = _where(section, index, entry)
        if not isinstance(entry, dict):
            problems.add(f"{where}: expected an object")
            continue
        missing = [key for key in required if key not in entry]
        if missing:
            problems.add(f"{where}: missing key(s) {', '.join(missing)}")
        entry_id = entry.get("id")
        if "id" in entry and not (_whole(entry_id) and min_id <= entry_id <= max_id):
            problems.add(f"{where}: id must be a whole number from {min_id} to {max_id}")
            continue
        if entry_id in by_id:
            problems.add(f"{where}: id {entry_id} is used twice in {section}")
            continue
        if entry_id is not None:
            by_id[entry_id] = entry
    return by_id


def coco_problems(data: Any, *, limit: int = MAX_PROBLEMS) -> tuple[list[str], int]:
    """The problems of a parsed COCO instances file (first `limit`) and their total."""
    problems = _Problems(limit)
    if _has_sections(data, problems):
        licenses = _check_licenses(data, problems)
        categories = _check_categories(data, problems)
        images = _check_images(data, licenses, problems)
        _check_annotations(data, images, categories, problems)
    return problems.shown, problems.total


def _has_sections(data: Any, problems: _Problems) -> bool:
    if not isinstance(data, dict):
        problems.add("the file must hold a JSON object with images, annotations, categories")
        return False
    missing = [key for key in ("images", "annotations", "categories") if key not in data]
    if missing:
        problems.add(f"the file has no {', '.join(missing)}")
        return False
    return True


def _check_licenses(data: dict, problems: _Problems) -> dict[int, dict]:
    """Licences are optional; when listed, their ids are whole numbers >= 0, each once."""
    if data.get("licenses") is None:
        return {}
    return _index_by_id(data, "licenses", ("id",), problems, min_id=0)


def _check_categories(data: dict, problems: _Problems) -> dict[int, dict]:
    """Ids >= 1, each once; names non-empty, each once."""
    categories = _index_by_id(data, "categories", ("id", "name"), problems, min_id=1)
    names: set[str] = set()
    for index, category in enumerate(data["categories"] or []):
        if not isinstance(category, dict):
            continue
        name = category.get("name")
        where = _where("categories", index, category)
        if "name" in category and (not isinstance(name, str) or not name.strip()):
            problems.add(f"{where}: name must be a non-empty text")
        elif isinstance(name, str) and name in names:
            problems.add(f"{where}: name {name!r} is used twice in categories")
        elif isinstance(name, str):
            names.add(name)
    return categories


def _check_images(data: dict, licenses: dict[int, dict], problems: _Problems) -> dict[int, dict]:
    """Ids >= 0, each once; a size of whole pixels; a file name; a listed licence."""
    images = _index_by_id(
        data,
        "images",
        ("id", "file_name", "width", "height"),
        problems,
        min_id=0,
        max_id=MAX_BIGINT,
    )
    for index, image in enumerate(data["images"] if isinstance(data["images"], list) else []):
        if not isinstance(image, dict):
            continue
        where = _where("images", index, image)
        for key in ("width", "height"):
            if key in image and not (_whole(image[key]) and 1 <= image[key] <= MAX_INT):
                problems.add(f"{where}: {key} must be a whole number from 1 to {MAX_INT}")
        if "file_name" in image and not (
            isinstance(image["file_name"], str) and image["file_name"].strip()
        ):
            problems.add(f"{where}: file_name must be a non-empty text")
        license_id = image.get("license")
        if licenses and license_id is not None and license_id not in licenses:
            problems.add(f"{where}: license {license_id!r} is not in licenses")
    return images


ANNOTATION_KEYS = ("id", "image_id", "category_id", "segmentation", "area", "bbox", "iscrowd")


@dataclass
class _AnnotationContext:
    """What the checks of one annotation read: the indexes built from the other sections,
    the ids seen so far, and the problems found."""

    images: dict[int, dict]
    categories: dict[int, dict]
    problems: _Problems
    seen_ids: set[int] = field(default_factory=set)


def _check_annotations(
    data: dict, images: dict[int, dict], categories: dict[int, dict], problems: _Problems
) -> None:
    annotations = data["annotations"]
    if not isinstance(annotations, list):
        problems.add("annotations: expected a list")
        return
    context = _AnnotationContext(images, categories, problems)
    for index, annotation in enumerate(annotations):
        where = _where("annotations", index, annotation)
        if not isinstance(annotation, dict):
            problems.add(f"{where}: expected an object")
            continue
        for check in ANNOTATION_CHECKS:
            check(annotation, where, context)


def _annotation_keys(annotation: dict, where: str, context: _AnnotationContext) -> None:
    missing = [key for key in ANNOTATION_KEYS if key not in annotation]
    if missing:
        context.problems.add(f"{where}: missing key(s) {', '.join(missing)}")


def _annotation_id(annotation: dict, where: str, context: _AnnotationContext) -> None:
    if "id" not in annotation:
        return
    annotation_id = annotation["id"]
    if not (_whole(annotation_id) and 1 <= annotation_id <= MAX_BIGINT):
        context.problems.add(f"{where}: id must be a whole number from 1 to {MAX_BIGINT}")
    elif annotation_id in context.seen_ids:
        context.problems.add(f"{where}: id {annotation_id} is used twice in annotations")
    else:
        context.seen_ids.add(annotation_id)


def _image_of(annotation: dict, context: _AnnotationContext) -> dict | None:
    image_id = annotation.get("image_id")
    return context.images.get(image_id) if _whole(image_id) else None


def _annotation_image(annotation: dict, where: str, context: _AnnotationContext) -> None:
    if "image_id" in annotation and _image_of(annotation, context) is None:
        context.problems.add(f"{where}: image_id {annotation['image_id']!r} is not in images")


def _annotation_category(annotation: dict, where: str, context: _AnnotationContext) -> None:
    if "category_id" not in annotation:
        return
    category_id = annotation["category_id"]
    if not _whole(category_id) or category_id not in context.categories:
        context.problems.add(f"{where}: category_id {category_id!r} is not in categories")


def _annotation_iscrowd(annotation: dict, where: str, context: _AnnotationContext) -> None:
    if "iscrowd" in annotation and annotation["iscrowd"] not in (0, 1):
        context.problems.add(f"{where}: iscrowd must be 0 or 1, not {annotation['iscrowd']!r}")


def _annotation_area(annotation: dict, where: str, context: _AnnotationContext) -> None:
    if "area" in annotation and not (_number(annotation["area"]) and annotation["area"] >= 0):
        context.problems.add(f"{where}: area must be a number >= 0")


def _annotation_bbox(annotation: dict, where: str, context: _AnnotationContext) -> None:
    if "bbox" not in annotation:
        return
    bbox = annotation["bbox"]
    if not (
        isinstance(bbox, list)
        and len(bbox) == 4
        and all(_number(v) for v in bbox)
        and bbox[2] >= 0
        and bbox[3] >= 0
    ):
        context.problems.add(f"{where}: bbox must be [x, y, width, height] with width, height >= 0")


def _annotation_segmentation(annotation: dict, where: str, context: _AnnotationContext) -> None:
    if "segmentation" not in annotation:
        return
    segmentation = annotation["segmentation"]
    if isinstance(segmentation, list):
        _check_polygons(segmentation, where, context.problems)
    elif isinstance(segmentation, dict):
        _check_rle(segmentation, _image_of(annotation, context), where, context.problems)
    else:
        context.problems.add(f"{where}: segmentation must be polygons (a list) or RLE (an object)")


# In this order, so the problems of one annotation are listed as its keys are read.
ANNOTATION_CHECKS: tuple[Callable[[dict, str, _AnnotationContext], None], ...] = (
    _annotation_keys,
    _annotation_id,
    _annotation_image,
    _annotation_category,
    _annotation_iscrowd,
    _annotation_area,
    _annotation_bbox,
    _annotation_segmentation,
)


def check_coco(data: Any, *, limit: int = MAX_PROBLEMS) -> None:
    """Raise CocoInvalid naming every offending entry, or return when the file is valid."""
    shown, total = coco_problems(data, limit=limit)
    if total:
        raise CocoInvalid(shown, total)
