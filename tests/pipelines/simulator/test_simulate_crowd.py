"""The crowd simulator runs the whole pipeline over HTTP and scores the export (issue 12)."""

from __future__ import annotations

import json
import signal
import threading
import time

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from pycocotools import mask as mask_utils

from annotation.models import Annotation, Assignment, Task
from pipelines.simulator.behaviour import Behaviour
from pipelines.simulator.driver import Options, simulate
from pipelines.simulator.groundtruth import read_ground_truth

from .conftest import COCO_TINY, small_ground_truth, start_worker

# Figures that depend on the machine, not on the seed.
TIMING = {
    "wall_seconds", "settle_seconds", "http_seconds", "http_requests", "http_by_endpoint",
    "settles", "project",
}  # fmt: skip
FAST = ["--workers", "8", "--setting", "spotting_answers_per_task=3", "--seed", "7"]


def without_timing(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in TIMING}


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_the_pipeline_and_the_same_seed_gives_the_same_report(
    eager_site, tmp_path
):
    """Two runs with one seed on a GT without supercategory/iscrowd fields end with every
    task done, nothing lost or duplicated, and identical reports (timing aside)."""
    gt = small_ground_truth(tmp_path / "gt.json", images=2, strip=True)
    reports = []
    for run in (1, 2):
        out = tmp_path / f"report{run}.json"
        call_command("simulate_crowd", "--gt", str(gt), "--url", eager_site, "--json", str(out),
                     "--name", f"Sim run {run}", *FAST)  # fmt: skip
        reports.append(json.loads(out.read_text()))
    first, second = reports
    assert without_timing(first) == without_timing(second)
    assert first["open_tasks_left"] == {}
    assert first["lost_answers"] == 0
    assert first["duplicate_tasks"] == 0 and first["duplicate_annotations"] == 0
    assert first["category_recall"] >= 0.75
    assert first["exported_instances"] > 0 and first["median_mask_iou"] > 0.6
    assert first["answers_per_stage"]["labeling"] == 2 * 8  # 8 answers per image
    # The reports are what the database holds: every answer counted once.
    answers = Assignment.objects.filter(
        task__project_id=first["project"], status__in=["submitted", "rejected"]
    ).count()
    assert answers == sum(v for k, v in first["answers_per_stage"].items() if k != "training")
    assert Annotation.objects.filter(project_id=first["project"]).count() == (
        first["exported_instances"] + first["exported_crowd_regions"]
    )


@pytest.mark.django_db(transaction=True)
def test_a_different_seed_gives_different_answers(eager_site, tmp_path):
    gt = small_ground_truth(tmp_path / "gt.json", images=1, strip=False)
    reports = []
    for seed in (1, 2):
        out = tmp_path / f"r{seed}.json"
        call_command("simulate_crowd", "--gt", str(gt), "--url", eager_site, "--json", str(out),
                     "--workers", "8", "--seed", str(seed),
                     "--setting", "spotting_answers_per_task=3")  # fmt: skip
        reports.append(json.loads(out.read_text()))
    assert reports[0]["worker_hours"] != reports[1]["worker_hours"]


