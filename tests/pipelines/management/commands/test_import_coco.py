"""import_coco: loads a COCO file into a new or existing project, or refuses it whole."""

import copy
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Annotation, Image, Project, ReferenceMask

SAMPLE = Path(__file__).parents[3] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.mark.django_db
def test_import_creates_the_project_with_the_files_categories(capsys):
    call_command("import_coco", str(SAMPLE), "--project", "val2014", "--split", "val")
    project = Project.objects.get(name="val2014")
    assert project.taxonomy.categories.count() == 80
    assert project.taxonomy.categories.get(coco_id=90).name == "toothbrush"
    assert Image.objects.filter(project=project, split="val").count() == 100
    assert Annotation.objects.filter(project=project).count() == 839
    assert "(created): 100 image(s), 839 annotation(s), 8 licence(s)" in capsys.readouterr().out


@pytest.mark.django_db
def test_import_into_the_coco_template_project_maps_official_ids(coco_project):
    call_command("import_coco", str(SAMPLE), "--project", coco_project.slug)
    person = Annotation.objects.filter(project=coco_project, category__coco_id=1)
    assert person.count() == sum(
        1 for a in json.loads(SAMPLE.read_text())["annotations"] if a["category_id"] == 1
    )


@pytest.mark.django_db
def test_a_bad_file_is_refused_naming_the_entry_and_nothing_is_stored(tmp_path):
    data = json.loads(SAMPLE.read_text())
    bad = copy.deepcopy(data)
    bad["annotations"][3]["segmentation"] = [[1.0, 2.0, 3.0]]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(CommandError, match=r"annotations\[3\] \(id \d+\): polygon 0 has an odd"):
        call_command("import_coco", str(path), "--project", "bad")
    assert not Project.objects.exists() and not Image.objects.exists()


@pytest.mark.django_db
def test_not_json_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_coco", str(path), "--project", "x")


@pytest.mark.django_db
def test_as_reference_needs_an_author_and_loads_reference_masks(make_worker):
    with pytest.raises(CommandError, match="--author"):
        call_command("import_coco", str(SAMPLE), "--project", "ref", "--as-reference")
    expert = make_worker("expert", "eve")
    call_command(
        "import_coco", str(SAMPLE), "--project", "ref", "--as-reference", "--author", "eve"
    )
    assert ReferenceMask.objects.filter(author=expert).count() == 830
