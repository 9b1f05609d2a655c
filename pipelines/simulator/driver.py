"""Drive the whole pipeline over HTTP, stage after stage, until nothing is left.

The run goes in WAVES: in a wave of a stage every simulated annotator (in a seeded order)
asks for one task through POST /api/v1/tasks/next/ as the browser tools do; then each
answers what it leased (POST /api/v1/assignments/<id>/submit/); then the driver waits for
the hand-offs to settle (crew.settle). No answer is sent while tasks are being leased, so
what a worker gets depends only on the database as the last wave left it: the same seed
gives the same run whether Celery runs in-process or in a worker process.

Each pass runs one wave of every stage that has open work. When no stage has work the
admin does what an admin does at the end of a batch (post the partial verification grids,
post missing painting tasks) and the passes go on; when that finds nothing either, the run
ends, the admin exports the dataset over HTTP, and `report` scores it.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import Polygon

from annotation.models import Stage
from pipelines.simulator import crew as db
from pipelines.simulator import report as scoring
from pipelines.simulator.behaviour import (
    Behaviour,
    SimWorker,
    crowd_answer,
    labeling_answer,
    mask_looks_good,
    rng_for,
    segmentation_answer,
    spotting_answer,
    training_answer,
    verification_answer,
)
from pipelines.simulator.client import ApiClient, ApiError
from pipelines.simulator.groundtruth import GroundTruth, GtImage, GtInstance
from pipelines.simulator.pictures import photo_bytes
from pipelines.simulator.server import local_server

STAGES = [Stage.LABELING, Stage.SPOTTING, Stage.SEGMENTATION, Stage.VERIFICATION, Stage.CROWD]
TRAINING_TRIES = 3  # a worker gives up a category after this many failed training tries
REFERENCES_PER_CATEGORY = 3  # the expert's training outlines per category
# Idle workers train on a category with waiting work while fewer of the crew than this are
# qualified on it (the rest keep to what they know).
QUALIFIED_PER_CATEGORY = 3
# An object whose outlines keep failing verification is re-queued without end (a rule
# defect, reported); after this many outlines of one spot the workers skip its task.
OUTLINES_PER_SPOT = 6


@dataclass
class Options:
    workers: int = 40
    seed: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    images_dir: Path | None = None
    gold: int = 4  # as many as one grid needs: every grid shows the same, so runs repeat
    name: str | None = None
    url: str | None = None  # a running site; None starts one
    server_env: dict[str, str] | None = None  # environment of the started site
    queue: str | None = None  # the Celery queue to watch when settling (a broker is used)
    max_passes: int = 5000
    segmenter_share: float = 0.5  # annotators who also train and segment; all verify
    stage_settings: dict[str, Any] = field(default_factory=dict)  # the project's overrides
    threads: int = 4  # answers that complete no task are sent this many at a time
    settle_timeout: float = 600.0  # seconds the hand-offs of one wave may take
    pace: float = 0.0  # seconds to sleep after each wave, so a person can watch the run
    progress: Any = None  # a callable taking one line of text


class SimulationError(RuntimeError):
    pass


class Simulation:
    def __init__(self, gt: GroundTruth, options: Options) -> None:
        self.gt = gt
        self.o = options
        self.b = options.behaviour
        self.answers: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.refused: Counter[str] = Counter()
        self.refusals: list[str] = []
        self.seen: Counter[str] = Counter()  # what segmenters met at their spots
        self.nudges: Counter[str] = Counter()
        self.accepted: dict[int, str] = {}
        self.blocked: set[int] = set()
        self.attempts: Counter[tuple] = Counter()
        self.clients: dict[int, ApiClient] = {}
        self.image_of: dict[int, GtImage] = {}  # server image id -> ground truth image
        self.passes = 0
        self.waves = 0
        self._waiting: list[int] | None = None
        self.settle_seconds = 0.0

    def say(self, line: str) -> None:
        if self.o.progress is not None:
            self.o.progress(line)

    # Setting up -----------------------------------------------------------------------------

    def run(self) -> dict:
        started = time.monotonic()
        name = self.o.name or f"Simulation {uuid.uuid4().hex[:8]}"
        self.project = db.simulation_project_create(gt=self.gt, name=name)
        if self.o.stage_settings:
            db.simulation_settings_set(project=self.project, values=self.o.stage_settings)
        self.crew = db.simulation_crew_create(
            project=self.project,
            annotators=self.o.workers,
            spammer_share=self.b.spammer_share,
            prefix=f"sim{self.project.id}",
        )
        site = (
            contextlib.nullcontext(self.o.url)
            if self.o.url
            else local_server(env=self.o.server_env)
        )
        with site as url:
            self.url = url
            try:
                self._prepare()
                self._passes()
                export = self._export()
            finally:
                for client in self.clients.values():
                    client.close()
        result = scoring.score(gt=self.gt, export=export)
        result.update(
            {
                "answers_per_stage": db.answers_per_stage(self.project.id),
                "worker_hours": {k: round(v / 3600, 3) for k, v in sorted(self.seconds.items())},
                "refused_answers": dict(self.refused),
                "refusal_examples": self.refusals[:5],
                "segmenter_saw": dict(sorted(self.seen.items())),
                "admin_nudges": dict(self.nudges),
                "blocked_workers": len(self.blocked),
                "open_tasks_left": db.open_tasks_by_stage(self.project.id),
                "lost_answers": db.lost_answers(self.accepted),
                **db.duplicates(self.project.id),
                "passes": self.passes,
                "waves": self.waves,
                "wall_seconds": round(time.monotonic() - started, 1),
                "settle_seconds": round(self.settle_seconds, 1),
                "http_requests": sum(c.requests for c in self.clients.values()),
                "http_seconds": round(sum(c.seconds for c in self.clients.values()), 1),
                "project": self.project.id,
                "images": len(self.gt.images),
                "gt_instances": self.gt.instance_count,
                "workers": self.o.workers,
                "spammers": sum(w.spammer for w in self.crew.annotators),
                "seed": self.o.seed,
                "behaviour": self.b.as_dict(),
            }
        )
        result["worker_hours"]["total"] = round(sum(self.seconds.values()) / 3600, 3)
        result["coco_effort"] = scoring.coco_effort(
            images=len(self.gt.images), instances=result["exported_instances"]
        )
        return result

    def client(self, worker: SimWorker) -> ApiClient:
        if worker.index not in self.clients:
            self.clients[worker.index] = ApiClient(self.url, worker.token)
        return self.clients[worker.index]

    def _prepare(self) -> None:
        admin, expert = self.client(self.crew.admin), self.client(self.crew.expert)
        pk = self.project.id
        for image in self.gt.images:
            status, body = admin.upload(
                f"/api/v1/projects/{pk}/images/",
                image.file_name,
                photo_bytes(image, self.o.images_dir),
                {"license_name": "simulation"},
            )
            if status != 201:
                raise SimulationError(f"image {image.file_name} was refused: {body}")
            if (body["width"], body["height"]) != (image.width, image.height):
                raise SimulationError(
                    f"{image.file_name} is {body['width']}x{body['height']}, the ground truth "
                    f"says {image.width}x{image.height}"
                )
            self.image_of[body["id"]] = image
        self.server_id = {gt.id: sid for sid, gt in self.image_of.items()}
        self.say(f"{len(self.image_of)} images uploaded")
        panel = admin.get(f"/api/v1/labeling/projects/{pk}/panel/")
        self.supercategory_of = {
            c["id"]: group["name"]
            for group in panel["supercategories"]
            for c in group["categories"]
        }
        # The expert: up to REFERENCES_PER_CATEGORY references per category (its largest
        # outlined instances, on different photos where it can), since each reference is
        # tried once per trainee (issue 13) ...
        by_category: dict[int, list[tuple[GtImage, GtInstance]]] = {}
        for image in self.gt.images:
            for inst in image.instances:
                if inst.iscrowd or not inst.polygons():
                    continue
                by_category.setdefault(inst.category_id, []).append((image, inst))
        largest: dict[int, list[tuple[GtImage, GtInstance]]] = {}
        for category_id, found in by_category.items():
            found.sort(key=lambda pair: (-pair[1].area, pair[1].id))
            chosen: list[tuple[GtImage, GtInstance]] = []
            for image, inst in found:  # one per photo first ...
                if len(chosen) < REFERENCES_PER_CATEGORY and all(
                    image.id != other.id for other, _ in chosen
                ):
                    chosen.append((image, inst))
            largest[category_id] = chosen
        for category_id, chosen in sorted(largest.items()):
            for image, inst in chosen:
                x, y = _inside(inst)
                expert.post(
                    "/api/v1/segmentation/references/",
                    {"image": self.server_id[image.id], "category": category_id,
                     "polygons": inst.polygons(), "spot": {"x": x, "y": y}},
                )  # fmt: skip
        # ... and known-bad gold masks: a quarter of a large object's box.
        ranked = sorted(
            (
                (inst.area, inst.id, image, inst)
                for image in self.gt.images
                for inst in image.instances
                if not inst.iscrowd and inst.polygons()
            ),
            key=lambda row: (-row[0], row[1]),
        )
        for number in range(self.o.gold if ranked else 0):
            # A quarter of the box, cycling over the largest objects and the four corners.
            _area, _id, image, inst = ranked[number % len(ranked)]
            x, y, w, h = inst.bbox_xywh
            corner = (number // len(ranked)) % 4
            left, top = x + (corner % 2) * w / 2, y + (corner // 2) * h / 2
            box = [left, top, left + w / 2, top, left + w / 2, top + h / 2, left, top + h / 2]
            expert.post(
                "/api/v1/verification/gold/",
                {
                    "image": self.server_id[image.id],
                    "category": inst.category_id,
                    "polygons": [box],
                },
            )
        admin.post(f"/api/v1/labeling/projects/{pk}/tasks/", {})
        self.say(
            f"{sum(len(chosen) for chosen in largest.values())} references, {min(self.o.gold, len(ranked))} gold items, labeling posted"
        )

    # The passes ------------------------------------------------------------------------------

    def settle(self) -> None:
        self.settle_seconds += db.settle(
            self.project.id, queue=self.o.queue, timeout=self.o.settle_timeout
        )

    def _passes(self) -> None:
        while self.passes < self.o.max_passes:
            self.passes += 1
            self.settle()
            open_now = db.open_tasks_by_stage(self.project.id)
            worked = False
            for stage in STAGES:
                if open_now.get(stage) and self._wave(stage):
                    worked = True
                    self.settle()
                    if self.o.pace > 0:
                        time.sleep(self.o.pace)
            if self.passes % 10 == 0:
                self.say(
                    f"pass {self.passes}: open {db.open_tasks_by_stage(self.project.id)}, answers {dict(self.answers)}"
                )
            if not worked and not self._nudge():
                return
        raise SimulationError(f"the pipeline did not finish in {self.o.max_passes} passes")

    def _nudge(self) -> bool:
        admin = self.client(self.crew.admin)
        pk = self.project.id
        grids = admin.post(f"/api/v1/verification/projects/{pk}/grids/", {"allow_partial": True})
        if grids["posted"]:
            self.nudges["partial_grids"] += grids["posted"]
            return True
        crowd = admin.post(f"/api/v1/crowd/projects/{pk}/tasks/")
        if crowd["posted"]:
            self.nudges["crowd_tasks_posted_by_admin"] += crowd["posted"]
            return True
        # Work no annotator may take (a category without a reference to train on, a grid
        # whose masks are by every eligible verifier): the expert does it.
        done = False
        expert = self.crew.expert
        for stage in (Stage.SEGMENTATION, Stage.VERIFICATION, Stage.CROWD):
            for _ in range(1000):
                assignment = self.client(expert).lease(stage=stage, project=pk)
                if assignment is None or not self._answer(stage, expert, assignment):
                    break
                self.nudges[f"expert_{stage}"] += 1
                done = True
                self.settle()
        return done

    def _wave(self, stage: str) -> bool:
        self.waves += 1
        order = rng_for(self.o.seed, "order", stage, self.waves).permutation(
            len(self.crew.annotators)
        )
        leased: list[tuple[SimWorker, dict]] = []
        trained = False
        # The scheduler peeks at how many answer slots are free, so it stops asking once
        # they are all leased (the answer to the rest would be "no work for you").
        free = db.free_slots(self.project.id, stage)
        self._waiting = None  # categories with segmentation work, per wave
        for position in order:
            if len(leased) >= free:
                break
            worker = self.crew.annotators[int(position)]
            if worker.index in self.blocked:
                continue
            if stage == Stage.SEGMENTATION and not self._segments(worker):
                continue  # never trained: the server would answer "no work for you"
            try:
                assignment = self.client(worker).lease(stage=stage, project=self.project.id)
            except ApiError as error:
                if error.status == 403:
                    self.blocked.add(worker.index)
                    continue
                raise
            if assignment is not None:
                leased.append((worker, assignment))
            elif stage == Stage.SEGMENTATION and self._segments(worker):
                trained = self._train(worker) or trained
        # Answers that complete no task trigger no hand-off: they go out in parallel. The
        # last answer of each task goes out alone, in lease order, so tasks complete (and
        # post what follows them) in the same order in every run.
        last: dict[int, int] = {}
        for position, (_worker, assignment) in enumerate(leased):
            last[assignment["task"]["id"]] = position
        remaining = {
            task_id: self._free_after_wave(assignment)
            for _w, assignment in leased
            for task_id in [assignment["task"]["id"]]
        }
        early = [
            item for position, item in enumerate(leased)
            if last[item[1]["task"]["id"]] != position or remaining[item[1]["task"]["id"]] > 0
        ]  # fmt: skip
        late = [item for item in leased if item not in early]
        prepared = [(w, a, self._prepare_answer(stage, w, a)) for w, a in early]
        with ThreadPoolExecutor(max_workers=max(1, self.o.threads)) as pool:
            outcomes = list(pool.map(lambda item: self._send(stage, *item), prepared))
        answered = sum(outcomes)
        for worker, assignment in late:
            answered += self._send(
                stage, worker, assignment, self._prepare_answer(stage, worker, assignment)
            )
        return answered > 0 or trained

    # Answering -----------------------------------------------------------------------------

    def _free_after_wave(self, assignment: dict) -> int:
        """Slots of the task still free once this wave's leases are answered."""
        return db.free_slots_of(assignment["task"]["id"])

    def _answer(self, stage: str, worker: SimWorker, assignment: dict) -> bool:
        """Answer a leased task (True), or skip it and give it back (False)."""
        return self._send(
            stage, worker, assignment, self._prepare_answer(stage, worker, assignment)
        )

    def _prepare_answer(
        self, stage: str, worker: SimWorker, assignment: dict
    ) -> tuple[Any, float] | None:
        """What the worker answers and how long it thinks; None to skip the task."""
        task = assignment["task"]
        seed, b = self.o.seed, self.b
        image = self.image_of.get(task["image"]["id"]) if task.get("image") else None
        category = task["category"]["id"] if task.get("category") else None
        if stage == Stage.LABELING:
            assert image is not None
            answer, seconds = labeling_answer(
                seed=seed, worker=worker, image=image, supercategory_of=self.supercategory_of, b=b
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
            if self.attempts[where] >= OUTLINES_PER_SPOT:
                self.seen["skipped_endless_requeue"] += 1
                return None
            self.attempts[where] += 1
            key = (worker.index, *where)
            self.attempts[key] += 1
            answer, seconds, saw = segmentation_answer(
                seed=seed, worker=worker, image=image, category_id=category, spot=spot,
                outlined=self._outlines(task["image"]["id"], category),
                attempt=self.attempts[key], b=b,
            )  # fmt: skip
            self.seen[saw] += 1
        elif stage == Stage.VERIFICATION:
            cells = [cell["id"] for cell in task["payload"]["cells"]]
            shown = db.cell_contents(cells)
            judged = []
            golds = 0
            for cell_id in cells:
                image_id, category_id, polygons, kind = shown[cell_id]
                gt_image = self.image_of[image_id]
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
                outlined=self._outlines(task["image"]["id"], category), b=b,
            )  # fmt: skip
        else:
            raise SimulationError(f"no simulated worker for stage {stage}")
        return answer, seconds

    def _send(
        self, stage: str, worker: SimWorker, assignment: dict, prepared: tuple[Any, float] | None
    ) -> bool:
        if prepared is None:
            self.client(worker).release(assignment=assignment["id"])
            return False
        answer, seconds = prepared
        key = f"sim-{assignment['id']}"
        status, body = self.client(worker).submit(
            assignment=assignment["id"], answer=answer, key=key, seconds=seconds
        )
        if status == 200:
            self.accepted[assignment["id"]] = key
            self.answers[stage] += 1
            self.seconds[stage] += seconds
            return True
        self.refused[stage] += 1
        if len(self.refusals) < 20:
            self.refusals.append(f"{stage} {status}: {body}")
        self.client(worker).release(assignment=assignment["id"])
        return False

    def _outlines(self, server_image: int, category: int) -> list[list[list[float]]]:
        """The outlines the tool shades under the editor (GET .../images/<id>/masks/)."""
        masks = self.client(self.crew.admin).get(
            f"/api/v1/segmentation/images/{server_image}/masks/"
        )
        return [m["polygons"] for m in masks["masks"] if m["category_id"] == category]

    def _segments(self, worker: SimWorker) -> bool:
        """Whether this annotator trains for segmentation (a share of the crew; the others
        stay free to verify every grid)."""
        good = sum(not w.spammer for w in self.crew.annotators)
        return worker.spammer or worker.index < math.ceil(self.o.segmenter_share * good)

    def _train(self, worker: SimWorker) -> bool:
        """An idle worker takes the training task of a category with waiting work."""
        client = self.client(worker)
        pk = self.project.id
        if self._waiting is None:  # the training page's list, read once per wave
            listing = client.get(f"/api/v1/segmentation/projects/{pk}/training/")
            self._waiting = [c["id"] for c in listing["categories"] if c["work_waiting"]]
        qualified = Counter(c for w in self.crew.annotators for c in w.qualified)
        choices = [
            category for category in self._waiting
            if category not in worker.qualified
            and worker.tried.get(category, 0) < TRAINING_TRIES
            and qualified[category] < QUALIFIED_PER_CATEGORY
        ]  # fmt: skip
        if not choices:
            return False
        rng = rng_for(self.o.seed, "train-pick", worker.index, self.waves)
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
            self.refused["training"] += 1
            return True
        worker.tried[category] = worker.tried.get(category, 0) + 1
        image = self.image_of[offered["image"]["id"]]
        polygons, seconds = training_answer(
            seed=self.o.seed, worker=worker, image=image, category_id=category,
            spot=offered["spot"], attempt=worker.tried[category], b=self.b,
        )  # fmt: skip
        try:
            feedback = client.post(
                f"/api/v1/segmentation/training/{offered['reference']}/attempt/",
                {"polygons": polygons},
            )
        except ApiError as error:
            if error.status >= 500:
                raise
            self.refused["training"] += 1
            return True
        self.answers["training"] += 1
        self.seconds["training"] += seconds
        if feedback["qualified"]:
            worker.qualified.add(category)
        return True

    # Export ---------------------------------------------------------------------------------

    def _export(self) -> dict:
        admin = self.client(self.crew.admin)
        job = admin.post("/api/v1/exports/", {"project": self.project.id, "split": "all"})
        deadline = time.monotonic() + 600
        while job["status"] not in ("done", "failed"):
            if time.monotonic() > deadline:
                raise SimulationError(f"export {job['id']} did not finish: {job}")
            time.sleep(0.2)
            job = admin.get(f"/api/v1/exports/{job['id']}/")
        if job["status"] != "done":
            raise SimulationError(f"export failed: {job['error']}")
        instances = next(f for f in job["files"] if f["name"].startswith("instances"))
        status, raw = admin.request("GET", instances["url"])
        if status != 200:
            raise SimulationError(f"export file: HTTP {status}")
        return json.loads(raw)


def _inside(inst: GtInstance) -> tuple[float, float]:
    """A point surely inside the object (shapely's representative point of its largest part)."""
    parts = [Polygon(list(zip(p[0::2], p[1::2], strict=True))).buffer(0) for p in inst.polygons()]
    biggest = max(parts, key=lambda p: p.area)
    point = biggest.representative_point()
    return round(point.x, 2), round(point.y, 2)


def _rounded(polygons: list[list[float]]) -> tuple:
    return tuple(tuple(round(v, 1) for v in part) for part in polygons)


def simulate(gt: GroundTruth, options: Options) -> dict:
    """Run one simulation and return its report (see report.score for the figures)."""
    return Simulation(gt, options).run()
