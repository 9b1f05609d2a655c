"""A malformed COCO file is refused with every offending entry named."""

import copy
import json
from pathlib import Path

import pytest

from pipelines.coco.import_checks import CocoInvalid, check_coco, coco_problems

SAMPLE = Path(__file__).parents[2] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.fixture(scope="module")
def sample() -> dict:
    return json.loads(SAMPLE.read_text())


def problems_of(data):  # type: ignore[no-untyped-def]
    return coco_problems(data)[0]


def test_the_released_sample_is_valid(sample):
    assert coco_problems(sample) == ([], 0)
    check_coco(sample)  # raises CocoInvalid on any problem


def test_unknown_category_is_named_with_index_and_id(sample):
    data = copy.deepcopy(sample)
    data["annotations"][17]["category_id"] = 99
    bad_id = data["annotations"][17]["id"]
    assert problems_of(data) == [
        f"annotations[17] (id {bad_id}): category_id 99 is not in categories"
    ]


def test_unknown_image_missing_keys_and_duplicate_ids(sample):
    data = copy.deepcopy(sample)
    data["annotations"][0]["image_id"] = 5
    del data["annotations"][1]["bbox"]
    data["annotations"][2]["id"] = data["annotations"][3]["id"]
    data["images"][4]["id"] = data["images"][5]["id"]
    found = "\n".join(problems_of(data))
    assert "annotations[0]" in found and "image_id 5 is not in images" in found
    assert "annotations[1]" in found and "missing key(s) bbox" in found
    assert f"annotations[3] (id {data['annotations'][3]['id']}): id" in found
    assert "images[5]" in found and "used twice in images" in found


def test_bad_polygons(sample):
    data = copy.deepcopy(sample)
    polygon_indices = [i for i, a in enumerate(data["annotations"]) if not a["iscrowd"]][:3]
    data["annotations"][polygon_indices[0]]["segmentation"] = [[1, 2, 3, 4, 5, 6, 7]]
    data["annotations"][polygon_indices[1]]["segmentation"] = [[1, 2, 3, 4]]
    data["annotations"][polygon_indices[2]]["segmentation"] = []
    found = problems_of(data)
    assert len(found) == 3
    assert "odd count of coordinates (7)" in found[0]
    assert "at least 6" in found[1]
    assert "empty list" in found[2]


def test_rle_size_must_agree_with_the_image(sample):
    data = copy.deepcopy(sample)
    index = next(i for i, a in enumerate(data["annotations"]) if a["iscrowd"])
    data["annotations"][index]["segmentation"]["size"] = [10, 10]
    found = problems_of(data)
    assert any(f"annotations[{index}]" in p and "disagrees with image" in p for p in found)


def test_rle_runs_must_cover_the_mask():
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 2}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 3,
                         "bbox": [0, 0, 1, 1], "segmentation": {"size": [2, 4], "counts": [3, 2]}}],
    }  # fmt: skip
    assert "cover 5 pixels" in problems_of(data)[0]
    data["annotations"][0]["segmentation"]["counts"] = [3, 5]
    assert problems_of(data) == []


def test_missing_sections_and_not_an_object():
    assert problems_of([]) == [
        "the file must hold a JSON object with images, annotations, categories"
    ]
    assert problems_of({"images": []}) == ["the file has no annotations, categories"]


def test_many_problems_are_capped_but_counted(sample):
    data = copy.deepcopy(sample)
    for annotation in data["annotations"]:
        annotation["category_id"] = 1000
    shown, total = coco_problems(data, limit=5)
    assert len(shown) == 5 and total == 839
    with pytest.raises(CocoInvalid, match="and 834 more"):
        check_coco(data, limit=5)
