"""dataset_stats writes Fig. 2.5's JSON and PNGs for a project."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

SAMPLE = Path(__file__).parents[3] / "fixtures" / "coco_samples" / "instances_val2014_100.json"


@pytest.mark.django_db
def test_writes_json_and_charts(tmp_path, capsys):
    call_command("import_coco", str(SAMPLE), "--project", "val2014")
    call_command("dataset_stats", "--project", "val2014", "--out", str(tmp_path))
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["images"] == 100 and stats["instances"] == 839
    assert len(list(tmp_path.glob("*.png"))) == 4
    assert "8.39 instances per image" in capsys.readouterr().out


@pytest.mark.django_db
def test_bad_split_is_refused(coco_project, tmp_path):
    with pytest.raises(CommandError, match="split must be"):
        call_command("dataset_stats", "--project", coco_project.slug, "--split", "x",
                     "--out", str(tmp_path))  # fmt: skip
