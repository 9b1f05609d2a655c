"""Answering one leased task, per stage: what the simulated worker answers (behaviour.py's
models of labeling, spotting, segmentation, verification and crowd painting), then sending it,
or giving the task back."""

from __future__ import annotations

from typing import Any

from annotation.models import Stage
from pipelines.simulator import crew as db
from pipelines.simulator.behaviour import (
    SimWorker,
    crowd_answer,
    labeling_answer,
    mask_looks_good,
    segmentation_answer,
    spotting_answer,
    verification_answer,
)
from pipelines.simulator.state import Simulation, SimulationError

# An object whose outlines keep failing verification is re-queued without end (a rule
# defect, reported); after this many outlines of one spot the workers skip its task.
OUTLINES_PER_SPOT = 6


def free_after_wave(sim: Simulation, assignment: dict) -> int:
    """Slots of the task still free once this wave's leases are answered."""
    return db.free_slots_of(assignment["task"]["id"])


def prepare_answer(
    sim: Simulation, stage: str, worker: SimWorker, assignment: dict
) -> tuple[Any, float] | None:
    """What the worker answers and how long it thinks; None to skip the task."""
    task = assignment["task"]
    seed, b = sim.o.seed, sim.b
    image = sim.image_of.get(task["image"]["id"]) if task.get("image") else None
    category = task["category"]["id"] if task.get("category") else None
    if stage == Stage.LABELING:
        assert image is not None
        answer, seconds = labeling_answer(
            seed=seed, worker=worker, image=image, supercategory_of=sim.supercategory_of, b=b
        )
    elif stage == Stage.SPOTTING:
        assert image is not None and category is not None
        answer, seconds = spotting_answer(
            seed=seed, worker=worker, image=image, category_id=category,
            max_spots=int(task["payload"].get("max_spots", 10)), b=b,
        )  # fmt: skip
    elif stage == Stage.SEGMENTATION:
        assert image is not None and category is not None
        spot = task["payload"]["spot"]
        where = (image.id, category, spot["x"], spot["y"])
        if sim.attempts[where] >= OUTLINES_PER_SPOT:
            sim.seen["skipped_endless_requeue"] += 1
            return None
        sim.attempts[where] += 1
        key = (worker.index, *where)
        sim.attempts[key] += 1
        answer, seconds, saw = segmentation_answer(
            seed=seed, worker=worker, image=image, category_id=category, spot=spot,
            outlined=outlines(sim, task["image"]["id"], category),
            attempt=sim.attempts[key], b=b,
        )  # fmt: skip
        sim.seen[saw] += 1
    elif stage == Stage.VERIFICATION:
        cells = [cell["id"] for cell in task["payload"]["cells"]]
        shown = db.cell_contents(cells)
        judged = []
        golds = 0
        for cell_id in cells:
            image_id, category_id, polygons, kind = shown[cell_id]
            gt_image = sim.image_of[image_id]
            good = mask_looks_good(gt_image, category_id, polygons, b)
            if kind == "gold":  # drawn at random by the site (issue 13): key by its place
                golds += 1
                stable: tuple = (kind, golds)
            else:
                stable = (kind, gt_image.id, category_id, _rounded(polygons))
            judged.append((cell_id, repr(stable), good))
        answer, seconds = verification_answer(seed=seed, worker=worker, cells=judged, b=b)
    elif stage == Stage.CROWD:
        assert image is not None and category is not None
        answer, seconds = crowd_answer(
            seed=seed, worker=worker, image=image, category_id=category,
            outlined=outlines(sim, task["image"]["id"], category), b=b,
        )  # fmt: skip
    else:
        raise SimulationError(f"no simulated worker for stage {stage}")
    return answer, seconds


def send(
    sim: Simulation,
    stage: str,
    worker: SimWorker,
    assignment: dict,
    prepared: tuple[Any, float] | None,
) -> bool:
    if prepared is None:
        sim.client(worker).release(assignment=assignment["id"])
        return False
    answer, seconds = prepared
    key = f"sim-{assignment['id']}"
    status, body = sim.client(worker).submit(
        assignment=assignment["id"], answer=answer, key=key, seconds=seconds
    )
    if status == 200:
        sim.accepted[assignment["id"]] = key
        sim.answers[stage] += 1
        sim.seconds[stage] += seconds
        return True
    sim.refused[stage] += 1
    if len(sim.refusals) < 20:
        sim.refusals.append(f"{stage} {status}: {body}")
    sim.client(worker).release(assignment=assignment["id"])
    return False


def outlines(sim: Simulation, server_image: int, category: int) -> list[list[list[float]]]:
    """The outlines the tool shades under the editor (GET .../images/<id>/masks/)."""
    masks = sim.client(sim.crew.admin).get(f"/api/v1/segmentation/images/{server_image}/masks/")
    return [m["polygons"] for m in masks["masks"] if m["category_id"] == category]


def _rounded(polygons: list[list[float]]) -> tuple:
    return tuple(tuple(round(v, 1) for v in part) for part in polygons)
