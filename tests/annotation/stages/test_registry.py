"""The stage registry answers for the stages this installation runs, and a stage's rules can
be swapped for a block (tests) and restored."""

import pytest

from annotation import stages
from annotation.errors import StageNotAvailable
from annotation.models import Stage


def test_every_pipeline_stage_is_registered_with_its_tool():
    """Each stage of PIPELINE.md registers its rules when Django starts."""
    for stage in Stage.values:
        rules = stages.rules_for(stage)
        assert rules.stage == stage and rules.tool_url_name


def test_an_unknown_stage_is_refused_with_its_name():
    with pytest.raises(StageNotAvailable):
        stages.rules_for("dreaming")
    assert not stages.is_registered("dreaming")


def test_rules_registered_for_a_block_are_restored_after_it():
    before = stages.rules_for(Stage.CROWD)
    replacement = stages.StageRules(stage=Stage.CROWD, validate_answer=lambda task, answer: {})
    with stages.registered(replacement):
        assert stages.rules_for(Stage.CROWD) is replacement
    assert stages.rules_for(Stage.CROWD) is before
