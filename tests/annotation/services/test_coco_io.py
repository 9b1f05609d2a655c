"""COCO import and export of a project: a real COCO file goes in and comes back out equal."""

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from annotation.errors import DomainError
from annotation.models import (
    Annotation,
    CategoryPresence,
    ExportLicense,
    Image,
    Project,
    ReferenceMask,
    Stage,
    Task,
)
from annotation.services import coco_export, coco_import
from annotation.services.annotations import annotation_record
from annotation.services.coco_entries import rle_for_export
from annotation.services.coco_export import (
    EXPORT_KINDS,
    ExportRun,
    export_run,
    image_ids_assign,
    image_lists_export,
    instances_export,
    presence_export,
)
from annotation.services.coco_import import import_coco_file
from annotation.services.images import SourceMetadata, image_ingest, image_storage_name
from tests.conftest import jpeg_bytes

SAMPLE = Path(__file__).parents[2] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.fixture(scope="module")
def sample() -> dict:
    return json.loads(SAMPLE.read_text())


def decoded(annotation: dict, height: int, width: int) -> np.ndarray:
    segmentation = annotation["segmentation"]
    if isinstance(segmentation, list):
        rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = coco_mask.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return coco_mask.decode(rle)


@pytest.mark.django_db
def test_round_trip_of_a_real_coco_file_keeps_ids_masks_area_and_bbox(sample, tmp_path):
    """Importing COCO val2014 (100 images, 830 polygons, 9 uncompressed crowd RLEs) and
    exporting it gives the same images, categories and annotations."""
    summary = import_coco_file(path=SAMPLE, project_name="val2014 sample", split="val")
    assert summary.created_project and summary.images == 100 and summary.annotations == 839
    assert Annotation.objects.filter(project=summary.project, origin="import").count() == 839

    out = tmp_path / "instances_val.json"
    result = instances_export(project=summary.project, split="val", out=out)
    exported = json.loads(out.read_text())

    original_annotations = {a["id"]: a for a in sample["annotations"]}
    exported_annotations = {a["id"]: a for a in exported["annotations"]}
    assert exported_annotations.keys() == original_annotations.keys()
    sizes = {i["id"]: (i["height"], i["width"]) for i in sample["images"]}
    for annotation_id, original in original_annotations.items():
        again = exported_annotations[annotation_id]
        for key in ("image_id", "category_id", "iscrowd", "area", "bbox"):
            assert again[key] == original[key], (annotation_id, key)
        height, width = sizes[original["image_id"]]
        assert np.array_equal(decoded(again, height, width), decoded(original, height, width))
    # Crowd regions come back in the released form: uncompressed counts, exactly as given.
    crowds = [a for a in exported["annotations"] if a["iscrowd"]]
    assert len(crowds) == 9
    assert all(a["segmentation"] == original_annotations[a["id"]]["segmentation"] for a in crowds)

    assert exported["categories"] == sorted(sample["categories"], key=lambda c: c["id"])
    assert exported["licenses"] == sorted(sample["licenses"], key=lambda lic: lic["id"])
    original_images = {i["id"]: i for i in sample["images"]}
    for image in exported["images"]:
        original = original_images[image["id"]]
        for key in ("file_name", "height", "width", "license", "date_captured", "flickr_url"):
            assert image[key] == original[key], (image["id"], key)
    assert len(exported["images"]) == 100
    assert result.counts["annotations"] == 839 and result.counts["crowd"] == 9


@pytest.mark.django_db
def test_pycocotools_loads_the_export_and_ann_to_mask_agrees_with_the_stored_masks(tmp_path):
    summary = import_coco_file(path=SAMPLE, project_name="sample")
    out = tmp_path / "instances.json"
    instances_export(project=summary.project, split=None, out=out)
    coco = COCO(str(out))
    assert len(coco.getAnnIds()) == 839
    for stored in Annotation.objects.filter(project=summary.project).select_related("image"):
        mask = coco.annToMask(coco.anns[stored.coco_id])
        expected = decoded(
            {"segmentation": stored.segmentation}, stored.image.height, stored.image.width
        )
        assert np.array_equal(mask, expected), stored.coco_id


