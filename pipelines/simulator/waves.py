"""The passes: each runs one WAVE of every stage with open work. In a wave every simulated
annotator (in a seeded order) leases one task, then the leased tasks are answered
(answering.py) and the hand-offs settle; idle would-be segmenters train. When no stage has
work the admin nudges (partial grids, missing painting tasks) or the expert takes what no
annotator may."""

from __future__ import annotations

import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from annotation.models import Stage
from pipelines.simulator import crew as db
from pipelines.simulator.answering import free_after_wave, prepare_answer, send
from pipelines.simulator.behaviour import SimWorker, rng_for, training_answer
from pipelines.simulator.client import ApiError
from pipelines.simulator.state import Simulation, SimulationError

STAGES = [Stage.LABELING, Stage.SPOTTING, Stage.SEGMENTATION, Stage.VERIFICATION, Stage.CROWD]
TRAINING_TRIES = 3  # a worker gives up a category after this many failed training tries
# Idle workers train on a category with waiting work while fewer of the crew than this are
# qualified on it (the rest keep to what they know).
QUALIFIED_PER_CATEGORY = 3


def passes_run(sim: Simulation) -> None:
    """Pass after pass until no stage has work and the admin's nudge finds none either."""
    settled = False  # each wave settles after itself; a pass after a nudge settles first
    while sim.passes < sim.o.max_passes:
        sim.passes += 1
        if not settled:
            sim.settle()
        settled = True
        open_now = db.open_tasks_by_stage(sim.project.id)
        worked = False
        for stage in STAGES:
            if open_now.get(stage) and wave(sim, stage):
                worked = True
                sim.settle()
                if sim.o.pace > 0:  # a person watching the dashboard sees each wave land
                    time.sleep(sim.o.pace)
        if sim.passes % 10 == 0:
            sim.say(
                f"pass {sim.passes}: open {db.open_tasks_by_stage(sim.project.id)}, answers {dict(sim.answers)}"
            )
        if not worked:
            if not nudge(sim):
                return
            settled = False
    raise SimulationError(f"the pipeline did not finish in {sim.o.max_passes} passes")


def nudge(sim: Simulation) -> bool:
    """What the admin (then the expert) does when no annotator has work; True if it made some."""
    admin = sim.client(sim.crew.admin)
    pk = sim.project.id
    grids = admin.post(f"/api/v1/verification/projects/{pk}/grids/", {"allow_partial": True})
    if grids["posted"]:
        sim.nudges["partial_grids"] += grids["posted"]
        return True
    crowd = admin.post(f"/api/v1/crowd/projects/{pk}/tasks/")
    if crowd["posted"]:
        sim.nudges["crowd_tasks_posted_by_admin"] += crowd["posted"]
        return True
    # Work no annotator may take (a pair every qualified annotator trained on, a grid
    # whose masks are by every eligible verifier): the experts do it, in waves.
    done = False
    for stage in (Stage.SEGMENTATION, Stage.VERIFICATION, Stage.CROWD):
        for _ in range(1000):
            answered = wave(sim, stage, experts=True)
            if not answered:
                break
            sim.nudges[f"expert_{stage}"] += answered
            done = True
            sim.settle()
    return done


