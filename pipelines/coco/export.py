"""Streaming COCO JSON writer, importable without Django.

A COCO-scale file (330k images, 2.5M instances) does not fit comfortably in memory as one
Python dict, so the writer takes iterables and writes each entry as it comes:

    {"info": {...}, "licenses": [...], "images": [<streamed>], "annotations": [<streamed>],
     "categories": [...]}

Memory stays bounded by one entry plus a write buffer, whatever the dataset size.

A failed export never leaves a half file: everything goes to a hidden temporary file in the
target folder, which is flushed, fsync'ed and renamed over the target (os.replace, atomic on
one file system) only once the last byte is written. Beside the file go `<name>.sha256`
(`sha256sum -c` format) and `<name>.manifest.json` (counts per split and category, software
version, time), also written atomically.

Floats are written as Python's repr (the shortest text that reads back as the same double),
which is how the released files were made (Python's json module): 18234.62355, 321.0 (orjson,
when installed, writes the same text; see _encode for its one difference). Values
the released files store as integers (crowd areas and boxes, counted in pixels) are passed in
as ints by the caller and stay ints. NaN and infinity are refused (they are not JSON).

Keys of streamed entries listed in PRIVATE_KEYS (an image's "_split") are bookkeeping for the
manifest and are not written.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np

orjson: ModuleType | None
try:  # orjson encodes COCO entries about ten times faster than the json module
    import orjson
except ImportError:  # pragma: no cover - the stdlib encoder is the fallback
    orjson = None

# One encoder for every entry: json.dumps with arguments builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
# Bookkeeping keys of streamed entries: counted in the manifest, not written.
PRIVATE_KEYS = ("_split",)
_BUFFER_BYTES = 1 << 20
PROGRESS_EVERY = 10_000  # entries between progress callbacks


class ExportFailed(Exception):
    """An export that could not be completed; no file was left at the target."""


@dataclass
class ExportResult:
    path: Path
    sha256: str
    bytes: int
    counts: dict[str, Any]
    manifest_path: Path | None = None
    checksum_path: Path | None = None


@dataclass
class _Tally:
    """What the manifest reports, counted while streaming."""

    sections: Counter = field(default_factory=Counter)
    images_per_split: Counter = field(default_factory=Counter)
    annotations_per_category: Counter = field(default_factory=Counter)
    crowd_per_category: Counter = field(default_factory=Counter)

    def see(self, section: str, entry: dict) -> None:
        self.sections[section] += 1
        if section == "images":
            self.images_per_split[entry.get("_split") or "unassigned"] += 1
        elif section == "annotations":
            category = entry.get("category_id")
            self.annotations_per_category[category] += 1
            if entry.get("iscrowd"):
                self.crowd_per_category[category] += 1

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, Any] = dict(sorted(self.sections.items()))
        if self.images_per_split:
            counts["images_per_split"] = dict(sorted(self.images_per_split.items()))
        if self.sections.get("annotations") is not None:
            counts["crowd"] = sum(self.crowd_per_category.values())
            counts["annotations_per_category"] = {
                str(k): v for k, v in sorted(self.annotations_per_category.items(), key=_key)
            }
            counts["crowd_per_category"] = {
                str(k): v for k, v in sorted(self.crowd_per_category.items(), key=_key)
            }
        return counts


def _key(item: tuple) -> tuple:
    return (str(type(item[0])), item[0])


def _public(entry: dict) -> dict:
    for key in PRIVATE_KEYS:
        if key in entry:
            return {k: v for k, v in entry.items() if k not in PRIVATE_KEYS}
    return entry


class _HashingWriter:
    """Buffered writer that hashes exactly the bytes written."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0
        self.parts: list[bytes] = []
        self.pending = 0

    def write(self, chunk: bytes | str) -> None:
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        self.parts.append(chunk)
        self.pending += len(chunk)
        if self.pending >= _BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        data = b"".join(self.parts)
        self.parts.clear()
        self.pending = 0
        self.digest.update(data)
        self.size += len(data)
        self.raw.write(data)


def _encode_stdlib(value: Any, where: str) -> bytes:
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (ValueError, TypeError) as error:
        raise ExportFailed(f"{where}: {error}") from None