@pytest.mark.django_db
def test_re_exports_are_identical_and_new_images_get_new_stable_ids(tmp_path, coco_project):
    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    first = image_ingest(project=coco_project, content=jpeg_bytes(40, 30), meta=meta).image
    person = coco_project.taxonomy.categories.get(coco_id=1)
    annotation_record(
        project=coco_project, image=first, category=person,
        segmentation=[[1.0, 1.0, 9.5, 1.0, 9.5, 9.0]], area=31.875,
        bbox_xywh=[1.0, 1.0, 8.5, 8.0], origin="segmentation",
    )  # fmt: skip
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    instances_export(project=coco_project, split=None, out=one, include_unfinished=True)
    meta_b = SourceMetadata(source="path", source_ref="/b.jpg", file_name="b.jpg")
    image_ingest(project=coco_project, content=jpeg_bytes(40, 30, "blue"), meta=meta_b)
    instances_export(project=coco_project, split=None, out=two, include_unfinished=True)
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert [i["id"] for i in a["images"]] == [1]
    assert [i["id"] for i in b["images"]] == [1, 2]
    assert a["annotations"] == b["annotations"]
    # Official COCO ids with gaps; the 2014 release's 80 categories.
    assert len(b["categories"]) == 80 and b["categories"][-1]["id"] == 90
    assert image_ids_assign(project=coco_project) == 0


@pytest.mark.django_db
def test_an_exported_image_id_is_never_given_again_after_a_deletion(coco_project):
    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    first = image_ingest(project=coco_project, content=jpeg_bytes(40, 30), meta=meta).image
    image_ids_assign(project=coco_project)
    first.refresh_from_db()
    assert first.coco_id == 1
    first.delete()
    meta_b = SourceMetadata(source="path", source_ref="/b.jpg", file_name="b.jpg")
    second = image_ingest(
        project=coco_project, content=jpeg_bytes(40, 30, "blue"), meta=meta_b
    ).image
    image_ids_assign(project=coco_project)
    second.refresh_from_db()
    assert second.coco_id == 2


@pytest.mark.django_db
def test_painted_crowd_region_is_written_as_released_uncompressed_rle_with_int_area(
    tmp_path, coco_project
):
    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    image = image_ingest(project=coco_project, content=jpeg_bytes(20, 10), meta=meta).image
    mask = np.zeros((10, 20), dtype=np.uint8, order="F")
    mask[2:5, 3:9] = 1
    rle = coco_mask.encode(mask)
    annotation_record(
        project=coco_project, image=image, category=coco_project.taxonomy.categories.get(coco_id=1),
        segmentation={"size": [10, 20], "counts": rle["counts"].decode()}, area=18.0,
        bbox_xywh=[3.0, 2.0, 6.0, 3.0], origin="crowd", iscrowd=True,
    )  # fmt: skip
    out = tmp_path / "i.json"
    instances_export(project=coco_project, split=None, out=out, include_unfinished=True)
    text = out.read_text()
    (written,) = json.loads(text)["annotations"]
    assert written["iscrowd"] == 1 and isinstance(written["segmentation"]["counts"], list)
    assert written["area"] == 18 and isinstance(written["area"], int)
    assert written["bbox"] == [3, 2, 6, 3] and '"area":18,' in text
    assert np.array_equal(COCO(str(out)).annToMask(written), mask)


@pytest.mark.django_db
def test_a_partly_bad_file_imports_nothing_and_names_the_entry(sample):
    data = copy.deepcopy(sample)
    data["annotations"][17]["category_id"] = 99
    bad_id = data["annotations"][17]["id"]
    with pytest.raises(DomainError, match=rf"annotations\[17\] \(id {bad_id}\): category_id 99"):
        import_coco_file(data=data, project_name="bad")
    assert not Project.objects.filter(name="bad").exists()
    assert not Image.objects.exists() and not Annotation.objects.exists()


@pytest.mark.django_db
def test_import_into_an_existing_project_refuses_ids_already_there(sample):
    small = copy.deepcopy(sample)
    small["images"] = small["images"][:3]
    ids = {i["id"] for i in small["images"]}
    small["annotations"] = [a for a in small["annotations"] if a["image_id"] in ids]
    import_coco_file(data=small, project_name="twice")
    with pytest.raises(DomainError, match="already has an image with id"):
        import_coco_file(data=small, project_name="twice")
    assert Image.objects.count() == 3
    assert ExportLicense.objects.count() == len(sample["licenses"])


@pytest.mark.django_db
def test_import_with_photos_checks_their_sizes(tmp_path, sample):
    data = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 40, "height": 30}],
        "annotations": [],
        "categories": [{"id": 3, "name": "car", "supercategory": "vehicle"}],
    }
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    summary = import_coco_file(data=data, project_name="photos", images_dir=tmp_path)
    image = Image.objects.get(project=summary.project)
    assert image.coco_id == 7 and image.file.name
    data["images"][0].update(id=8, width=41)
    with pytest.raises(DomainError, match=r"images\[0\] \(id 8\): the photo is 40x30"):
        import_coco_file(data=data, project_name="photos", images_dir=tmp_path)
    data["images"][0].update(file_name="missing.jpg")
    with pytest.raises(DomainError, match=r"no photo 'missing\.jpg'"):
        import_coco_file(data=data, project_name="photos", images_dir=tmp_path)


