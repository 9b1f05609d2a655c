"""Defect 1 of the crowd simulator: an object whose outlines keep failing verification went
back to the segmentation pool without end. Now, after `segmentation_max_rejected_outlines`
rejected outlines, it is set aside and the pipeline dashboard tells the admin."""

from __future__ import annotations

import pytest

from annotation.models import Stage, Task, WorkerProfile
from annotation.models.segmentation import Segmentation
from annotation.models.verification import VerificationDecision
from annotation.services import task_engine
from annotation.stages.verification import verification_post_grids
from tests.annotation.stages.test_verification import (
    add_gold,
    answer_grid,
    gold_cells,
    make_mask,
    mask_cell,
    square,
)
from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_an_object_rejected_cap_times_is_set_aside_and_the_dashboard_says_so(
    coco_project, make_worker, client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    coco_project.stage_settings = {
        "verification_grid_size": 8,
        "segmentation_max_rejected_outlines": 3,
    }
    coco_project.save()
    expert = make_worker(WorkerProfile.Role.EXPERT)  # segments without training
    add_gold(coco_project, expert)
    voters = [make_worker() for _ in range(3)]
    mask = make_mask(coco_project, make_worker())
    instance = mask.instance
    for rejection in range(1, 4):
        (grid,) = verification_post_grids(project=coco_project, allow_partial=True)
        for voter in voters:
            answer_grid(voter, [*gold_cells(grid), mask_cell(grid, mask)], capture)
        mask.refresh_from_db()
        assert mask.status == Segmentation.Status.REJECTED
        decision = VerificationDecision.objects.get(segmentation=mask)
        open_task = Task.objects.filter(
            stage=Stage.SEGMENTATION, instance=instance, status=Task.Status.OPEN
        ).first()
        if rejection < 3:
            # Back in the pool: the expert outlines it again (as poorly, say).
            assert decision.requeued_task == open_task is not None
            lease = task_engine.task_next_for_worker(worker=expert, stage=Stage.SEGMENTATION)
            assert lease is not None and lease.task_id == open_task.id
            with capture(execute=True):
                task_engine.assignment_submit(
                    assignment_id=lease.id, worker=expert, key=f"s-{lease.id}",
                    answer={"polygons": square(20, 20), "vertices": 4, "edits": 0},
                )  # fmt: skip
            mask = Segmentation.objects.get(task=open_task)
        else:
            assert open_task is None and decision.requeued_task is None
            assert "set aside for the admin after 3 rejected outlines" in decision.reason

    assert Segmentation.objects.filter(instance=instance).count() == 3
    admin = make_worker(WorkerProfile.Role.ADMIN, "boss")
    client.login(username=admin.username, password=PASSWORD)
    html = client.get(f"/manage/projects/{coco_project.id}/dashboard/").content.decode()
    assert 'data-kind="set_aside"' in html
    assert "1 object was set aside after 3 rejected outlines each" in html
    assert "/admin/annotation/verificationdecision/" in html
