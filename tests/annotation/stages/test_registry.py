"""The stage registry hands work to later stages only after the commit, and only to stages
this installation runs."""

import pytest

from annotation.models import Stage
from annotation.stages import hand_on_after_commit


@pytest.mark.django_db
def test_a_registered_later_stage_is_queued_after_the_commit(
    coco_project, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hand_on_after_commit(
            Stage.SEGMENTATION, "post_segmentation_tasks", project_id=coco_project.id
        )
    assert len(callbacks) == 1, "nothing runs before the commit"
    callbacks[0]()  # eager Celery: runs it; no spotting done yet, so nothing to post


@pytest.mark.django_db
def test_a_stage_this_installation_does_not_run_gets_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hand_on_after_commit("dreaming", "anything", project=1)
    assert callbacks == []