@pytest.mark.django_db
def test_as_reference_loads_polygons_as_expert_masks_and_skips_crowds(sample, admin_user):
    summary = import_coco_file(
        path=SAMPLE, project_name="references", as_reference=True, author=admin_user
    )
    assert summary.references == 830 and summary.skipped_crowd == 9
    assert not Annotation.objects.exists()
    reference = ReferenceMask.objects.filter(image__project=summary.project).first()
    from annotation.geometry import covers_point

    assert covers_point(reference.polygons, reference.spot_x, reference.spot_y)


@pytest.mark.django_db
def test_presence_labels_and_image_lists(tmp_path, coco_project, annotator):
    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    image = image_ingest(project=coco_project, content=jpeg_bytes(20, 10), meta=meta).image
    image.split = "train"
    image.save()
    task = Task.objects.create(
        project=coco_project, stage=Stage.LABELING, image=image, answers_needed=1
    )
    dog = coco_project.taxonomy.categories.get(name="dog")
    CategoryPresence.objects.create(
        image=image, category=dog, labeling_task=task,
        positions=[{"worker": annotator.id, "x": 3.0, "y": 4.5}],
    )  # fmt: skip
    out = tmp_path / "presence.json"
    presence_export(project=coco_project, split=None, out=out, include_unfinished=True)
    labels = json.loads(out.read_text())["category_presence"]
    assert labels == [{"image_id": 1, "category_id": dog.coco_id, "workers": 1,
                       "positions": [[3.0, 4.5]]}]  # fmt: skip
    (listed,) = image_lists_export(project=coco_project, out_dir=tmp_path, include_unfinished=True)
    assert listed.name == "images_train.txt" and listed.read_text() == "1\ta.jpg\n"


@pytest.mark.django_db
def test_export_run_gives_ids_once_and_returns_files_and_results(
    tmp_path, coco_project, monkeypatch
):
    meta = SourceMetadata(source="path", source_ref="/a.jpg", file_name="a.jpg")
    image_ingest(project=coco_project, content=jpeg_bytes(20, 10), meta=meta)
    calls = []
    monkeypatch.setattr(
        coco_export, "image_ids_assign", lambda **kw: calls.append(kw) or image_ids_assign(**kw)
    )
    run = export_run(
        project=coco_project, split=None, kinds=list(EXPORT_KINDS), out_dir=tmp_path,
        include_unfinished=True,
    )  # fmt: skip
    assert len(calls) == 1
    assert isinstance(run, ExportRun)
    assert [path.name for path in run.files] == [
        "instances_all.json", "category_presence_all.json", "images_unassigned.txt",
    ]  # fmt: skip
    assert [result.path for result in run.results] == run.files[:2]
    for result in run.results:
        checksum = result.path.with_name(result.path.name + ".sha256").read_text().split()[0]
        assert result.sha256 == checksum == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert json.loads(run.files[0].read_text())["images"][0]["id"] == 1


def test_imported_rle_is_stored_as_rle_for_export_compresses_it(sample):
    crowd = next(a for a in sample["annotations"] if isinstance(a["segmentation"], dict))
    rle = crowd["segmentation"]
    height, width = rle["size"]
    expected = coco_mask.frPyObjects(rle, height, width)["counts"].decode("ascii")
    assert rle_for_export(rle, "compressed") == {"size": [height, width], "counts": expected}
    compressed = {"size": [height, width], "counts": expected}
    assert rle_for_export(compressed, "compressed") == compressed


@pytest.mark.django_db
def test_import_costs_a_fixed_number_of_queries(
    coco_project, admin_user, django_assert_max_num_queries
):
    # Row by row this was 4,647 queries (new project), 3,177 (existing), 1,176 (references).
    with django_assert_max_num_queries(60):
        summary = import_coco_file(path=SAMPLE, project_name="fresh")
    assert (summary.images, summary.annotations) == (100, 839)
    with django_assert_max_num_queries(55):
        summary = import_coco_file(path=SAMPLE, project_name=coco_project.name)
    assert (summary.images, summary.annotations) == (100, 839)
    with django_assert_max_num_queries(55):
        summary = import_coco_file(
            path=SAMPLE, project_name="references", as_reference=True, author=admin_user
        )
    assert summary.references == ReferenceMask.objects.count() == 830


def two_photos() -> dict:
    return {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 40, "height": 30},
                   {"id": 8, "file_name": "b.jpg", "width": 40, "height": 30},
                   {"id": 9, "file_name": "c.jpg", "width": 40, "height": 30}],
        "annotations": [],
        "categories": [{"id": 3, "name": "car", "supercategory": "vehicle"}],
    }  # fmt: skip