def _encode(value: Any, where: str) -> bytes:
    """JSON bytes of one value. orjson writes the same float text as Python's repr (the
    released files' form) except in exponent notation (1e-7 for 1e-07, below 1e-4 or from
    1e16: both read back as the same double); it writes NaN as null, so any entry with a
    null is encoded again by the json module, which refuses NaN and infinity."""
    if orjson is None:
        return _encode_stdlib(value, where)
    try:
        data = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return _encode_stdlib(value, where)
    if b"null" in data:
        return _encode_stdlib(value, where)
    return data


PARTIAL_PATTERN = ".*.part"  # the temporary files below, hidden, beside their target


def _temp_beside(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    return fd, Path(temp)


def partial_files_remove(folder: Path | str) -> list[Path]:
    """Remove the temporary files a writer killed mid-way (SIGKILL, power loss) left in
    `folder`; a finished file is never one of them. Returns what was removed."""
    removed = []
    for temp in sorted(Path(folder).glob(PARTIAL_PATTERN)):
        temp.unlink(missing_ok=True)
        removed.append(temp)
    return removed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_chunks(path: Path, chunks: Iterable[bytes | str]) -> tuple[str, int]:
    """Write chunks (bytes, or text as UTF-8) to `path` through a temporary file and an atomic rename.
    Returns (sha256 hex, bytes). On any error the temporary file is removed and the target
    is left as it was (absent, or the previous complete export)."""
    path = Path(path)
    fd, temp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb", buffering=_BUFFER_BYTES) as raw:
            out = _HashingWriter(raw)
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return out.digest.hexdigest(), out.size


def _stream_document(
    sections: list[tuple[str, Any]],
    tally: _Tally,
    progress: Callable[[str, int], None] | None,
) -> Iterator[bytes]:
    """The JSON text of one object whose values are plain values or streamed arrays."""
    yield b"{"
    for number, (key, value) in enumerate(sections):
        yield (b"," if number else b"") + _encode(key, "key") + b":"
        if isinstance(value, dict | str | int | float | bool) or value is None:
            yield _encode(value, key)
            continue
        yield b"["
        count = 0
        for count, entry in enumerate(value, start=1):
            if isinstance(entry, dict):
                tally.see(key, entry)
                entry = _public(entry)
            else:
                tally.sections[key] += 1
            yield (b"," if count > 1 else b"") + _encode(entry, f"{key}[{count - 1}]")
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(key, count)
        tally.sections[key] += 0  # an empty section is still counted (as 0)
        if progress is not None:
            progress(key, count)
        yield b"]"
    yield b"}"


def write_json_document(
    path: Path | str,
    sections: list[tuple[str, Any]],
    *,
    progress: Callable[[str, int], None] | None = None,
    manifest: dict[str, Any] | None = None,
    software_version: str = "",
) -> ExportResult:
    """Write {key: value, ...} in the given key order, streaming every iterable value as a
    JSON array, atomically; then the checksum file and the manifest beside it."""
    path = Path(path)
    tally = _Tally()
    try:
        sha256, size = atomic_write_chunks(path, _stream_document(sections, tally, progress))
    except ExportFailed:
        raise
    except OSError as error:
        raise ExportFailed(f"cannot write {path}: {error.strerror or error}") from None
    counts = tally.as_dict()
    checksum_path = path.with_name(path.name + ".sha256")
    atomic_write_chunks(checksum_path, [f"{sha256}  {path.name}\n"])
    manifest_path = path.with_name(path.name + ".manifest.json")
    document = {
        "file": path.name,
        "sha256": sha256,
        "bytes": size,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": {"name": "cocoforge", "version": software_version},
        "counts": counts,
        **(manifest or {}),
    }
    atomic_write_chunks(
        manifest_path, [json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False), "\n"]
    )
    return ExportResult(
        path=path,
        sha256=sha256,
        bytes=size,
        counts=counts,
        manifest_path=manifest_path,
        checksum_path=checksum_path,
    )


def write_coco(
    path: Path | str,
    *,
    info: dict[str, Any],
    licenses: Iterable[dict],
    images: Iterable[dict],
    annotations: Iterable[dict],
    categories: Iterable[dict],
    progress: Callable[[str, int], None] | None = None,
    manifest: dict[str, Any] | None = None,
    software_version: str = "",
) -> ExportResult:
    """Write a COCO instances file with the released files' key order."""
    return write_json_document(
        path,
        [
            ("info", info),
            ("licenses", licenses),
            ("images", images),
            ("annotations", annotations),
            ("categories", categories),
        ],
        progress=progress,
        manifest=manifest,
        software_version=software_version,
    )


