"""The streaming COCO writer: valid JSON, no half files, checksum and manifest beside it."""

import hashlib
import json
import math

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from pipelines.coco.export import (
    ExportFailed,
    rle_counts_from_string,
    rle_counts_to_string,
    write_coco,
    write_lines,
)

CATEGORIES = [{"supercategory": "person", "id": 1, "name": "person"},
              {"supercategory": "animal", "id": 18, "name": "dog"}]  # fmt: skip


def images(n):  # type: ignore[no-untyped-def]
    for i in range(1, n + 1):
        yield {"file_name": f"{i}.jpg", "height": 10, "width": 20, "id": i,
               "_split": "val" if i % 2 else "train"}  # fmt: skip


def annotations(n):  # type: ignore[no-untyped-def]
    for i in range(1, n + 1):
        yield {"segmentation": [[1.0, 1.0, 5.25, 1.0, 5.25, 4.1]], "area": 6.5075,
               "iscrowd": int(i == 3), "image_id": i, "bbox": [1.0, 1.0, 4.25, 3.1],
               "category_id": 18 if i % 3 == 0 else 1, "id": i}  # fmt: skip


def write(path, n=5, **extra):  # type: ignore[no-untyped-def]
    return write_coco(
        path, info={"description": "test"}, licenses=[], images=images(n),
        annotations=annotations(n), categories=CATEGORIES, software_version="9.9", **extra,
    )  # fmt: skip


def test_writes_a_coco_document_with_released_key_order_and_float_text(tmp_path):
    out = tmp_path / "instances.json"
    result = write(out)
    text = out.read_text()
    data = json.loads(text)
    assert list(data) == ["info", "licenses", "images", "annotations", "categories"]
    assert len(data["images"]) == 5 and "_split" not in data["images"][0]
    assert data["annotations"][0]["bbox"] == [1.0, 1.0, 4.25, 3.1]
    assert '"area":6.5075' in text and "[1.0,1.0,5.25,1.0,5.25,4.1]" in text
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.bytes == out.stat().st_size


def test_checksum_file_and_manifest_count_splits_and_categories(tmp_path):
    out = tmp_path / "instances.json"
    write(out, n=6, manifest={"project": "p"})
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert (tmp_path / "instances.json.sha256").read_text() == f"{digest}  instances.json\n"
    manifest = json.loads((tmp_path / "instances.json.manifest.json").read_text())
    assert manifest["sha256"] == digest and manifest["software"]["version"] == "9.9"
    assert manifest["project"] == "p" and manifest["created"]
    counts = manifest["counts"]
    assert counts["images"] == 6 and counts["annotations"] == 6 and counts["crowd"] == 1
    assert counts["images_per_split"] == {"train": 3, "val": 3}
    assert counts["annotations_per_category"] == {"1": 4, "18": 2}


def test_a_failure_midway_leaves_no_file_and_keeps_the_previous_export(tmp_path):
    out = tmp_path / "instances.json"
    write(out, n=3)
    before = out.read_bytes()

    def broken():  # type: ignore[no-untyped-def]
        yield from annotations(2)
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        write_coco(out, info={}, licenses=[], images=images(2), annotations=broken(),
                   categories=CATEGORIES)  # fmt: skip
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "instances.json",
        "instances.json.manifest.json",
        "instances.json.sha256",
    ]


def test_nan_is_refused_naming_the_entry_and_no_file_is_left(tmp_path):
    out = tmp_path / "new.json"
    bad = [{"id": 1, "area": math.nan}]
    with pytest.raises(ExportFailed, match=r"annotations\[0\]"):
        write_coco(out, info={}, licenses=[], images=[], annotations=bad, categories=[])
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported_per_section(tmp_path):
    seen = []
    write(tmp_path / "x.json", n=4, progress=lambda section, count: seen.append((section, count)))
    assert ("images", 4) in seen and ("annotations", 4) in seen


def test_write_lines_is_atomic_with_checksum(tmp_path):
    out = tmp_path / "images_val.txt"
    sha, size = write_lines(out, ["1\ta.jpg", "2\tb.jpg"])
    assert out.read_text() == "1\ta.jpg\n2\tb.jpg\n" and size == 16
    assert (tmp_path / "images_val.txt.sha256").read_text().startswith(sha)


@pytest.mark.parametrize("seed", range(5))
def test_rle_string_conversion_matches_pycocotools(seed):
    rng = np.random.default_rng(seed)
    mask = np.asfortranarray((rng.random((37, 53)) > 0.6).astype(np.uint8))
    rle = coco_mask.encode(mask)
    runs = rle_counts_from_string(rle["counts"].decode())
    assert sum(runs) == 37 * 53
    again = coco_mask.frPyObjects({"size": [37, 53], "counts": runs}, 37, 53)
    assert np.array_equal(coco_mask.decode(again), mask)
    assert rle_counts_to_string(runs) == rle["counts"].decode()


def test_a_truncated_or_foreign_rle_string_is_refused():
    with pytest.raises(ValueError, match="middle of a run"):
        rle_counts_from_string("1o")  # 'o' says more groups follow
    with pytest.raises(ValueError, match="not a compressed"):
        rle_counts_from_string("ab\x01")


def test_released_files_text_is_reproduced_number_for_number(tmp_path):
    """Every entry of two released files is written with the same text as Python's json
    module gives (the form the released files were made with)."""
    import json as stdlib_json
    from pathlib import Path

    fixtures = Path(__file__).parents[2] / "fixtures" / "coco_samples"
    data = stdlib_json.loads((fixtures / "instances_val2014_100.json").read_text())
    out = tmp_path / "again.json"
    write_coco(out, info=data["info"], licenses=data["licenses"], images=data["images"],
               annotations=data["annotations"], categories=data["categories"])  # fmt: skip
    compact = stdlib_json.dumps(
        {k: data[k] for k in ("info", "licenses", "images", "annotations", "categories")},
        separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    assert out.read_text() == compact


def test_null_values_are_still_written(tmp_path):
    out = tmp_path / "n.json"
    write_coco(out, info={"url": None}, licenses=[], images=[{"id": 1, "x": None}],
               annotations=[], categories=[])  # fmt: skip
    assert json.loads(out.read_text())["images"] == [{"id": 1, "x": None}]
