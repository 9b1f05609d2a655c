"""The stage registry hands work to later stages only after the commit, and only to stages
this installation runs."""

import pytest

from annotation.models import Stage, Task
from annotation.models.segmentation import SegmentationProgress
from annotation.stages import hand_on_after_commit
from tests.annotation.stages.test_segmentation import open_task, spot_pair


@pytest.mark.django_db
def test_a_registered_later_stage_is_queued_after_the_commit(
    coco_project, make_worker, django_capture_on_commit_callbacks
):
    image, category = spot_pair(
        coco_project, [[(50, 50)]], make_worker, django_capture_on_commit_callbacks
    )
    # Undo what spotting's own hand-off posted, so the pair waits for segmentation again.
    Task.objects.filter(stage=Stage.SEGMENTATION).delete()
    SegmentationProgress.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hand_on_after_commit(
            Stage.SEGMENTATION, "post_segmentation_tasks", project_id=coco_project.id
        )
    assert len(callbacks) == 1
    assert open_task(image, category) is None, "nothing runs before the commit"
    callbacks[0]()  # the commit: eager Celery posts the segmentation task of the spotted pair
    assert open_task(image, category) is not None


@pytest.mark.django_db
def test_a_stage_this_installation_does_not_run_gets_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hand_on_after_commit("dreaming", "anything", project=1)
    assert callbacks == []
