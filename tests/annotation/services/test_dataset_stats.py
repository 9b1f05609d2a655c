"""Fig. 2.5 statistics of a project, counted from accepted annotations."""

import json
from pathlib import Path

import pytest

from annotation.selectors.coco_export import categories_for_export, export_categories
from annotation.services.annotations import annotation_record
from annotation.services.coco_import import import_coco_file
from annotation.services.dataset_stats import (
    COCO_2014_REFERENCE,
    dataset_stats,
    size_class,
    stats_write,
    taxonomy_is_coco,
)
from annotation.services.images import SourceMetadata, image_ingest
from annotation.services.projects import project_create
from tests.conftest import jpeg_bytes

SAMPLE = Path(__file__).parents[2] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


def test_size_classes_follow_cocos_thresholds():
    assert size_class(32**2 - 0.01) == "small"
    assert size_class(32**2) == "medium"
    assert size_class(96**2 - 0.01) == "medium"
    assert size_class(96**2) == "large"


def add(project, image, name, area, crowd=False):  # type: ignore[no-untyped-def]
    side = area**0.5
    annotation_record(
        project=project, image=image, category=project.taxonomy.categories.get(name=name),
        segmentation=[[0.0, 0.0, side, 0.0, side, side, 0.0, side]], area=area,
        bbox_xywh=[0.0, 0.0, side, side], origin="segmentation", iscrowd=crowd,
    )  # fmt: skip


@pytest.mark.django_db
def test_counts_per_category_and_per_image_include_empty_images():
    project = project_create(name="pets", categories=[{"name": "cat"}, {"name": "dog"}])
    images = []
    for number in range(3):
        meta = SourceMetadata(source="path", source_ref=f"/{number}.jpg", file_name=f"{number}.jpg")
        color = (number * 40, 10, 10)
        images.append(
            image_ingest(project=project, content=jpeg_bytes(100, 100, color), meta=meta).image
        )
    add(project, images[0], "cat", 100.0)
    add(project, images[0], "cat", 2000.0)
    add(project, images[0], "dog", 9216.0)
    add(project, images[1], "dog", 50.0)
    stats = dataset_stats(project=project)
    assert stats.images == 3 and stats.instances == 4
    assert [(c["name"], c["instances"]) for c in stats.instances_per_category] == [
        ("cat", 2),
        ("dog", 2),
    ]
    assert stats.instances_per_image == {"0": 1, "1": 1, "2": 0, "3": 1}
    assert stats.categories_per_image == {"0": 1, "1": 1, "2": 1}
    assert stats.instances_per_image_mean == pytest.approx(4 / 3)
    assert stats.categories_per_image_mean == pytest.approx(1.0)
    assert stats.images_with_one_category_share == pytest.approx(1 / 3)
    assert stats.size_counts == {"small": 2, "medium": 1, "large": 1}
    # sqrt(9216 / 10000) = 96% of the image size: the last bin.
    assert stats.size_histogram_percent["95-100%"] == 1
    assert stats.coco_2014 is None and not taxonomy_is_coco(project)


@pytest.mark.django_db
def test_coco_taxonomy_gets_the_theses_figures_beside_and_files_are_written(tmp_path):
    summary = import_coco_file(path=SAMPLE, project_name="val2014", split="val")
    stats = dataset_stats(project=summary.project, split="val")
    sample = json.loads(SAMPLE.read_text())
    assert stats.instances == len(sample["annotations"]) and stats.images == 100
    assert stats.crowd == 9
    assert stats.coco_2014 == COCO_2014_REFERENCE
    assert stats.coco_2014["instances_per_image_mean"]["value"] == 7.7
    small = sum(1 for a in sample["annotations"] if a["area"] < 32**2)
    assert stats.size_counts["small"] == small
    written = stats_write(stats, tmp_path)
    assert {p.name for p in written} == {
        "stats.json", "instances_per_category.png", "categories_per_image.png",
        "instances_per_image.png", "instance_sizes.png",
    }  # fmt: skip
    assert all(p.stat().st_size > 0 for p in written)
    assert (tmp_path / "instances_per_image.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "stats.json").read_text())["instances"] == 839


@pytest.mark.django_db
def test_the_categories_listed_are_the_exports(coco_project):
    street_sign = coco_project.taxonomy.categories.get(in_coco_2014=False, coco_id=12)
    meta = SourceMetadata(source="path", source_ref="/t.jpg", file_name="t.jpg")
    image = image_ingest(project=coco_project, content=jpeg_bytes(100, 100), meta=meta).image
    image.split = "train"
    image.save()
    add(coco_project, image, street_sign.name, 100.0)

    def listed(split):  # type: ignore[no-untyped-def]
        return [
            c["id"] for c in dataset_stats(project=coco_project, split=split).instances_per_category
        ]

    exported = [c["id"] for c in categories_for_export(project=coco_project)]
    assert len(exported) == 81 and 12 in exported
    assert listed(None) == listed("train") == exported
    # A category outside the 2014 release is listed where it has annotations, not elsewhere.
    assert listed("val") == [i for i in exported if i != 12]
    assert [c.coco_id for c in export_categories(project=coco_project, split="val")] == listed(
        "val"
    )
