"""COCO detection evaluation (bbox and segm) that reproduces pycocotools' COCOeval exactly.

The numbers are bit-identical to ``pycocotools.cocoeval.COCOeval`` (evaluate, accumulate,
summarize): the same per-image greedy matching, the same stable sort orders and the same
floating-point operations in the same order.  What differs is how the work is done: instead of
one Python loop per image, category, area range, IoU threshold, detection and ground truth, the
matching runs in rounds over all (image, category) groups at once with NumPy, and accumulation
works on whole arrays.  Mask IoUs use pycocotools' own C routines (``pycocotools.mask.iou``).

Usage::

    ground_truth = load_ground_truth(json.load(open("instances_val2017.json")))
    detections = load_results(ground_truth, json.load(open("results.json")))
    result = evaluate(ground_truth, detections, iou_type="bbox")
    print("\\n".join(result.summary_lines()))

No Django here: this module is used by the CLI, the workers and notebooks alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, NoReturn

import ijson
import numpy as np
from pycocotools import mask as mask_utils

from pipelines.coco.export import rle_runs_checked

IOU_TYPES = ("bbox", "segm")
# Polygon coordinates (and boxes drawn as masks) further than this many image sizes from
# the image are refused: see _check_polygon_coordinates.
POLYGON_REACH = 4

# pycocotools.cocoeval.Params defaults, built with the very same expressions so that the
# thresholds are bit-identical (0.75 must compare equal to iouThrs[5] in summarize()).
DEFAULT_IOU_THRESHOLDS = np.linspace(
    0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True
)
DEFAULT_RECALL_THRESHOLDS = np.linspace(
    0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True
)
DEFAULT_MAX_DETECTIONS = (1, 10, 100)
DEFAULT_AREA_RANGES = ((0**2, 1e5**2), (0**2, 32**2), (32**2, 96**2), (96**2, 1e5**2))
DEFAULT_AREA_LABELS = ("all", "small", "medium", "large")


class ResultsFormatError(ValueError):
    """A results (or ground-truth) file that cannot be evaluated; the message names the entry."""


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


@dataclass
class EvalParams:
    """The knobs of pycocotools' ``Params`` (None means pycocotools' default)."""

    image_ids: Sequence[Any] | None = None  # default: every ground-truth image
    category_ids: Sequence[int] | None = None  # default: every ground-truth category
    iou_thresholds: Sequence[float] | None = None
    recall_thresholds: Sequence[float] | None = None
    max_detections: Sequence[int] = DEFAULT_MAX_DETECTIONS
    area_ranges: Sequence[Sequence[float]] = DEFAULT_AREA_RANGES
    area_labels: Sequence[str] = DEFAULT_AREA_LABELS
    use_categories: bool = True
    # pycocotools overwrites a ground truth's ``ignore`` field with its ``iscrowd`` flag
    # (COCOeval._prepare), so ``ignore`` has no effect there.  True makes ``ignore: 1`` count
    # (the object is then neither a hit nor a miss), which pycocotools cannot reproduce.
    honour_ignore_field: bool = False


# --------------------------------------------------------------------------------------------
# Loading ground truth and results into arrays
# --------------------------------------------------------------------------------------------


@dataclass
class GroundTruth:
    """A COCO instances file as arrays, one row per annotation in file order."""

    image_ids: list[Any]
    image_heights: np.ndarray
    image_widths: np.ndarray
    image_index_by_id: dict[Any, int]
    category_ids: list[int]
    category_names: dict[int, str]
    annotation_ids: np.ndarray  # int64
    image_index: np.ndarray  # int64, row into image_ids
    category_id: np.ndarray  # int64
    bbox_xywh: np.ndarray  # float64 (n, 4)
    area: np.ndarray  # float64, the annotation's own ``area`` field (used for area ranges)
    iscrowd: np.ndarray  # bool
    ignore_field: np.ndarray  # bool, the optional ``ignore`` field
    segmentations: list[Any]


@dataclass
class Detections:
    """A results list as arrays, one row per result in file order (ids 1..n as in loadRes)."""

    image_index: np.ndarray  # int64, row into GroundTruth.image_ids
    category_id: np.ndarray  # int64
    bbox_xywh: np.ndarray  # float64 (n, 4)
    area: np.ndarray  # float64: bbox w*h, or mask area (which one follows loadRes' rule)
    score: np.ndarray  # float64
    segmentations: list[Any] | None  # per result, None where loadRes would draw the box


def load_ground_truth(dataset: dict) -> GroundTruth:
    """Read a COCO instances dict (as json.load returns it)."""
    if not isinstance(dataset, dict):
        raise ResultsFormatError("ground truth: expected a JSON object with images and annotations")
    images = dataset.get("images") or []
    annotations = dataset.get("annotations") or []
    categories = dataset.get("categories") or []
    image_ids = [image["id"] for image in images]
    image_index_by_id = {image_id: index for index, image_id in enumerate(image_ids)}
    heights = np.array([image.get("height", 0) or 0 for image in images], dtype=np.int64)
    widths = np.array([image.get("width", 0) or 0 for image in images], dtype=np.int64)
    category_ids = sorted({category["id"] for category in categories})
    category_names = {
        category["id"]: str(category.get("name", category["id"])) for category in categories
    }

    known = [ann for ann in annotations if ann.get("image_id") in image_index_by_id]
    for position, ann in enumerate(annotations):
        if "bbox" not in ann or len(ann["bbox"]) != 4:
            raise ResultsFormatError(
                f"ground truth annotations[{position}]: bbox must be [x, y, w, h]"
            )
    bboxes = np.array([ann["bbox"] for ann in known], dtype=np.float64).reshape(-1, 4)
    # pycocotools reads GT ``area`` from the file; fall back to the box area when it is absent.
    areas = np.array(
        [ann["area"] if "area" in ann else ann["bbox"][2] * ann["bbox"][3] for ann in known],
        dtype=np.float64,
    )
    return GroundTruth(
        image_ids=image_ids,
        image_heights=heights,
        image_widths=widths,
        image_index_by_id=image_index_by_id,
        category_ids=category_ids,
        category_names=category_names,
        annotation_ids=np.array([ann.get("id", 0) for ann in known], dtype=np.int64),
        image_index=np.array([image_index_by_id[ann["image_id"]] for ann in known], dtype=np.int64),
        category_id=np.array([ann.get("category_id", -1) for ann in known], dtype=np.int64),
        bbox_xywh=bboxes,
        area=areas,
        iscrowd=np.array([bool(ann.get("iscrowd", 0)) for ann in known], dtype=bool),
        ignore_field=np.array([bool(ann.get("ignore", 0)) for ann in known], dtype=bool),
        segmentations=[ann.get("segmentation") for ann in known],
    )


def load_results(ground_truth: GroundTruth, results: Any, iou_type: str = "bbox") -> Detections:
    """Read a COCO results list, checking every entry; mirrors COCO.loadRes.

    Segmentations of box results are only checked when ``iou_type`` is "segm" (bbox
    evaluation never reads them, as in pycocotools).

    loadRes decides from the *first* result how all are read: if it has a non-empty ``bbox``,
    every result's area is its box w*h (even for segm evaluation) and a result without a
    ``segmentation`` is drawn as its box; otherwise every result needs an RLE ``segmentation``,
    whose pixel count is the area and whose bounding box fills in a missing ``bbox``.
    """
    if not isinstance(results, list):
        raise ResultsFormatError("results: expected a JSON array of detections")
    if not results:
        return Detections(
            image_index=np.zeros(0, np.int64),
            category_id=np.zeros(0, np.int64),
            bbox_xywh=np.zeros((0, 4)),
            area=np.zeros(0),
            score=np.zeros(0),
            segmentations=[],
        )
    return _load_rows(ground_truth, results, iou_type, _boxes_given(results[0]))


def _boxes_given(first: Any) -> bool:
    """loadRes' rule, decided by the first result for all."""
    if not isinstance(first, dict):
        raise ResultsFormatError("results[0]: expected an object")
    boxes_given = "bbox" in first and first["bbox"] != []
    if not boxes_given and "segmentation" not in first:
        raise ResultsFormatError("results[0]: needs a bbox or a segmentation")
    return boxes_given