def write_lines(path: Path | str, lines: Iterable[str]) -> tuple[str, int]:
    """A text file of one entry a line, atomically, with its `.sha256` beside it."""
    path = Path(path)
    sha256, size = atomic_write_chunks(path, (line + "\n" for line in lines))
    atomic_write_chunks(path.with_name(path.name + ".sha256"), [f"{sha256}  {path.name}\n"])
    return sha256, size


# RLE --------------------------------------------------------------------------------------


MAX_RLE_GROUPS = 6


def rle_runs_checked(counts: Any, *, height: int, width: int) -> list[int]:
    """The run lengths of an RLE's counts (a list of ints or a compressed string), checked
    WITHOUT decoding any pixel: whole numbers >= 0 that add up to height * width.

    ValueError with the reason otherwise. pycocotools' decoders trust their input: a string
    whose runs do not add up to the mask (``"0" * 5000``) decodes into a mask of
    uninitialised heap memory, and a list that is too short reads past its end. Only runs
    that pass this check may reach pycocotools (re-encoded from the list, so what it decodes
    is exactly what was checked)."""
    pixels = height * width
    if isinstance(counts, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts):
            raise ValueError("RLE counts must be whole numbers of at least 0")
        runs = counts
    elif isinstance(counts, str | bytes):
        if len(counts) > 2 * pixels + 16:
            raise ValueError("RLE counts string is longer than any mask of this size needs")
        try:
            runs = rle_counts_from_string(counts)
        except (UnicodeEncodeError, ValueError) as error:
            raise ValueError(f"RLE counts string is not valid compressed RLE ({error})") from None
        if any(v < 0 for v in runs):
            raise ValueError("RLE counts string is not valid compressed RLE (a negative run)")
    else:
        raise ValueError("RLE counts must be a list of run lengths or a compressed string")
    total = sum(runs)
    if total != pixels:
        raise ValueError(
            f"RLE runs cover {total} pixels, but the mask has {height} x {width} = {pixels}"
        )
    return runs


def rle_counts_from_string(counts: str | bytes) -> list[int]:
    """Uncompressed run lengths of a compressed COCO RLE string (maskApi.c rleFrString).

    The released instances files store crowd regions with uncompressed counts (a list of
    ints); cocoforge stores the compressed string and expands it here on export, vectorised
    with numpy (a crowd region has thousands of runs), without decoding the mask's pixels.
    Each run is 5-bit groups, low first, 0x20 = more groups follow, 0x10 in the last group =
    negative; from the fourth run on (maskApi.c: i > 2), a run is stored as the difference
    to the run two back."""
    data = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    if not data:
        return []
    chars = np.frombuffer(data, dtype=np.uint8).astype(np.int64) - 48
    if chars.min() < 0 or chars.max() > 63:
        raise ValueError("not a compressed RLE string")
    last = (chars & 0x20) == 0  # the last 5-bit group of a run
    if not last[-1]:
        raise ValueError("the RLE string ends in the middle of a run")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if int((ends - starts).max()) >= MAX_RLE_GROUPS:
        # 6 groups hold 30 bits, above any image's pixel count; more overflow maskApi.c's
        # `int` shifts (undefined behaviour) and, further on, the int64 sums here.
        raise ValueError(f"a run is longer than {MAX_RLE_GROUPS} characters")
    position = np.arange(len(chars)) - np.repeat(starts, ends - starts + 1)
    values = np.add.reduceat((chars & 0x1F) << (5 * position), starts)
    negative = (chars[ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (5 * (ends[negative] - starts[negative] + 1))
    # Undo the differences: runs 1, 3, 5... and 2, 4, 6... are each a running sum.
    values[1::2] = np.cumsum(values[1::2])
    values[2::2] = np.cumsum(values[2::2])
    return values.tolist()


def rle_counts_to_string(runs: Iterable[int]) -> str:
    """Compressed COCO RLE string of uncompressed run lengths (maskApi.c rleToString)."""
    runs = list(runs)
    out: list[str] = []
    for index, run in enumerate(runs):
        value = run - runs[index - 2] if index > 2 else run
        more = True
        while more:
            char = value & 0x1F
            value >>= 5
            sign = char & 0x10
            more = not ((not sign and value == 0) or (sign and value == -1))
            if more:
                char |= 0x20
            out.append(chr(char + 48))
    return "".join(out)