@pytest.mark.django_db
def test_a_photo_twice_in_the_file_or_already_stored_is_named_and_nothing_kept(
    tmp_path, coco_project
):
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(40, 30, "blue"))
    (tmp_path / "c.jpg").write_bytes(jpeg_bytes(40, 30))
    with pytest.raises(
        DomainError,
        match=r"\n- images\[2\] \(id 9\): the same photo is already stored in project 'p'$",
    ):
        import_coco_file(data=two_photos(), project_name="p", images_dir=tmp_path)
    assert not Image.objects.exists() and not Project.objects.filter(name="p").exists()
    image_ingest(
        project=coco_project, content=jpeg_bytes(40, 30, "blue"),
        meta=SourceMetadata(source="path", source_ref="/b.jpg", file_name="b.jpg"),
    )  # fmt: skip
    stored = set(Path(settings.MEDIA_ROOT).rglob("*.jpg"))
    data = two_photos()
    data["images"] = data["images"][:2]
    with pytest.raises(DomainError, match=r"\n- images\[1\] \(id 8\): the same photo is already"):
        import_coco_file(data=data, project_name=coco_project.name, images_dir=tmp_path)
    assert Image.objects.count() == 1 and set(Path(settings.MEDIA_ROOT).rglob("*.jpg")) == stored


@pytest.mark.django_db
def test_an_annotation_id_already_in_the_project_is_named_and_nothing_kept(sample, coco_project):
    first = copy.deepcopy(sample)
    first["images"] = first["images"][:2]
    ids = {i["id"] for i in first["images"]}
    first["annotations"] = [a for a in first["annotations"] if a["image_id"] in ids]
    import_coco_file(data=first, project_name=coco_project.name)
    second = copy.deepcopy(sample)
    second["images"] = second["images"][2:4]
    ids = {i["id"] for i in second["images"]}
    second["annotations"] = [a for a in second["annotations"] if a["image_id"] in ids]
    taken = first["annotations"][0]["id"]
    second["annotations"][3]["id"] = taken
    before = (Image.objects.count(), Annotation.objects.count())
    with pytest.raises(DomainError) as refused:
        import_coco_file(data=second, project_name=coco_project.name)
    assert refused.value.reason.endswith(
        f"\n- annotation id {taken}: annotation id {taken} is already used in project "
        f"{coco_project.name!r}"
    )
    assert (Image.objects.count(), Annotation.objects.count()) == before


@pytest.mark.django_db
def test_photos_are_stored_as_checked_and_one_over_the_size_limit_is_refused_by_its_size(
    tmp_path, settings
):
    """Each photo is stored with the checksum of its bytes on disk; a photo larger than
    MAX_IMAGE_BYTES is refused with its size and the limit, and nothing of the file is kept."""
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(40, 30, "blue"))
    data = two_photos()
    data["images"] = data["images"][:2]
    digest = hashlib.sha256((tmp_path / "a.jpg").read_bytes()).hexdigest()
    summary = import_coco_file(data=data, project_name="photos", images_dir=tmp_path)
    image = Image.objects.get(project=summary.project, coco_id=7)
    assert image.checksum_sha256 == digest
    # (The field's upload_to folder comes before it, as for image_ingest's photos; storage
    # adds a tag before the suffix when a name is taken, as on SQLite, which reuses ids.)
    assert image_storage_name(summary.project.id, digest, "") in image.file.name
    assert image.file.read() == (tmp_path / "a.jpg").read_bytes()

    stored = set(Path(settings.MEDIA_ROOT).rglob("*.jpg"))
    size = (tmp_path / "b.jpg").stat().st_size
    settings.MAX_IMAGE_BYTES = size - 1
    data["images"][0].update(id=17, file_name="b.jpg")
    data["images"][1].update(id=18)
    with pytest.raises(DomainError) as refused:
        import_coco_file(data=data, project_name="photos", images_dir=tmp_path)
    assert f"- images[0] (id 17): 'b.jpg': {size} bytes, more than the limit of {size - 1}\n" in (
        refused.value.reason + "\n"
    )
    assert Image.objects.count() == 2
    assert set(Path(settings.MEDIA_ROOT).rglob("*.jpg")) == stored


@pytest.mark.django_db
def test_a_photo_that_changes_after_its_check_is_refused_and_nothing_kept(tmp_path, monkeypatch):
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    data = two_photos()
    data["images"] = data["images"][:1]
    checked = coco_import._file_problems

    def then_changed(*args):  # type: ignore[no-untyped-def]
        result = checked(*args)
        (tmp_path / "a.jpg").write_bytes(jpeg_bytes(40, 30, "blue"))
        return result

    monkeypatch.setattr(coco_import, "_file_problems", then_changed)
    before = set(Path(settings.MEDIA_ROOT).rglob("*.jpg"))
    with pytest.raises(DomainError, match=r"images\[0\] \(id 7\): the photo 'a.jpg' changed"):
        import_coco_file(data=data, project_name="photos", images_dir=tmp_path)
    assert not Image.objects.exists() and set(Path(settings.MEDIA_ROOT).rglob("*.jpg")) == before