def _load_rows(
    ground_truth: GroundTruth,
    results: list,
    iou_type: str,
    boxes_given: bool,
    offset: int = 0,
    compact_masks: bool = False,
) -> Detections:
    """load_results for results[offset:offset + len(results)] of a file (the messages count
    from the file's start). compact_masks keeps each segmentation as compressed RLE, the
    form evaluation turns it into anyway, rather than as the file's lists."""
    try:
        image_index, category_id, score = _read_common_fields(ground_truth, results)
    except (KeyError, TypeError, ValueError):
        _raise_first_bad_entry(ground_truth, results, boxes_given, offset)
        raise
    # Box evaluation of boxed results never reads segmentations; not keeping them lets the
    # parsed JSON go. Results without boxes get theirs from their masks (loadRes).
    segmentations = (
        [result.get("segmentation") for result in results]
        if iou_type == "segm" or not boxes_given
        else None
    )

    if boxes_given:
        try:
            bbox_xywh = np.array([result["bbox"] for result in results], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            bbox_xywh = None
        if bbox_xywh is None or bbox_xywh.shape != (len(results), 4) or not _boxes_ok(bbox_xywh):
            _raise_first_bad_entry(ground_truth, results, boxes_given, offset)
        with np.errstate(over="ignore"):  # an overflow is refused just below
            area = bbox_xywh[:, 2] * bbox_xywh[:, 3]  # loadRes: ann["area"] = bb[2]*bb[3]
        if not np.isfinite(area).all():
            position = int(np.flatnonzero(~np.isfinite(area))[0])
            raise ResultsFormatError(
                f"results[{offset + position}]: bbox w x h overflows, got {results[position]['bbox']!r}"
            )
        for position, segmentation in enumerate(segmentations or []):
            image = int(image_index[position])
            if segmentation is not None:
                _check_segmentation(ground_truth, results, position, image, offset)
                if compact_masks:
                    segmentations[position] = _to_rle(segmentation, ground_truth, image)  # type: ignore[index]
            else:  # drawn as a rectangle polygon at evaluation (loadRes)
                x, y, w, h = (float(v) for v in bbox_xywh[position])
                _check_polygon_coordinates(
                    [[x, y, x + w, y + h]],
                    f"results[{offset + position}]",
                    height=int(ground_truth.image_heights[image]),
                    width=int(ground_truth.image_widths[image]),
                )
    else:
        assert segmentations is not None  # kept above for results without boxes
        rles = []
        for position in range(len(results)):
            _check_segmentation(ground_truth, results, position, image_index[position], offset)
            rles.append(_to_rle(segmentations[position], ground_truth, image_index[position]))
        area = _mask_areas(rles)
        computed_boxes = mask_utils.toBbox(rles) if rles else np.zeros((0, 4))
        bbox_xywh = np.empty((len(results), 4), dtype=np.float64)
        for position, result in enumerate(results):
            given = result.get("bbox")
            if given is not None and not _single_box_ok(given):
                raise ResultsFormatError(
                    f"results[{offset + position}]: bbox must be [x, y, w, h] with w, h >= 0"
                )
            bbox_xywh[position] = given if given is not None else computed_boxes[position]
        segmentations = rles
    return Detections(
        image_index=image_index,
        category_id=category_id,
        bbox_xywh=bbox_xywh,
        area=area,
        score=score,
        segmentations=segmentations,
    )


# One entry of a results file may take at most this many bytes: the streaming reader holds
# one entry at a time as Python objects (about 30x its bytes), so this caps its memory. A
# full 640x480 mask as an uncompressed RLE list is about 1.2 MB; 10^6 polygon vertices
# are over 10 MB.
MAX_RESULT_ENTRY_BYTES = 8 * 2**20
# Entries checked together (numpy over the chunk, as load_results does over a whole file).
RESULTS_CHUNK = 20_000


class _EntryCappedReader:
    """A binary stream for ijson that refuses an entry longer than MAX_RESULT_ENTRY_BYTES
    while it is still being read (ijson builds an entry from as many reads as it takes)."""

    def __init__(self, stream: IO[bytes], head: bytes) -> None:
        self.stream, self.head = stream, head
        self.total = len(head)
        self.entries = 0
        self.entry_start = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for 0 bytes to learn the stream's type
            return b""
        if self.head:
            chunk, self.head = self.head, b""
            return chunk
        chunk = self.stream.read(size if size and size > 0 else 64 * 1024)
        self.total += len(chunk)
        if self.total - self.entry_start > MAX_RESULT_ENTRY_BYTES + 64 * 1024:
            raise ResultsFormatError(
                f"results[{self.entries}]: one entry is larger than "
                f"{MAX_RESULT_ENTRY_BYTES // 2**20} MiB (a polygon with too many vertices?)"
            )
        return chunk

    def entry_read(self) -> None:
        self.entries += 1
        self.entry_start = self.total


def load_results_file(
    ground_truth: GroundTruth, stream: IO[bytes], iou_type: str = "bbox"
) -> Detections:
    """load_results for a results file read as it streams (ijson).

    Entries are read RESULTS_CHUNK at a time and checked as load_results checks them (the
    first entry decides how all are read, as in COCO.loadRes); only array rows and, where
    segmentations are evaluated, compressed RLEs are kept: memory grows with the number of
    detections (about 60 bytes each for boxes), not with the file's size or its JSON. The
    first bad entry raises ResultsFormatError naming it; so does JSON that is invalid or
    cut short.
    """
    head = stream.read(64 * 1024)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not start:
        raise ResultsFormatError("results: the file is empty")
    if start != b"[":
        raise ResultsFormatError("results: expected a JSON array of detections")
    reader = _EntryCappedReader(stream, head)
    parts: list[Detections] = []
    chunk: list[Any] = []
    boxes_given = True
    offset = 0

    def flush() -> None:
        nonlocal chunk, offset
        if chunk:
            parts.append(
                _load_rows(ground_truth, chunk, iou_type, boxes_given, offset, compact_masks=True)
            )
            offset += len(chunk)
            chunk = []

    try:
        for result in ijson.items(reader, "item", use_float=True):
            reader.entry_read()
            if reader.entries == 1:
                boxes_given = _boxes_given(result)
            chunk.append(result)
            if len(chunk) == RESULTS_CHUNK:
                flush()
    except ijson.JSONError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "cut short"
        if "invalid char" in reason:
            reason += " NaN, Infinity and unquoted words are not JSON"
        raise ResultsFormatError(
            f"results: not valid JSON after {reader.entries} entries ({reason})"
        ) from None
    flush()
    if not parts:
        return load_results(ground_truth, [], iou_type)
    keep_masks = parts[0].segmentations is not None
    return Detections(
        image_index=np.concatenate([part.image_index for part in parts]),
        category_id=np.concatenate([part.category_id for part in parts]),
        bbox_xywh=np.concatenate([part.bbox_xywh for part in parts]),
        area=np.concatenate([part.area for part in parts]),
        score=np.concatenate([part.score for part in parts]),
        segmentations=(
            [rle for part in parts for rle in part.segmentations or []] if keep_masks else None
        ),
    )


def _read_common_fields(ground_truth: GroundTruth, results: list) -> tuple[np.ndarray, ...]:
    """Fast path: image index, category id and score for all results, or raise."""
    image_index_by_id = ground_truth.image_index_by_id
    image_index = np.array(
        [image_index_by_id.get(r["image_id"], -1) for r in results], dtype=np.int64
    )
    category_id = np.array([r["category_id"] for r in results])
    score = np.array([r["score"] for r in results])
    if image_index.min() < 0:
        raise ValueError("unknown image")
    if (
        category_id.dtype.kind not in "iu"
        or not np.isin(category_id, ground_truth.category_ids).all()
    ):
        raise ValueError("unknown category")
    if score.dtype.kind not in "iuf" or not np.isfinite(score).all():
        raise ValueError("bad score")
    return image_index, category_id.astype(np.int64), score.astype(np.float64)


def _raise_first_bad_entry(
    ground_truth: GroundTruth, results: list, boxes_given: bool, offset: int = 0
) -> NoReturn:
    """Slow path: find the first malformed result and raise an error naming it."""
    known_categories = set(ground_truth.category_ids)
    for position, result in enumerate(results):
        where = f"results[{offset + position}]"
        if not isinstance(result, dict):
            raise ResultsFormatError(f"{where}: expected an object")
        for key in ("image_id", "category_id", "score"):
            if key not in result:
                raise ResultsFormatError(f"{where}: missing {key}")
        image_id = result["image_id"]
        if (
            not isinstance(image_id, int | float | str)
            or image_id not in ground_truth.image_index_by_id
        ):
            raise ResultsFormatError(
                f"{where}: image_id {result['image_id']!r} is not in the ground truth"
            )
        category = result["category_id"]
        if (
            isinstance(category, bool)
            or not isinstance(category, int)
            or category not in known_categories
        ):
            raise ResultsFormatError(
                f"{where}: category_id {category!r} is not in the ground truth"
            )
        score = result["score"]
        if isinstance(score, bool) or not isinstance(score, int | float) or not np.isfinite(score):
            raise ResultsFormatError(f"{where}: score must be a finite number, got {score!r}")
        if boxes_given:
            if "bbox" not in result:
                raise ResultsFormatError(f"{where}: missing bbox (results[0] has one)")
            if not _single_box_ok(result["bbox"]):
                raise ResultsFormatError(
                    f"{where}: bbox must be [x, y, w, h] with finite values and w, h >= 0, "
                    f"got {result['bbox']!r}"
                )
    raise ResultsFormatError("results: malformed entry")  # not reached for the checks above


def _single_box_ok(box: Any) -> bool:
    if not isinstance(box, list | tuple | np.ndarray) or len(box) != 4:
        return False
    if any(
        isinstance(value, bool) or not isinstance(value, int | float | np.number) for value in box
    ):
        return False
    return _boxes_ok(np.asarray(box, dtype=np.float64).reshape(1, 4))


def _boxes_ok(bbox_xywh: np.ndarray) -> bool:
    return bool(np.isfinite(bbox_xywh).all() and (bbox_xywh[:, 2:] >= 0).all())


def _check_segmentation(
    ground_truth: GroundTruth, results: list, position: int, image: int, offset: int = 0
) -> None:
    _check_one_segmentation(
        ground_truth,
        results[position].get("segmentation"),
        f"results[{offset + position}]",
        int(image),
    )


def _check_one_segmentation(
    ground_truth: GroundTruth, segmentation: Any, where: str, image: int
) -> None:
    height, width = int(ground_truth.image_heights[image]), int(ground_truth.image_widths[image])
    if isinstance(segmentation, dict):
        size = segmentation.get("size")
        if "counts" not in segmentation or not isinstance(size, list | tuple) or len(size) != 2:
            raise ResultsFormatError(
                f"{where}: segmentation RLE needs counts and size [height, width]"
            )
        if list(size) != [height, width]:
            raise ResultsFormatError(
                f"{where}: segmentation size {list(size)} does not match image "
                f"{ground_truth.image_ids[image]!r} ({height}x{width})"
            )
        try:
            # Compressed strings too: pycocotools decodes one whose runs do not add up to the
            # mask into uninitialised memory.
            rle_runs_checked(segmentation["counts"], height=height, width=width)
        except ValueError as error:
            raise ResultsFormatError(f"{where}: segmentation {error}") from None
        return
    if (
        isinstance(segmentation, list)
        and segmentation
        and all(
            isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0
            for polygon in segmentation
        )
    ):
        if height <= 0 or width <= 0:
            raise ResultsFormatError(f"{where}: polygon on an image without height/width")
        _check_polygon_coordinates(segmentation, where, height=height, width=width)
        return
    raise ResultsFormatError(f"{where}: segmentation must be an RLE object or a list of polygons")


def _check_polygon_coordinates(polygons: list, where: str, *, height: int, width: int) -> None:
    """Numbers, finite and within the image's reach. pycocotools rasterises a polygon by
    stepping pixel by pixel along each edge after casting the coordinates to C ints: NaN or
    1e308 becomes an edge of 2^31 steps (gigabytes allocated, or a crash)."""
    reach = float(max(height, width))
    for polygon in polygons:
        if any(isinstance(value, bool) or not isinstance(value, int | float) for value in polygon):
            raise ResultsFormatError(f"{where}: polygon coordinates must be numbers")
        xy = np.asarray(polygon, dtype=np.float64)
        if not np.isfinite(xy).all() or (np.abs(xy) > POLYGON_REACH * reach).any():
            raise ResultsFormatError(
                f"{where}: polygon coordinates must be finite and within {POLYGON_REACH} image "
                f"sizes of the image ({width}x{height})"
            )


def _mask_areas(rles: list[dict]) -> np.ndarray:
    """maskUtils.area over many RLEs, in chunks of 255: pycocotools' ``area`` allocates its
    output with ``np.array((n, 1), dtype=np.uint8)``, which overflows for n > 255 on NumPy 2."""
    chunks = [mask_utils.area(rles[start : start + 255]) for start in range(0, len(rles), 255)]
    return np.concatenate(chunks).astype(np.float64) if chunks else np.zeros(0)


def _to_rle(segmentation: Any, ground_truth: GroundTruth, image: int) -> dict:
    """COCO.annToRLE: polygons and uncompressed RLE become compressed RLE."""
    height, width = int(ground_truth.image_heights[image]), int(ground_truth.image_widths[image])
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    # Checked by _check_segmentation; re-encoded from the checked runs so pycocotools never
    # reads a string it was not shown to be safe on.
    runs = rle_runs_checked(segmentation["counts"], height=height, width=width)
    return mask_utils.frPyObjects({"size": [height, width], "counts": runs}, height, width)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


# The names of the 12 numbers of COCOeval.stats, in the order of EvalResult._summary_entries.
STAT_NAMES = [
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
]


@dataclass
class EvalResult:
    """Accumulated results, laid out exactly as pycocotools' ``COCOeval.eval`` and ``stats``."""

    iou_type: str
    image_ids: list[Any]
    category_ids: list[int]  # the K categories of precision's third axis ([-1] if useCats=0)
    category_names: dict[int, str]
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    max_detections: list[int]
    area_ranges: list[list[float]]
    area_labels: list[str]
    precision: np.ndarray  # [T, R, K, A, M], -1 where a category has no ground truth
    recall: np.ndarray  # [T, K, A, M]
    scores: np.ndarray  # [T, R, K, A, M]
    stats: np.ndarray = field(default_factory=lambda: np.zeros(12))

    def summarize(
        self,
        iou_threshold: float | None = None,
        area: str = "all",
        max_dets: int = 100,
        ap: bool = True,
    ) -> float:
        """One number of COCOeval.summarize()'s _summarize, with its exact numpy operations."""
        area_index = [i for i, label in enumerate(self.area_labels) if label == area]
        max_index = [i for i, value in enumerate(self.max_detections) if value == max_dets]
        values = self.precision if ap else self.recall
        if iou_threshold is not None:
            values = values[np.where(self.iou_thresholds == iou_threshold)[0]]
        values = (
            values[:, :, :, area_index, max_index] if ap else values[:, :, area_index, max_index]
        )
        if len(values[values > -1]) == 0:
            return -1
        return float(np.mean(values[values > -1]))

    def compute_stats(self) -> np.ndarray:
        """The 12 numbers of COCOeval.stats (bbox/segm), in pycocotools' order."""
        last = self.max_detections[2] if len(self.max_detections) > 2 else self.max_detections[-1]
        self.stats = np.array([value for value, _ in self._summary_entries(last)], dtype=np.float64)
        return self.stats

    def _summary_entries(self, last: int) -> list[tuple[float, str]]:
        """The 12 (value, line) pairs of COCOeval.summarize(), named by STAT_NAMES."""
        entries = []
        settings = [
            (True, None, "all", 100),
            (True, 0.5, "all", last),
            (True, 0.75, "all", last),
            (True, None, "small", last),
            (True, None, "medium", last),
            (True, None, "large", last),
            (False, None, "all", self.max_detections[0]),
            (False, None, "all", self.max_detections[1] if len(self.max_detections) > 1 else last),
            (False, None, "all", last),
            (False, None, "small", last),
            (False, None, "medium", last),
            (False, None, "large", last),
        ]
        for ap, iou_threshold, area, max_dets in settings:
            value = self.summarize(iou_threshold, area, max_dets, ap)
            title = "Average Precision" if ap else "Average Recall"
            kind = "(AP)" if ap else "(AR)"
            iou_text = (
                f"{self.iou_thresholds[0]:0.2f}:{self.iou_thresholds[-1]:0.2f}"
                if iou_threshold is None
                else f"{iou_threshold:0.2f}"
            )
            line = f" {title:<18} {kind} @[ IoU={iou_text:<9} | area={area:>6s} | maxDets={max_dets:>3d} ] = {value:0.3f}"
            entries.append((value, line))
        return entries

    def summary_lines(self) -> list[str]:
        """The 12 lines COCOeval.summarize() prints, character for character."""
        last = self.max_detections[2] if len(self.max_detections) > 2 else self.max_detections[-1]
        return [line for _, line in self._summary_entries(last)]

    def per_category_ap(self, area: str = "all") -> dict[int, float | None]:
        """AP@[.5:.95] per category at the largest maxDets (None: no ground truth)."""
        area_index = list(self.area_labels).index(area)
        table = {}
        for k, category_id in enumerate(self.category_ids):
            values = self.precision[:, :, k, area_index, -1]
            values = values[values > -1]
            table[category_id] = float(np.mean(values)) if values.size else None
        return table


def evaluate(
    ground_truth: GroundTruth,
    detections: Detections,
    iou_type: str = "bbox",
    params: EvalParams | None = None,
) -> EvalResult:
    """COCOeval(gt, dt, iou_type).evaluate(); .accumulate(); .summarize() - as arrays."""
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    params = params or EvalParams()
    iou_thresholds = np.asarray(
        DEFAULT_IOU_THRESHOLDS if params.iou_thresholds is None else params.iou_thresholds,
        dtype=np.float64,
    )
    recall_thresholds = np.asarray(
        DEFAULT_RECALL_THRESHOLDS if params.recall_thresholds is None else params.recall_thresholds,
        dtype=np.float64,
    )
    # COCOeval.evaluate(): imgIds and catIds become sorted unique lists, maxDets is sorted.
    image_ids = list(
        np.unique(ground_truth.image_ids if params.image_ids is None else list(params.image_ids))
    )
    requested = (
        ground_truth.category_ids if params.category_ids is None else list(params.category_ids)
    )
    if params.use_categories:
        category_ids = [int(c) for c in np.unique(requested)]
    else:
        # Only sorted when useCats=1; with useCats=0, computeIoU concatenates each image's
        # ground truths and detections in the given category order.
        category_ids = [int(c) for c in dict.fromkeys(requested)]
    max_detections = sorted(int(m) for m in params.max_detections)
    area_ranges = np.asarray(params.area_ranges, dtype=np.float64).reshape(-1, 2)

    problem = _Problem(
        ground_truth, detections, iou_type, image_ids, category_ids, max_detections[-1], params
    )
    problem.compute_ious()
    matches = problem.match(iou_thresholds, area_ranges)
    precision, recall, scores = problem.accumulate(matches, recall_thresholds, max_detections)
    result = EvalResult(
        iou_type=iou_type,
        image_ids=image_ids,
        category_ids=category_ids if params.use_categories else [-1],
        category_names=ground_truth.category_names,
        iou_thresholds=iou_thresholds,
        recall_thresholds=recall_thresholds,
        max_detections=max_detections,
        area_ranges=area_ranges.tolist(),
        area_labels=list(params.area_labels),
        precision=precision,
        recall=recall,
        scores=scores,
    )
    result.compute_stats()
    return result


@dataclass
class _Matches:
    dt_matched: np.ndarray  # [T, A, D] bool: matched to a ground truth whose id is not 0
    dt_ignored: np.ndarray  # [T, A, D] bool
    gt_ignored: np.ndarray  # [A, G] bool


class _Problem:
    """The evaluated ground truths and detections, grouped and ordered as COCOeval orders them.

    A group is one (category, image) pair (one image when useCats=0).  Within a group, ground
    truths keep file order (by category first when useCats=0, as computeIoU concatenates them),
    and detections are sorted by score with a stable sort, then cut at maxDets[-1].
    """

    def __init__(
        self,
        gt: GroundTruth,
        dt: Detections,
        iou_type: str,
        image_ids: list,
        category_ids: list[int],
        max_dets: int,
        params: EvalParams,
    ) -> None:
        self.iou_type = iou_type
        self.gt_source = gt
        self.use_categories = params.use_categories
        n_images = len(image_ids)
        self.n_images = n_images
        self.n_categories = len(category_ids) if params.use_categories else 1
        image_rank_by_index = np.full(len(gt.image_ids), -1, dtype=np.int64)
        for rank, image_id in enumerate(image_ids):
            if image_id in gt.image_index_by_id:
                image_rank_by_index[gt.image_index_by_id[image_id]] = rank
        ordered_categories = np.asarray(category_ids, dtype=np.int64)
        sorter = np.argsort(ordered_categories, kind="stable")

        def category_rank(values: np.ndarray) -> np.ndarray:
            """Position of each category id in category_ids, -1 if not evaluated."""
            if not len(ordered_categories):
                return np.full(len(values), -1, dtype=np.int64)
            position = np.searchsorted(ordered_categories, values, sorter=sorter)
            position = np.minimum(position, len(ordered_categories) - 1)
            rank = sorter[position]
            return np.where(ordered_categories[rank] == values, rank, -1)

        # Ground truth: evaluated images and categories only.
        gt_image_rank = (
            image_rank_by_index[gt.image_index] if len(gt.image_index) else np.zeros(0, np.int64)
        )
        gt_category_rank = category_rank(gt.category_id)
        keep = np.flatnonzero((gt_image_rank >= 0) & (gt_category_rank >= 0))
        gt_image_rank, gt_category_rank = gt_image_rank[keep], gt_category_rank[keep]
        gt_group = self._group(gt_image_rank, gt_category_rank)
        # Within a group: file order (category first when useCats=0).
        order = np.lexsort((keep, gt_category_rank, gt_group))
        self.gt_rows = keep[order]
        self.gt_group = gt_group[order]
        self.gt_category_rank = gt_category_rank[order]
        self.gt_ids = gt.annotation_ids[self.gt_rows]
        self.gt_crowd = gt.iscrowd[self.gt_rows]
        base_ignore = self.gt_crowd.copy()
        if params.honour_ignore_field:
            base_ignore |= gt.ignore_field[self.gt_rows]
        self.gt_base_ignore = base_ignore
        self.gt_area = gt.area[self.gt_rows]

        # Detections: evaluated images and categories, sorted by score within the group.
        dt_image_rank = (
            image_rank_by_index[dt.image_index] if len(dt.image_index) else np.zeros(0, np.int64)
        )
        dt_category_rank = category_rank(dt.category_id)
        keep = np.flatnonzero((dt_image_rank >= 0) & (dt_category_rank >= 0))
        dt_image_rank, dt_category_rank = dt_image_rank[keep], dt_category_rank[keep]
        dt_group = self._group(dt_image_rank, dt_category_rank)
        # np.argsort(-score, kind='mergesort') on the group's list, whose order is file order
        # (category first when useCats=0): a stable sort on -score with those tie-breakers.
        order = np.lexsort((keep, dt_category_rank, -dt.score[keep], dt_group))
        rows, groups = keep[order], dt_group[order]
        rank_in_group = _rank_within_groups(groups)
        truncated = rank_in_group < max_dets
        self.dt_rows = rows[truncated]
        self.dt_group = groups[truncated]
        self.dt_rank = rank_in_group[truncated]
        self.dt_image_rank = dt_image_rank[order][truncated]
        self.dt_category_rank = dt_category_rank[order][truncated]
        self.dt_score = dt.score[self.dt_rows]
        self.dt_area = dt.area[self.dt_rows]
        self.dt_source = dt

    def _group(self, image_rank: np.ndarray, category_rank: np.ndarray) -> np.ndarray:
        if self.use_categories:
            return category_rank * self.n_images + image_rank
        return image_rank.copy()

    # ---- IoU of every (detection, ground truth) pair in the same group --------------------

    def compute_ious(self) -> None:
        n_groups = self.n_categories * self.n_images
        gt_count = np.bincount(self.gt_group, minlength=n_groups)
        gt_start = np.concatenate(([0], np.cumsum(gt_count)[:-1]))
        dt_count = np.bincount(self.dt_group, minlength=n_groups)
        pairs_per_dt = gt_count[self.dt_group]
        pair_dt = np.repeat(np.arange(len(self.dt_group)), pairs_per_dt)
        first_pair = np.cumsum(pairs_per_dt) - pairs_per_dt
        offset = np.arange(len(pair_dt)) - np.repeat(first_pair, pairs_per_dt)
        pair_gt = np.repeat(gt_start[self.dt_group], pairs_per_dt) + offset
        self.pair_dt, self.pair_gt = pair_dt, pair_gt
        # Pairs are ordered by group, then detection (score order), then ground truth, which is
        # also the row-major order of maskUtils.iou(dt, gt) for each group.
        if self.iou_type == "bbox":
            self.pair_iou = _bbox_iou(
                self.dt_source.bbox_xywh[self.dt_rows][pair_dt],
                self.gt_source.bbox_xywh[self.gt_rows][pair_gt],
                self.gt_crowd[pair_gt],
            )
        else:
            self.pair_iou = self._segm_ious(gt_count, gt_start, dt_count)

    def _segm_ious(
        self, gt_count: np.ndarray, gt_start: np.ndarray, dt_count: np.ndarray
    ) -> np.ndarray:
        gt = self.gt_source
        both = np.flatnonzero((gt_count > 0) & (dt_count > 0))
        dt_start = np.concatenate(([0], np.cumsum(dt_count)[:-1]))
        gt_rles: list[Any] = [None] * len(self.gt_rows)
        blocks = []
        for group in both:
            g0, g1 = gt_start[group], gt_start[group] + gt_count[group]
            d0, d1 = dt_start[group], dt_start[group] + dt_count[group]
            for position in range(g0, g1):
                if gt_rles[position] is None:
                    row = self.gt_rows[position]
                    gt_rles[position] = _ground_truth_rle(gt, row)
            dt_rles = [self._detection_rle(row) for row in self.dt_rows[d0:d1]]
            crowd = self.gt_crowd[g0:g1].astype(np.uint8)
            ious = mask_utils.iou(dt_rles, gt_rles[g0:g1], crowd)
            blocks.append(np.asarray(ious, dtype=np.float64).reshape(-1))
        return np.concatenate(blocks) if blocks else np.zeros(0)

    def _detection_rle(self, row: int) -> dict:
        dt = self.dt_source
        segmentation = dt.segmentations[row] if dt.segmentations is not None else None
        image = int(dt.image_index[row])
        if segmentation is None:
            # loadRes draws a box result without segmentation as a rectangle polygon.
            x, y, w, h = dt.bbox_xywh[row]
            segmentation = [[x, y, x, y + h, x + w, y + h, x + w, y]]
        return _to_rle(segmentation, self.gt_source, image)

    # ---- Greedy matching (COCOeval.evaluateImg) -------------------------------------------

    def match(self, iou_thresholds: np.ndarray, area_ranges: np.ndarray) -> _Matches:
        """Match every area range and IoU threshold at once.

        evaluateImg walks ground truths (non-ignored first) for each detection in score order
        and keeps the last one with the highest IoU >= threshold that is still free (crowds are
        never used up); an ignored one is taken only if no regular one qualifies.  A detection's
        choice depends on earlier detections of its group only, so round r handles the r-th
        detection (among those with any candidate) of every group together.
        """
        n_thresholds, n_areas, n_dt, n_gt = (
            len(iou_thresholds),
            len(area_ranges),
            len(self.dt_group),
            len(self.gt_group),
        )
        gt_out_of_range = (self.gt_area[None, :] < area_ranges[:, :1]) | (
            self.gt_area[None, :] > area_ranges[:, 1:]
        )
        gt_ignored = self.gt_base_ignore[None, :] | gt_out_of_range  # [A, G]
        dt_matched = np.zeros((n_thresholds, n_areas, n_dt), dtype=bool)
        dt_ignored = np.zeros((n_thresholds, n_areas, n_dt), dtype=bool)
        effective = np.minimum(iou_thresholds, 1 - 1e-10)  # iou = min([t, 1-1e-10])

        candidate = (
            np.flatnonzero(self.pair_iou >= effective.min())
            if n_thresholds
            else np.zeros(0, np.int64)
        )
        if len(candidate):
            c_dt, c_gt, c_iou = (
                self.pair_dt[candidate],
                self.pair_gt[candidate],
                self.pair_iou[candidate],
            )
            # Round of each candidate: rank of its detection among detections with candidates.
            dts_with_candidates = np.unique(c_dt)
            round_of_dt = np.zeros(n_dt, dtype=np.int64)
            round_of_dt[dts_with_candidates] = _rank_within_groups(
                self.dt_group[dts_with_candidates]
            )
            c_round = round_of_dt[c_dt]
            # Sort by (round, detection, iou, gt position): within one detection the position
            # in this order ranks candidates as evaluateImg prefers them (higher IoU, then later).
            order = np.lexsort((c_gt, c_iou, c_dt, c_round))
            c_dt, c_gt, c_iou, c_round = c_dt[order], c_gt[order], c_iou[order], c_round[order]
            preference = np.arange(len(c_dt)) + 1
            regular_bonus = len(c_dt) + 1  # any regular candidate beats any ignored one
            gt_used = np.zeros((n_thresholds, n_areas, n_gt), dtype=bool)
            gt_ids = self.gt_ids
            round_bounds = np.searchsorted(c_round, np.arange(c_round[-1] + 2))
            above_threshold = c_iou[None, :] >= effective[:, None]  # [T, C]
            for r in range(len(round_bounds) - 1):
                lo, hi = round_bounds[r], round_bounds[r + 1]
                if lo == hi:
                    continue
                gts, dts = c_gt[lo:hi], c_dt[lo:hi]
                free = ~gt_used[:, :, gts] | self.gt_crowd[gts]  # [T, A, P]
                valid = free & above_threshold[:, None, lo:hi]
                key = preference[None, lo:hi] + regular_bonus * ~gt_ignored[:, gts]  # [A, P]
                key = np.where(valid, key[None], 0)
                starts = np.flatnonzero(np.r_[True, dts[1:] != dts[:-1]])
                best = np.maximum.reduceat(key, starts, axis=2)
                lengths = np.diff(np.r_[starts, hi - lo])
                chosen = (key == np.repeat(best, lengths, axis=2)) & (key > 0)
                t_idx, a_idx, p_idx = np.nonzero(chosen)
                chosen_gt, chosen_dt = gts[p_idx], dts[p_idx]
                gt_used[t_idx, a_idx, chosen_gt] = True
                # dtm stores the gt id and accumulate() tests it for non-zero: a match with a
                # ground truth whose id is 0 counts as no match (pycocotools behaviour).
                dt_matched[t_idx, a_idx, chosen_dt] = gt_ids[chosen_gt] != 0
                dt_ignored[t_idx, a_idx, chosen_dt] = gt_ignored[a_idx, chosen_gt]

        # Unmatched detections outside the area range are ignored.
        dt_out_of_range = (self.dt_area[None, :] < area_ranges[:, :1]) | (
            self.dt_area[None, :] > area_ranges[:, 1:]
        )
        dt_ignored |= ~dt_matched & dt_out_of_range[None, :, :]
        return _Matches(dt_matched=dt_matched, dt_ignored=dt_ignored, gt_ignored=gt_ignored)

    # ---- Accumulation (COCOeval.accumulate) -----------------------------------------------

    def accumulate(
        self, matches: _Matches, recall_thresholds: np.ndarray, max_detections: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_thresholds, n_areas = matches.dt_matched.shape[:2]
        n_recall, n_max = len(recall_thresholds), len(max_detections)
        n_categories = self.n_categories
        precision = -np.ones((n_thresholds, n_recall, n_categories, n_areas, n_max))
        recall = -np.ones((n_thresholds, n_categories, n_areas, n_max))
        scores = -np.ones((n_thresholds, n_recall, n_categories, n_areas, n_max))

        category_of_gt = (
            self.gt_category_rank if self.use_categories else np.zeros(len(self.gt_group), np.int64)
        )
        category_of_dt = (
            self.dt_category_rank if self.use_categories else np.zeros(len(self.dt_group), np.int64)
        )
        # npig: non-ignored ground truths per category and area range.
        not_ignored_count = np.zeros((n_categories, n_areas), dtype=np.int64)
        for a in range(n_areas):
            not_ignored_count[:, a] = np.bincount(
                category_of_gt[~matches.gt_ignored[a]], minlength=n_categories
            )

        # Detections of one category are concatenated image by image (sorted image ids), each
        # image's in score order, then stably sorted by score over all images.
        order = np.lexsort((self.dt_rank, self.dt_image_rank, -self.dt_score, category_of_dt))
        bounds = np.searchsorted(category_of_dt[order], np.arange(n_categories + 1))
        eps = np.spacing(1)
        for k in range(n_categories):
            in_category = order[bounds[k] : bounds[k + 1]]
            for m, max_dets in enumerate(max_detections):
                selected = in_category[self.dt_rank[in_category] < max_dets]
                scores_sorted = self.dt_score[selected]
                n_dets = len(selected)
                for a in range(n_areas):
                    npig = not_ignored_count[k, a]
                    if npig == 0:
                        continue
                    matched = matches.dt_matched[:, a, selected]
                    ignored = matches.dt_ignored[:, a, selected]
                    tp_sum = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
                    fp_sum = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
                    if n_dets == 0:
                        recall[:, k, a, m] = 0
                        precision[:, :, k, a, m] = 0
                        scores[:, :, k, a, m] = 0
                        continue
                    rc = tp_sum / npig
                    pr = tp_sum / (fp_sum + tp_sum + eps)
                    recall[:, k, a, m] = rc[:, -1]
                    # Precision envelope: pr[i-1] = max(pr[i-1], pr[i]) from the end.
                    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                    for t in range(n_thresholds):
                        positions = np.searchsorted(rc[t], recall_thresholds, side="left")
                        inside = positions < n_dets
                        q = np.zeros(n_recall)
                        ss = np.zeros(n_recall)
                        # pycocotools stops at the first threshold past the last detection;
                        # positions are non-decreasing, so all later ones are past it too.
                        q[inside] = pr[t, positions[inside]]
                        ss[inside] = scores_sorted[positions[inside]]
                        precision[t, :, k, a, m] = q
                        scores[t, :, k, a, m] = ss
        return precision, recall, scores


def _ground_truth_rle(gt: GroundTruth, row: int) -> dict:
    segmentation = gt.segmentations[row]
    if segmentation is None:
        raise ResultsFormatError(
            f"ground truth annotation {int(gt.annotation_ids[row])}: no segmentation"
        )
    return _to_rle(segmentation, gt, int(gt.image_index[row]))


def _bbox_iou(dt_xywh: np.ndarray, gt_xywh: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
    """maskApi.c bbIou, elementwise over pairs, with the same float operations in the same order."""
    dt_area = dt_xywh[:, 2] * dt_xywh[:, 3]
    gt_area = gt_xywh[:, 2] * gt_xywh[:, 3]
    w = np.minimum(dt_xywh[:, 2] + dt_xywh[:, 0], gt_xywh[:, 2] + gt_xywh[:, 0]) - np.maximum(
        dt_xywh[:, 0], gt_xywh[:, 0]
    )
    h = np.minimum(dt_xywh[:, 3] + dt_xywh[:, 1], gt_xywh[:, 3] + gt_xywh[:, 1]) - np.maximum(
        dt_xywh[:, 1], gt_xywh[:, 1]
    )
    intersection = w * h
    # Crowd regions: intersection over the detection's area (iscrowd rule of maskApi.c).
    union = np.where(gt_crowd, dt_area, dt_area + gt_area - intersection)
    overlapping = (w > 0) & (h > 0)
    iou = np.zeros(len(dt_xywh))
    np.divide(intersection, union, out=iou, where=overlapping)
    return iou


def _rank_within_groups(sorted_groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of an already grouped array."""
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def evaluate_coco(
    ground_truth: dict,
    results: list,
    iou_type: str = "bbox",
    params: EvalParams | None = None,
) -> EvalResult:
    """Convenience: evaluate plain COCO dicts (as json.load returns them)."""
    gt = load_ground_truth(ground_truth)
    return evaluate(gt, load_results(gt, results, iou_type), iou_type, params)


def category_table(result: EvalResult) -> list[dict[str, Any]]:
    """Per-category AP rows: id, name, AP, AP50, AP75, APs/m/l (None where no ground truth)."""
    rows = []
    labels = list(result.area_labels)
    thresholds = list(result.iou_thresholds)
    for k, category_id in enumerate(result.category_ids):
        row: dict[str, Any] = {
            "category_id": category_id,
            "name": result.category_names.get(category_id, str(category_id)),
        }
        for name, t_index, area in _category_columns(thresholds, labels):
            values = result.precision[:, :, k, labels.index(area), -1]
            if t_index is not None:
                values = values[t_index]
            values = values[values > -1]
            row[name] = float(np.mean(values)) if values.size else None
        rows.append(row)
    return rows


def _category_columns(
    thresholds: list[float], labels: list[str]
) -> Iterable[tuple[str, int | None, str]]:
    if "all" in labels:
        yield "AP", None, "all"
        for name, value in (("AP50", 0.5), ("AP75", 0.75)):
            if value in thresholds:
                yield name, thresholds.index(value), "all"
    for name, area in (("APs", "small"), ("APm", "medium"), ("APl", "large")):
        if area in labels:
            yield name, None, area
