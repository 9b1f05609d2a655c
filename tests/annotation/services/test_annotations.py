"""Accepted annotations get stable, unique ids >= 1 per project."""

from dataclasses import replace

import pytest

from annotation.errors import DomainError
from annotation.models import Annotation
from annotation.services.annotations import (
    AnnotationRow,
    AnnotationRowRefused,
    annotation_record,
    annotations_record_bulk,
)
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


def row(project, image, **extra):  # type: ignore[no-untyped-def]
    person = project.taxonomy.categories.get(coco_id=1)
    return AnnotationRow(
        image=image, category=person, segmentation=SQUARE, area=100.0,
        bbox_xywh=[10.0, 10.0, 10.0, 10.0], origin="import", **extra,
    )  # fmt: skip


@pytest.mark.django_db
def test_bulk_gives_the_same_ids_as_one_by_one(coco_project, image):
    record(coco_project, image, coco_id=3)
    rows = [row(coco_project, image), row(coco_project, image, coco_id=900),
            row(coco_project, image), row(coco_project, image, coco_id=2)]  # fmt: skip
    stored = annotations_record_bulk(project=coco_project, rows=rows)
    assert [a.coco_id for a in stored] == [4, 900, 901, 2]
    assert all(a.pk for a in stored)
    coco_project.refresh_from_db()
    assert coco_project.annotation_ids_given == 901
    assert record(coco_project, image).coco_id == 902


@pytest.mark.django_db
def test_bulk_checks_every_row_first_and_names_the_first_refused_one(
    coco_project, image, django_assert_num_queries
):
    record(coco_project, image, coco_id=7)
    other = project_create(name="Other", template="coco")
    elsewhere = image_ingest(
        project=other, content=jpeg_bytes(30, 30),
        meta=SourceMetadata(source="path", source_ref="/y.jpg", file_name="y.jpg"),
    ).image  # fmt: skip
    cases = [
        ([row(coco_project, image, coco_id=8), row(coco_project, image, coco_id=7),
          row(coco_project, image, coco_id=0)], 1,
         f"annotation id 7 is already used in project {coco_project.name!r}"),
        ([row(coco_project, image, coco_id=8), row(coco_project, image, coco_id=0),
          row(coco_project, image, coco_id=7)], 1, "annotation ids start at 1, not 0"),
        ([row(coco_project, image, coco_id=9), row(coco_project, image, coco_id=9)], 1,
         f"annotation id 9 is already used in project {coco_project.name!r}"),
        ([row(coco_project, image), row(coco_project, image, coco_id=9),
          row(coco_project, image, coco_id=8)], 2,
         f"annotation id 8 is already used in project {coco_project.name!r}"),
        ([row(coco_project, image), row(coco_project, elsewhere)], 1,
         f"image {elsewhere.id} is not in project {coco_project.name!r}"),
        ([replace(row(other, elsewhere), image=image)], 0,
         f"category 'person' is not in project {coco_project.name!r}"),
    ]  # fmt: skip
    for rows, index, reason in cases:
        with pytest.raises(AnnotationRowRefused) as refused:
            annotations_record_bulk(project=coco_project, rows=rows)
        assert (refused.value.index, refused.value.reason) == (index, reason)
        assert isinstance(refused.value, DomainError)
    assert Annotation.objects.count() == 1
    coco_project.refresh_from_db()
    assert coco_project.annotation_ids_given == 7
    rows = [row(coco_project, image, coco_id=100 + n) for n in range(50)]
    # The locked project, the ids taken, the counter and one insert (plus a savepoint's two).
    with django_assert_num_queries(6):
        annotations_record_bulk(project=coco_project, rows=rows)
    assert Annotation.objects.count() == 51
