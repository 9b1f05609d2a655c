"""Accepted annotations get stable, unique ids >= 1 per project."""

import pytest

from annotation.errors import DomainError
from annotation.models import Annotation
from annotation.services.annotations import annotation_record
from annotation.services.images import SourceMetadata, image_ingest
from annotation.services.projects import project_create
from tests.conftest import jpeg_bytes

SQUARE = [[10.0, 10.0, 20.0, 10.0, 20.0, 20.0, 10.0, 20.0]]


@pytest.fixture
def image(coco_project):  # type: ignore[no-untyped-def]
    meta = SourceMetadata(source="path", source_ref="/x.jpg", file_name="x.jpg")
    return image_ingest(project=coco_project, content=jpeg_bytes(40, 40), meta=meta).image


def record(project, image, **extra):  # type: ignore[no-untyped-def]
    person = project.taxonomy.categories.get(coco_id=1)
    return annotation_record(
        project=project, image=image, category=person, segmentation=SQUARE,
        area=100.0, bbox_xywh=[10.0, 10.0, 10.0, 10.0], origin="segmentation", **extra,
    )  # fmt: skip


@pytest.mark.django_db
def test_ids_count_up_from_one_and_after_imported_ids(coco_project, image):
    assert record(coco_project, image).coco_id == 1
    assert record(coco_project, image, coco_id=900).coco_id == 900
    assert record(coco_project, image).coco_id == 901


@pytest.mark.django_db
def test_an_id_is_never_used_twice_in_a_project(coco_project, image):
    record(coco_project, image, coco_id=5)
    with pytest.raises(DomainError, match="already used"):
        record(coco_project, image, coco_id=5)
    with pytest.raises(DomainError, match="start at 1"):
        record(coco_project, image, coco_id=0)
    assert Annotation.objects.count() == 1


@pytest.mark.django_db
def test_categories_and_images_of_another_project_are_refused(coco_project, image):
    other = project_create(name="Other", template="coco")
    with pytest.raises(DomainError, match="not in project"):
        record(other, image)


@pytest.mark.django_db
def test_a_discarded_annotations_id_is_not_given_again(coco_project, image):
    record(coco_project, image)
    last = record(coco_project, image)
    last.delete()
    assert record(coco_project, image).coco_id == 3
