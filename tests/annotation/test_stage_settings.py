"""Stage settings are declared once and every read goes through the declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotation.models.projects import project_setting
from annotation.services import qualification, worker_quality
from annotation.stage_settings import (
    DECLARATIONS,
    PRESETS,
    SettingInvalid,
    preset_values,
    setting_check,
    settings_check,
    stored_settings_problems,
)
from annotation.stages import collection, labeling, segmentation, spotting, verification

ROOT = Path(__file__).resolve().parents[2]
READ = re.compile(r"""(?:project_setting\(\s*[\w.]+,\s*|setting\(\s*project,\s*)["'](\w+)["']""")


def test_every_setting_the_code_reads_is_declared():
    """A key read anywhere in the app (project_setting or collection's `setting`) has a
    declaration, so the settings form, the API and the dashboard know it."""
    read = set()
    for folder in ("annotation", "pipelines", "frontend"):
        for path in (ROOT / folder).rglob("*.py"):
            read |= set(READ.findall(path.read_text(encoding="utf-8")))
    assert read, "the scan found the reads"
    assert sorted(read - set(DECLARATIONS)) == []


def test_the_stages_constants_are_the_declared_defaults():
    pairs = {
        "labeling_answers_per_image": labeling.ANSWERS_PER_IMAGE,
        "spotting_answers_per_task": spotting.SPOTTING_ANSWERS_PER_TASK,
        "spotting_max_spots": spotting.SPOTTING_MAX_SPOTS,
        "segmentation_max_instances": segmentation.MAX_INSTANCES,
        "segmentation_qualification_iou": qualification.QUALIFICATION_IOU,
        "labeling_quality_min_jobs": worker_quality.MIN_JOBS_TO_JUDGE,
        "verification_grid_size": verification.GRID_SIZE,
        "verification_gold_per_grid": verification.GOLD_PER_GRID,
        "verification_min_gold_caught": verification.MIN_GOLD_CAUGHT,
        "verification_first_votes": verification.FIRST_VOTES,
        "verification_total_votes": verification.TOTAL_VOTES,
        "verification_min_good": verification.MIN_GOOD_OF_TOTAL,
        "verification_block_min_decided": verification.BLOCK_MIN_DECIDED,
        "verification_block_reject_rate": verification.BLOCK_REJECT_RATE,
    }
    assert {k: DECLARATIONS[k].default for k in pairs} == pairs
    # Collection keeps its own table of defaults (wherever the package puts it).
    for key, value in (getattr(collection, "DEFAULTS", None) or {}).items():
        assert DECLARATIONS[key].default == value, key


def test_every_declaration_explains_itself():
    for d in DECLARATIONS.values():
        assert d.meaning and d.stage and d.kind in {"int", "float", "str", "float_or_none"}, d.key
        if d.default is not None and d.kind != "str":
            assert setting_check(d.key, d.default) == d.default, d.key


def test_a_typo_is_refused_with_the_name_it_meant():
    with pytest.raises(SettingInvalid) as refused:
        setting_check("segmentation_max_instancez", 3)
    assert "did you mean 'segmentation_max_instances'" in refused.value.reason


@pytest.mark.parametrize("value", ["abc", "64", True, 6.5, None, [64]])
def test_a_wrong_type_is_refused(value):
    with pytest.raises(SettingInvalid, match="whole number"):
        setting_check("verification_grid_size", value)


def test_values_out_of_range_and_inconsistent_pairs_are_refused():
    _clean, errors = settings_check({"verification_grid_size": 4, "verification_gold_per_grid": 4})
    assert "cannot hold 4 gold" in errors["verification_gold_per_grid"]
    _clean, errors = settings_check({"segmentation_qualification_iou": 1.5})
    assert errors == {"segmentation_qualification_iou": "must be at most 1, not 1.5"}


@pytest.mark.parametrize("slug", list(PRESETS))
def test_every_preset_is_valid(slug):
    assert settings_check(preset_values(slug))[1] == {}


def test_coco_as_published_is_the_thesis_numbers():
    values = preset_values("coco")
    assert values["labeling_answers_per_image"] == 8
    assert values["verification_grid_size"] == 64 and values["verification_gold_per_grid"] == 4


@pytest.mark.django_db
def test_a_stored_bad_value_reads_as_the_default_and_is_reported(coco_project):
    """Saved around the checks (an old row, a raw SQL edit): no ValueError later."""
    coco_project.stage_settings = {"verification_grid_size": "abc", "spotting_max_spotz": 3}
    coco_project.save()
    assert project_setting(coco_project, "verification_grid_size") == 64
    assert verification.verification_post_grids(project=coco_project) == []
    problems = dict(stored_settings_problems(coco_project.stage_settings))
    assert "whole number" in problems["verification_grid_size"]
    assert "did you mean 'spotting_max_spots'" in problems["spotting_max_spotz"]
