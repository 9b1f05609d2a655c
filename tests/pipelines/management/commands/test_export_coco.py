"""export_coco: the command a researcher runs to leave the platform with COCO JSON."""

import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pycocotools.coco import COCO

SAMPLE = Path(__file__).parents[3] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.fixture
def imported(db):  # type: ignore[no-untyped-def]
    call_command("import_coco", str(SAMPLE), "--project", "val2014", "--split", "val")


@pytest.mark.django_db
def test_export_of_a_split_writes_file_checksum_and_manifest(imported, tmp_path):
    out = tmp_path / "instances_val.json"
    call_command(
        "export_coco", "--project", "val2014", "--split", "val", "--out", str(out),
        "--no-progress",
    )  # fmt: skip
    coco = COCO(str(out))
    assert len(coco.getImgIds()) == 100 and len(coco.getAnnIds()) == 839
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert (tmp_path / "instances_val.json.sha256").read_text().split()[0] == digest
    manifest = json.loads((tmp_path / "instances_val.json.manifest.json").read_text())
    assert manifest["counts"]["images_per_split"] == {"val": 100}
    assert manifest["split"] == "val" and manifest["software"]["version"]


@pytest.mark.django_db
def test_other_split_is_empty_but_valid(imported, tmp_path):
    out = tmp_path / "instances_train.json"
    call_command("export_coco", "--project", "val2014", "--split", "train", "--out", str(out),
                 "--no-progress")  # fmt: skip
    data = json.loads(out.read_text())
    assert data["images"] == [] and data["annotations"] == [] and len(data["categories"]) == 80


@pytest.mark.django_db
def test_image_lists_and_presence_kinds(imported, tmp_path, capsys):
    call_command(
        "export_coco", "--project", "val2014", "--out-dir", str(tmp_path),
        "--kind", "image-lists", "--kind", "presence", "--no-progress",
    )  # fmt: skip
    listed = (tmp_path / "images_val.txt").read_text().splitlines()
    assert len(listed) == 100 and listed[0].split("\t")[0].isdigit()
    assert (
        json.loads((tmp_path / "category_presence_all.json").read_text())["category_presence"] == []
    )
    assert "2 file(s)" in capsys.readouterr().out


@pytest.mark.django_db
def test_compressed_rle_on_request(imported, tmp_path):
    out = tmp_path / "c.json"
    call_command("export_coco", "--project", "val2014", "--out", str(out), "--rle", "compressed",
                 "--no-progress")  # fmt: skip
    crowds = [a for a in json.loads(out.read_text())["annotations"] if a["iscrowd"]]
    assert len(crowds) == 9 and all(isinstance(a["segmentation"]["counts"], str) for a in crowds)


@pytest.mark.django_db
def test_unknown_project_and_split_are_refused(imported, tmp_path):
    with pytest.raises(CommandError, match="no project 'nope'"):
        call_command("export_coco", "--project", "nope", "--out", str(tmp_path / "x.json"))
    with pytest.raises(CommandError, match="split must be"):
        call_command("export_coco", "--project", "val2014", "--split", "dev",
                     "--out", str(tmp_path / "x.json"))  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_the_command_names_every_file_it_wrote(imported, tmp_path, capsys):
    call_command(
        "export_coco", "--project", "val2014", "--split", "val", "--out-dir", str(tmp_path),
        "--kind", "instances", "--kind", "image-lists", "--no-progress",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'instances_val.json'}" in out
    assert f"wrote {tmp_path / 'images_val.txt'}" in out and "2 file(s)" in out


def photo_in_pipeline(project, name: str, split: str, **task_states):  # type: ignore[no-untyped-def]
    """A stored photo with labeling (and other) tasks in the given states."""
    from annotation.models import Stage, Task
    from annotation.services.images import SourceMetadata, image_ingest
    from tests.conftest import jpeg_bytes

    colour = tuple(int(hashlib.sha256(name.encode()).hexdigest()[i : i + 2], 16) for i in (0, 2, 4))
    meta = SourceMetadata(source="path", source_ref=f"/{name}", file_name=name)
    image = image_ingest(project=project, content=jpeg_bytes(40, 30, colour), meta=meta).image
    assert image is not None
    image.split = split
    image.save(update_fields=["split"])
    for stage, status in task_states.items():
        Task.objects.create(
            project=project, stage=getattr(Stage, stage.upper()), image=image,
            answers_needed=1, status=status,
        )  # fmt: skip
    return image


@pytest.mark.django_db
def test_images_whose_annotation_is_unfinished_are_left_out_and_listed(imported, tmp_path, capsys):
    from annotation.models import Image, Project

    project = Project.objects.get(name="val2014")
    done = photo_in_pipeline(project, "done.jpg", "val", labeling="complete")
    waiting = photo_in_pipeline(project, "waiting.jpg", "val")  # never labeled
    spotting = photo_in_pipeline(project, "spotting.jpg", "val", labeling="complete",
                                 spotting="open")  # fmt: skip
    out = tmp_path / "instances_val.json"
    call_command("export_coco", "--project", "val2014", "--split", "val", "--out", str(out),
                 "--no-progress")  # fmt: skip
    ids = {i.file_name: i.coco_id for i in Image.objects.filter(project=project)}
    exported = {image["file_name"] for image in json.loads(out.read_text())["images"]}
    assert len(exported) == 101 and "done.jpg" in exported
    assert not exported & {"waiting.jpg", "spotting.jpg"}
    manifest = json.loads((tmp_path / "instances_val.json.manifest.json").read_text())
    assert manifest["include_unfinished"] is False
    assert manifest["left_out_unfinished"] == sorted([ids["waiting.jpg"], ids["spotting.jpg"]])
    assert "left out 2 image(s) whose annotation is not finished" in capsys.readouterr().out

    call_command("export_coco", "--project", "val2014", "--split", "val", "--out", str(out),
                 "--include-unfinished", "--no-progress")  # fmt: skip
    assert len(json.loads(out.read_text())["images"]) == 103
    manifest = json.loads((tmp_path / "instances_val.json.manifest.json").read_text())
    assert manifest["include_unfinished"] is True and manifest["left_out_unfinished"] == []
    assert {done.split, waiting.split, spotting.split} == {"val"}


@pytest.mark.django_db
def test_exporting_one_split_writes_only_that_splits_image_list(imported, tmp_path):
    from annotation.models import Project

    project = Project.objects.get(name="val2014")
    photo_in_pipeline(project, "train.jpg", "train", labeling="complete")
    call_command("export_coco", "--project", "val2014", "--split", "val", "--out-dir",
                 str(tmp_path), "--kind", "image-lists", "--no-progress")  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("images_*.txt")) == ["images_val.txt"]
    assert len((tmp_path / "images_val.txt").read_text().splitlines()) == 100
    call_command("export_coco", "--project", "val2014", "--split", "train", "--out-dir",
                 str(tmp_path / "train"), "--kind", "image-lists", "--no-progress")  # fmt: skip
    assert (tmp_path / "train" / "images_train.txt").read_text().endswith("\ttrain.jpg\n")
    assert [p.name for p in (tmp_path / "train").glob("images_*.txt")] == ["images_train.txt"]