def wave(sim: Simulation, stage: str, experts: bool = False) -> int:
    """One wave of a stage: leases in a seeded order, then the answers. Returns how many
    answers went in (a training try counts as one). With `experts`, the experts' wave."""
    sim.waves += 1
    people = sim.crew.experts if experts else sim.crew.annotators
    order = rng_for(sim.o.seed, "order", stage, sim.waves).permutation(len(people))
    leased: list[tuple[SimWorker, dict]] = []
    trained = False
    # The scheduler peeks at how many answer slots are free, so it stops asking once
    # they are all leased (the answer to the rest would be "no work for you").
    free = db.free_slots(sim.project.id, stage)
    sim.waiting = None  # categories with segmentation work, per wave
    for position in order:
        if len(leased) >= free:
            break
        worker = people[int(position)]
        if worker.index in sim.blocked:
            continue
        if not experts and stage == Stage.SEGMENTATION and not segments(sim, worker):
            continue  # never trained: the server would answer "no work for you"
        if not db.may_get_work(sim.project, stage, worker.username):
            # The site would answer "no work for you" (204): no request is sent.
            if not experts and stage == Stage.SEGMENTATION:
                trained = train(sim, worker) or trained
            continue
        try:
            assignment = sim.client(worker).lease(stage=stage, project=sim.project.id)
        except ApiError as error:
            if error.status == 403:
                sim.blocked.add(worker.index)
                continue
            raise
        if assignment is not None:
            leased.append((worker, assignment))
        elif not experts and stage == Stage.SEGMENTATION and segments(sim, worker):
            trained = train(sim, worker) or trained
    # Answers that complete no task trigger no hand-off: they go out in parallel. The
    # last answer of each task goes out alone, in lease order, so tasks complete (and
    # post what follows them) in the same order in every run.
    last: dict[int, int] = {}
    for position, (_worker, assignment) in enumerate(leased):
        last[assignment["task"]["id"]] = position
    remaining = {
        task_id: free_after_wave(sim, assignment)
        for _w, assignment in leased
        for task_id in [assignment["task"]["id"]]
    }
    early = [
        item for position, item in enumerate(leased)
        if last[item[1]["task"]["id"]] != position or remaining[item[1]["task"]["id"]] > 0
    ]  # fmt: skip
    late = [item for item in leased if item not in early]
    prepared = [(w, a, prepare_answer(sim, stage, w, a)) for w, a in early]
    with ThreadPoolExecutor(max_workers=max(1, sim.o.threads)) as pool:
        outcomes = list(pool.map(lambda item: send(sim, stage, *item), prepared))
    answered = sum(outcomes)
    for worker, assignment in late:
        answered += send(
            sim, stage, worker, assignment, prepare_answer(sim, stage, worker, assignment)
        )
    return answered + int(trained)


def segments(sim: Simulation, worker: SimWorker) -> bool:
    """Whether this annotator trains for segmentation (a share of the crew; the others
    stay free to verify every grid)."""
    good = sum(not w.spammer for w in sim.crew.annotators)
    return worker.spammer or worker.index < math.ceil(sim.o.segmenter_share * good)


def train(sim: Simulation, worker: SimWorker) -> bool:
    """An idle worker takes the training task of a category with waiting work."""
    client = sim.client(worker)
    pk = sim.project.id
    if sim.waiting is None:  # the training page's list, read once per wave
        listing = client.get(f"/api/v1/segmentation/projects/{pk}/training/")
        sim.waiting = [c["id"] for c in listing["categories"] if c["work_waiting"]]
    qualified = Counter(c for w in sim.crew.annotators for c in w.qualified)
    choices = [
        category for category in sim.waiting
        if category not in worker.qualified
        and worker.tried.get(category, 0) < TRAINING_TRIES
        and qualified[category] < QUALIFIED_PER_CATEGORY
    ]  # fmt: skip
    if not choices:
        return False
    rng = rng_for(sim.o.seed, "train-pick", worker.index, sim.waves)
    category = int(choices[int(rng.integers(len(choices)))])
    try:
        offered = client.post(
            f"/api/v1/segmentation/projects/{pk}/training/next/", {"category": category}
        )
    except ApiError as error:
        if error.status >= 500:
            raise
        # Every reference tried, or a cool-down: this worker gives the category up.
        worker.tried[category] = TRAINING_TRIES
        sim.refused["training"] += 1
        return True
    worker.tried[category] = worker.tried.get(category, 0) + 1
    image = sim.image_of[offered["image"]["id"]]
    polygons, seconds = training_answer(
        seed=sim.o.seed, worker=worker, image=image, category_id=category,
        spot=offered["spot"], attempt=worker.tried[category], b=sim.b,
    )  # fmt: skip
    try:
        feedback = client.post(
            f"/api/v1/segmentation/training/{offered['reference']}/attempt/",
            {"polygons": polygons},
        )
    except ApiError as error:
        if error.status >= 500:
            raise
        sim.refused["training"] += 1
        return True
    sim.answers["training"] += 1
    sim.seconds["training"] += seconds
    if feedback["qualified"]:
        worker.qualified.add(category)
    return True