@pytest.mark.django_db
def test_a_bad_ground_truth_is_refused_with_the_reason(tmp_path):
    broken = tmp_path / "gt.json"
    broken.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": []}))
    with pytest.raises(CommandError, match="image lacks id, width or height"):
        call_command("simulate_crowd", "--gt", str(broken))
    with pytest.raises(CommandError, match="not JSON"):
        broken.write_text("{")
        call_command("simulate_crowd", "--gt", str(broken))
    assert not Task.objects.exists()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_hand_offs_through_a_real_worker_give_the_same_report_as_in_process(
    worker_site, eager_site, tmp_path
):
    """The same seed gives the same report whether Celery runs the hand-offs in a worker
    process fed through Redis or inside the requests."""
    url, queue, _worker = worker_site
    gt = read_ground_truth(small_ground_truth(tmp_path / "gt.json", images=1, strip=False))

    def options(**where: str) -> Options:
        return Options(workers=8, seed=3, stage_settings={"spotting_answers_per_task": 3},
                       **where)  # type: ignore[arg-type]  # fmt: skip

    through_worker = simulate(gt, options(url=url, queue=queue))
    in_process = simulate(gt, options(url=eager_site))
    assert through_worker["open_tasks_left"] == {} and through_worker["lost_answers"] == 0
    assert through_worker["exported_instances"] > 0
    assert without_timing(through_worker) == without_timing(in_process)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_coco_tiny_through_a_real_worker_reaches_the_fidelity_targets(worker_site):
    """coco_tiny (80 images, 815 instances), 8 labeling answers of recall 0.5 per image, 10%
    spammers, 2 px vertex jitter, hand-offs through a real Celery worker on Redis. (A few
    minutes on an idle 2-core machine; BENCHMARKS.md, issue 12, has the figures.)"""
    url, queue, _worker = worker_site
    report = simulate(
        read_ground_truth(COCO_TINY),
        Options(workers=24, seed=12, url=url, queue=queue, behaviour=Behaviour(),
                stage_settings={"spotting_answers_per_task": 3}),
    )  # fmt: skip
    # Nothing is left open: an object whose outlines keep failing is set aside for the
    # admin after segmentation_max_rejected_outlines (5) rejections instead of looping.
    assert report["open_tasks_left"] == {}
    assert report["segmenter_saw"].get("skipped_endless_requeue", 0) == 0
    assert report["lost_answers"] == 0
    assert report["duplicate_tasks"] == 0 and report["duplicate_annotations"] == 0
    assert report["answers_per_stage"]["labeling"] == 80 * 8
    assert report["category_recall"] >= 0.99
    assert report["crowd_aware_instance_recall"] >= 0.95
    # 2 px of vertex jitter on COCO's small objects (median area ~1,600 px^2) caps the mask
    # IoU of the outlines themselves at a median of 0.889 (BENCHMARKS.md), below the 0.9 the
    # issue hoped for; the pipeline loses nothing on top of that.
    assert report["median_mask_iou"] >= 0.88
    assert report["ap"] >= 0.75


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_and_restarted_ends_with_the_same_dataset(worker_site, tmp_path):
    """SIGKILL the Celery worker in the middle of a simulated run, start it again: the run
    ends like an undisturbed run of the same seed, with nothing lost or duplicated."""
    url, queue, worker = worker_site
    gt = read_ground_truth(small_ground_truth(tmp_path / "gt.json", images=2, strip=False))

    def options(name: str) -> Options:
        return Options(workers=8, seed=5, url=url, queue=queue, name=name, settle_timeout=120,
                       stage_settings={"spotting_answers_per_task": 3})  # fmt: skip

    undisturbed = simulate(gt, options("Undisturbed"))

    def kill_and_restart() -> None:
        time.sleep(15)
        worker["worker"].send_signal(signal.SIGKILL)
        worker["worker"].wait()
        worker["worker"] = start_worker(worker["env"], queue)

    killer = threading.Thread(target=kill_and_restart)
    killer.start()
    try:
        disturbed = simulate(gt, options("Disturbed"))
    finally:
        killer.join()
    assert disturbed["lost_answers"] == 0
    assert disturbed["duplicate_tasks"] == 0 and disturbed["duplicate_annotations"] == 0
    assert without_timing(disturbed) == without_timing(undisturbed)


def _box(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


@pytest.mark.django_db(transaction=True)
def test_a_crowd_beside_single_objects_is_painted_and_exported_as_a_crowd_region(
    eager_site, tmp_path
):
    """Defect 6 of the simulator: a crowd in a pair under the cap of 10 (two people in front
    of a stand of spectators) was never painted, as segmenters could only say "no such
    object" on it. Now they say "these are a crowd" and the export holds the region."""
    crowd = np.zeros((240, 320), dtype=np.uint8)
    crowd[60:200, 180:310] = 1
    rle = mask_utils.encode(np.asfortranarray(crowd))
    people = [_box(20, 40, 50, 120), _box(90, 60, 45, 110)]
    annotations = [
        {"id": n + 1, "image_id": image_id, "category_id": 1, "segmentation": polygons,
         "area": 0.0, "bbox": [polygons[0][0], polygons[0][1], 50, 120], "iscrowd": 0}
        for n, (image_id, polygons) in enumerate([(1, people[0]), (1, people[1]),
                                                  (2, people[0]), (2, people[1])])
    ]  # fmt: skip
    annotations.append(
        {"id": 9, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": float(crowd.sum()),
         "bbox": [180, 60, 130, 140],
         "segmentation": {"size": [240, 320], "counts": rle["counts"].decode()}}
    )  # fmt: skip
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({
        "images": [{"id": i, "file_name": f"stand{i}.jpg", "width": 320, "height": 240}
                   for i in (1, 2)],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }))  # fmt: skip
    out = tmp_path / "report.json"
    # Five spotters, so that the stand gets a cross from someone (each marks it with p 0.8).
    call_command("simulate_crowd", "--gt", str(gt), "--url", eager_site, "--json", str(out),
                 *FAST, "--setting", "spotting_answers_per_task=5")  # fmt: skip
    report = json.loads(out.read_text())
    assert report["open_tasks_left"] == {} and report["lost_answers"] == 0
    assert report["segmenter_saw"].get("crowd_at_spot", 0) >= 1
    assert report["gt_crowd_regions"] == 1
    assert report["crowd_regions_found"] == 1
    assert report["exported_crowd_regions"] == 1
    region = Annotation.objects.get(project_id=report["project"], iscrowd=True)
    assert region.image.file_name == "stand1.jpg"
    assert report["instance_recall"] >= 0.75
