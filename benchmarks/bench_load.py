"""Load benchmark (issue 17): many simulated annotators lease and answer tasks of every stage
against the deployment's parts, then the database is checked.

    .venv/bin/pip install -r requirements-bench.txt        # aiohttp
    .venv/bin/python benchmarks/bench_load.py                            # 200 annotators, 60 s
    .venv/bin/python benchmarks/bench_load.py --duration 300 --json out.json

What runs: a scratch PostgreSQL database (created here, dropped at the end unless --keep-db),
gunicorn (gthread; --workers/--threads), Redis as the broker and throttle cache, and a real
`celery worker` on a queue of this run's own. The site is set up in this process: a COCO
project with work on every stage, each stage on images of its own (labeling 8 answers per
image, spotting 8 per task, segmentation 1, verification grids of 16 masks needing 3 votes,
crowd painting 1), the annotators (members, qualified for segmentation) and --history
finished tasks (8 answered slots each) so the assignment table has the size of a project in
progress. The first --token-logins annotators (10) get their token from /api/v1/auth/token/
(a PBKDF2 check each, seconds apiece on a busy 2-core machine), the rest are made in the
database.

Each annotator has a home stage (annotator i: stage i mod 5) and loops (no think time unless
--think gives some, spread 0.5-1.5x):
POST /api/v1/tasks/next/ for its stage (when that is empty: any stage; when nothing at all:
wait 0.2 s), then POST /api/v1/assignments/<id>/submit/ with a valid answer for the stage
(spotting: one cross; segmentation: a square around the spot; verification: no cell poor;
crowd: "none left"; labeling: a dog). Latency is measured in the client from sending the
request to having read the whole response (so it includes the client's own event loop,
which shares the 2 cores with the server). The throttles are raised (people, not scripts,
are throttled) but still counted in Redis on every request.

After the run the pipeline is given time to settle (the Celery queue drained) and the
database is checked: no slot handed to two annotators at once (seen by the clients), no
task with more answers than it needs, no worker twice on one task, every acknowledged answer
stored once with its key, nothing stored that was not acknowledged, and every answer in its
aggregation (every complete task has its result; spots, masks, votes per answer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SERVER = "postgresql://postgres@127.0.0.1:5432"
STAGES = ["labeling", "spotting", "segmentation", "verification", "crowd"]
PASSWORD = "load-bench-password"
SPOT = (100.0, 100.0)  # where seeded segmentation tasks' spots are


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument(
        "--think", type=float, default=0.0,
        help="seconds an annotator works on a task between lease and submit (default 0)",
    )  # fmt: skip
    parser.add_argument("--images", type=int, default=1000, help="images (split over stages)")
    parser.add_argument(
        "--history", type=int, default=12500, help="finished tasks (8 slots each) already there"
    )
    parser.add_argument(
        "--token-logins", type=int, default=10, help="annotators who get their token by signing in"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--settle", type=float, default=300.0, help="max seconds to settle")
    parser.add_argument("--json", type=Path, help="write the figures and checks here")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database")
    return parser.parse_args()


# The parts: database, web server, Celery worker ------------------------------------------


def database_create(name: str) -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def database_drop(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# The site's work, set up in this process -------------------------------------------------


def seed(args: argparse.Namespace) -> dict[str, Any]:
    """The project, its work on every stage, the annotators and the history. Returns what the
    clients and the checks need."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import transaction

    from annotation.models import (
        Assignment,
        Category,
        Image,
        Instance,
        Stage,
        Task,
        WorkerProfile,
    )
    from annotation.models.membership import Membership
    from annotation.models.segmentation import Qualification, Segmentation, SegmentationProgress
    from annotation.services import task_engine
    from annotation.services.people import worker_create
    from annotation.services.projects import project_create
    from annotation.stages.crowd import crowd_post_tasks
    from annotation.stages.labeling import labeling_tasks_post
    from annotation.stages.verification import verification_post_grids

    began = time.monotonic()
    project = project_create(name="Load benchmark", template="coco")
    project.stage_settings = {
        # Grids of 16 masks and no gold: the scripted verifiers cannot tell gold from masks
        # and would be blocked for missing it.
        "verification_grid_size": 16,
        "verification_gold_per_grid": 0,
        "verification_min_gold_caught": 0,
        "verification_gold_pool": 0,
    }
    project.save(update_fields=["stage_settings"])
    categories = {c.coco_id: c for c in Category.objects.filter(taxonomy__project=project)}
    dog, person = categories[18], categories[1]
    supercategories = sorted({c.supercategory for c in categories.values()})

    images = Image.objects.bulk_create(
        Image(
            project=project,
            file_name=f"load{i}.jpg",
            width=640,
            height=480,
            checksum_sha256=f"{i:064x}",
            source=Image.Source.FOLDER,
        )
        for i in range(args.images)
    )
    share = {stage: images[i :: len(STAGES)] for i, stage in enumerate(STAGES)}

    # People: annotators (one password hash for all: PBKDF2 per account would take minutes),
    # one segmenter whose masks are verified, and the history's workers.
    hashed = make_password(PASSWORD)
    tag = uuid.uuid4().hex[:6]
    names = [f"load-{tag}-{i:03d}" for i in range(args.annotators)]
    history_names = [f"load-{tag}-history{i}" for i in range(8)]
    users = User.objects.bulk_create(
        User(username=name, password=hashed) for name in [*names, *history_names]
    )
    for user in users:
        WorkerProfile.objects.update_or_create(
            user=user, defaults={"role": WorkerProfile.Role.ANNOTATOR}
        )
    Membership.objects.bulk_create(
        Membership(project=project, user=user, role=Membership.Role.ANNOTATOR) for user in users
    )
    annotators, history_workers = users[: args.annotators], users[args.annotators :]
    Qualification.objects.bulk_create(
        Qualification(worker=user, category=dog, passed=True, tries=1) for user in annotators
    )
    segmenter = worker_create(
        username=f"load-{tag}-segmenter", password=PASSWORD, role=WorkerProfile.Role.ANNOTATOR
    )

    with transaction.atomic():
        labeling_tasks_post(project=project, images=share["labeling"])
        task_engine.tasks_post_many(
            project=project, stage=Stage.SPOTTING, answers_needed=8,
            items=[{"image": image, "category": dog, "payload": {"max_spots": 10}}
                   for image in share["spotting"]],
        )  # fmt: skip
        # Segmentation: one open task per (image, dog), as segmentation_post_next leaves it.
        SegmentationProgress.objects.bulk_create(
            SegmentationProgress(image=image, category=dog) for image in share["segmentation"]
        )
        instances = Instance.objects.bulk_create(
            Instance(image=image, category=dog, spot_x=SPOT[0], spot_y=SPOT[1])
            for image in share["segmentation"]
        )
        task_engine.tasks_post_many(
            project=project, stage=Stage.SEGMENTATION, answers_needed=1,
            items=[{"image": inst.image, "category": dog, "instance": inst,
                    "payload": {"spot": {"id": None, "x": SPOT[0], "y": SPOT[1], "worker": None},
                                "order": 1}}
                   for inst in instances],
        )  # fmt: skip
        # Verification: 4 pending masks per image by the segmenter, in grids of 16.
        mask_instances = Instance.objects.bulk_create(
            Instance(image=image, category=dog, spot_x=40.0 + 120 * k, spot_y=60.0)
            for image in share["verification"]
            for k in range(4)
        )
        mask_tasks = task_engine.tasks_post_many(
            project=project, stage=Stage.SEGMENTATION, answers_needed=1,
            items=[{"image": inst.image, "category": dog, "instance": inst,
                    "payload": {"spot": {"id": None, "x": inst.spot_x, "y": inst.spot_y,
                                         "worker": None}}}
                   for inst in mask_instances],
        )  # fmt: skip
        Task.objects.filter(id__in=[t.id for t in mask_tasks]).update(
            status=Task.Status.COMPLETE, result={"outcome": "segmented", "seeded": True}
        )
        Assignment.objects.filter(task__in=mask_tasks).update(
            status=Assignment.Status.SUBMITTED, worker=segmenter, answer={}
        )
        slots = dict(Assignment.objects.filter(task__in=mask_tasks).values_list("task_id", "id"))
        Segmentation.objects.bulk_create(
            Segmentation(
                task=t,
                assignment_id=slots[t.id],
                instance=inst,
                image=inst.image,
                category=dog,
                worker=segmenter,
                area=1600.0,
                polygons=[[x - 20, 40.0, x + 20, 40.0, x + 20, 80.0, x - 20, 80.0]],
                bbox_xywh=[x - 20, 40.0, 40.0, 40.0],
            )
            for t, inst in zip(mask_tasks, mask_instances, strict=True)
            for x in [float(inst.spot_x or 0.0)]
        )
        SegmentationProgress.objects.bulk_create(
            SegmentationProgress(image=image, category=dog) for image in share["verification"]
        )
        # Crowd painting: (image, person) pairs past the individual cap.
        SegmentationProgress.objects.bulk_create(
            SegmentationProgress(
                image=image, category=person, state=SegmentationProgress.State.CROWD
            )
            for image in share["crowd"]
        )
    grids = verification_post_grids(project=project, allow_partial=True)
    crowd = crowd_post_tasks(project=project)

    # History: finished tasks with 8 answered slots each, spread over the stages.
    batch = 2000
    for start_at in range(0, args.history, batch):
        tasks = Task.objects.bulk_create(
            Task(
                project=project,
                stage=STAGES[n % len(STAGES)],
                status=Task.Status.COMPLETE,
                answers_needed=8,
                payload={},
                result={"history": True},
            )
            for n in range(start_at, min(args.history, start_at + batch))
        )
        Assignment.objects.bulk_create(
            Assignment(
                task=task,
                worker=worker,
                status=Assignment.Status.SUBMITTED,
                answer={},
                submission_key=f"history-{task.id}",
            )
            for task in tasks
            for worker in history_workers
        )
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    open_tasks = dict(
        Counter(
            Task.objects.filter(project=project, status=Task.Status.OPEN).values_list(
                "stage", flat=True
            )
        )
    )
    return {
        "project": project.id,
        "usernames": names,
        "supercategories": supercategories,
        "dog_supercategory": dog.supercategory,
        "open_tasks": open_tasks,
        "grids": len(grids),
        "crowd_tasks": len(crowd),
        "assignments": Assignment.objects.count(),
        "seed_seconds": round(time.monotonic() - began, 1),
    }


# The annotators ---------------------------------------------------------------------------


def answer_for(task: dict, site: dict[str, Any]) -> Any:
    stage = task["stage"]
    if stage == "labeling":
        said = {name: name == site["dog_supercategory"] for name in site["supercategories"]}
        return {"supercategories": said, "categories": [{"id": 18, "x": 120.0, "y": 90.0}]}
    if stage == "spotting":
        return {"spots": [{"x": 200.0, "y": 150.0}]}
    if stage == "segmentation":
        x, y = task["payload"]["spot"]["x"], task["payload"]["spot"]["y"]
        return {
            "polygons": [[x - 20, y - 20, x + 20, y - 20, x + 20, y + 20, x - 20, y + 20]],
            "vertices": 4,
            "edits": 0,
        }
    if stage == "verification":
        return {"poor": []}
    if stage == "crowd":
        return {"none_left": True}
    raise ValueError(f"no answer for stage {stage}")


class Ledger:
    """What the clients saw: latencies per endpoint and stage, answers acknowledged, slots
    handed to two annotators at once."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.holder: dict[int, int] = {}  # assignment id -> annotator holding it now
        self.accepted: dict[int, str] = {}  # assignment id -> idempotency key
        self.double_leases = 0
        self.double_acks = 0
        self.retries = 0  # requests sent again after a dropped connection
        self.errors: list[str] = []

    def record(self, name: str, status: int, seconds: float) -> None:
        self.latency[name].append(seconds)
        self.statuses[name][status] += 1


async def annotator(
    number: int, token: str, site: dict[str, Any], session: Any, url: str,
    deadline: float, ledger: Ledger, think: float,
) -> None:  # fmt: skip
    headers = {"Authorization": f"Token {token}"}
    home = STAGES[number % len(STAGES)]
    answered = 0

    async def post(name: str, path: str, body: dict) -> tuple[int, Any]:
        """One request as a tool sends it: a dropped connection (a keep-alive connection the
        server closed as it was reused) is retried, with the same body and so the same
        idempotency key; the time counted is the whole, retries included."""
        import aiohttp

        began = time.perf_counter()
        for attempt in range(4):
            try:
                async with session.post(url + path, json=body, headers=headers) as response:
                    raw = await response.read()
                break
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                ledger.retries += 1
                if attempt == 3:
                    raise
                await asyncio.sleep(0.05)
        seconds = time.perf_counter() - began
        ledger.record(name, response.status, seconds)
        return response.status, (json.loads(raw) if raw else None)

    while time.monotonic() < deadline:
        status, body = await post(
            "lease", "/api/v1/tasks/next/", {"stage": home, "project": site["project"]}
        )
        if status == 204:
            status, body = await post("lease", "/api/v1/tasks/next/", {"project": site["project"]})
        if status == 204:
            await asyncio.sleep(0.2)
            continue
        if status != 200:
            ledger.errors.append(f"lease {status}: {str(body)[:200]}")
            await asyncio.sleep(0.2)
            continue
        slot, stage = body["id"], body["task"]["stage"]
        ledger.latency[f"lease {stage}"].append(ledger.latency["lease"][-1])
        if ledger.holder.get(slot, number) != number:
            ledger.double_leases += 1
        ledger.holder[slot] = number
        if think:
            await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))
        key = f"load-{number}-{answered}"
        status, reply = await post(
            "submit",
            f"/api/v1/assignments/{slot}/submit/",
            {"answer": answer_for(body["task"], site), "idempotency_key": key,
             "time_spent_seconds": 1.0},
        )  # fmt: skip
        ledger.latency[f"submit {stage}"].append(ledger.latency["submit"][-1])
        if status == 200:
            answered += 1
            if slot in ledger.accepted:
                ledger.double_acks += 1
            ledger.accepted[slot] = key
            ledger.holder.pop(slot, None)
        else:
            ledger.errors.append(f"submit {stage} {status}: {str(reply)[:200]}")
            ledger.holder.pop(slot, None)
            async with session.post(
                f"{url}/api/v1/assignments/{slot}/release/", headers=headers
            ) as response:
                await response.read()


async def tokens_for(names: list[str], url: str) -> list[str]:
    import aiohttp

    limit = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as session:

        async def one(name: str) -> str:
            async with (
                limit,
                session.post(
                    f"{url}/api/v1/auth/token/", json={"username": name, "password": PASSWORD}
                ) as response,
            ):
                body = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"token for {name}: {response.status} {body}")
                return str(body["token"])

        return list(await asyncio.gather(*(one(name) for name in names)))


def tokens_made(names: list[str]) -> list[str]:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    users = {u.username: u for u in User.objects.filter(username__in=names)}
    made = Token.objects.bulk_create(
        Token(user=users[name], key=Token.generate_key()) for name in names
    )
    return [token.key for token in made]


async def crowd_run(
    tokens: list[str], site: dict[str, Any], url: str, seconds: float, think: float
) -> Ledger:
    import aiohttp

    ledger = Ledger()
    connector = aiohttp.TCPConnector(limit=len(tokens) + 10)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(
                annotator(i, token, site, session, url, deadline, ledger, think)
                for i, token in enumerate(tokens)
            )
        )
    return ledger


# Figures and checks -----------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def figures(ledger: Ledger, seconds: float) -> list[dict[str, Any]]:
    rows = []
    names = ["lease", "submit", *sorted(n for n in ledger.latency if " " in n)]
    for name in names:
        values = ledger.latency.get(name, [])
        if not values:
            continue
        rows.append(
            {
                "endpoint": name,
                "requests": len(values),
                "per_second": round(len(values) / seconds, 1),
                "p50_ms": round(1000 * statistics.median(values), 1),
                "p95_ms": round(1000 * percentile(values, 95), 1),
                "p99_ms": round(1000 * percentile(values, 99), 1),
                "statuses": dict(ledger.statuses[name]) if " " not in name else None,
            }
        )
    return rows


def checks(site: dict[str, Any], ledger: Ledger) -> dict[str, int]:
    from django.db.models import Count, Q

    from annotation.models import Assignment, Spot, Task
    from annotation.models.segmentation import Segmentation
    from annotation.models.verification import VerificationVote

    project = site["project"]
    history = Task.objects.filter(project_id=project, result__history=True).values("id")
    run_tasks = Task.objects.filter(project_id=project).exclude(id__in=history)
    answered = Assignment.objects.filter(
        task__in=run_tasks, status__in=[Assignment.Status.SUBMITTED, Assignment.Status.REJECTED]
    )
    ours = answered.filter(submission_key__startswith="load-")
    stored = dict(ours.values_list("id", "submission_key"))
    submitted = Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED))
    per_task = run_tasks.annotate(submitted=submitted)
    two_slots = (
        Assignment.objects.filter(task__in=run_tasks, worker__isnull=False)
        .exclude(status=Assignment.Status.FREE)
        .values("task_id", "worker_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    complete = run_tasks.filter(status=Task.Status.COMPLETE)
    spotting = ours.filter(task__stage="spotting", task__status=Task.Status.COMPLETE)
    segmentation = ours.filter(task__stage="segmentation", task__status=Task.Status.COMPLETE)
    verification = ours.filter(task__stage="verification", task__status=Task.Status.COMPLETE)
    return {
        "slots_leased_to_two_at_once": ledger.double_leases,
        "tasks_with_more_answers_than_needed": per_task.filter(
            submitted__gt=F_answers_needed()
        ).count(),
        "workers_twice_on_one_task": two_slots.count(),
        "acknowledged_answers": len(ledger.accepted),
        "acknowledged_but_not_stored": sum(
            stored.get(slot) != key for slot, key in ledger.accepted.items()
        ),
        "stored_but_not_acknowledged": sum(slot not in ledger.accepted for slot in stored),
        "acknowledged_twice": ledger.double_acks,
        "open_tasks_with_all_answers": per_task.filter(
            status=Task.Status.OPEN, submitted__gte=F_answers_needed()
        ).count(),
        "complete_tasks_without_result": complete.filter(result__isnull=True).count(),
        "spotting_answers_without_spots": spotting.exclude(
            id__in=Spot.objects.values("assignment_id")
        ).count(),
        "segmentation_answers_without_mask": segmentation.exclude(
            id__in=Segmentation.objects.values("assignment_id")
        ).count(),
        "verification_answers_without_votes": verification.exclude(
            id__in=VerificationVote.objects.values("assignment_id")
        ).count(),
        **duplicates_among(run_tasks),
    }


def duplicates_among(tasks: Any) -> dict[str, int]:
    """pipelines.simulator.crew.duplicates' rules, for this run's tasks (the history's tasks
    have no image)."""
    from django.db.models import Count

    from annotation.models import Annotation, Task
    from annotation.models.segmentation import Segmentation
    from annotation.models.verification import CrowdPainting

    def extra(queryset: Any, *fields: str) -> int:
        groups = queryset.values(*fields).annotate(n=Count("id")).filter(n__gt=1)
        return sum(group["n"] - 1 for group in groups)

    tasks = tasks.exclude(status=Task.Status.CANCELLED)
    project = tasks.values("project_id")[:1]
    annotations = Annotation.objects.filter(project_id__in=project)
    segmentations = Segmentation.objects.filter(task__in=tasks)
    return {
        "duplicate_tasks": extra(tasks.filter(stage="labeling"), "image_id")
        + extra(tasks.filter(stage="spotting"), "image_id", "category_id")
        + extra(tasks.filter(stage="crowd"), "image_id", "category_id")
        + extra(tasks.filter(stage="segmentation", status=Task.Status.OPEN), "instance_id"),
        "duplicate_annotations": extra(
            annotations.exclude(source_segmentation=None), "source_segmentation_id"
        )
        + extra(annotations.filter(iscrowd=True), "image_id", "category_id")
        + extra(segmentations.filter(status=Segmentation.Status.ACCEPTED), "instance_id")
        + extra(CrowdPainting.objects.filter(task__in=tasks), "task_id"),
    }


def F_answers_needed() -> Any:
    from django.db.models import F

    return F("answers_needed")


PROBLEMS = (
    "slots_leased_to_two_at_once", "tasks_with_more_answers_than_needed",
    "workers_twice_on_one_task", "acknowledged_but_not_stored", "stored_but_not_acknowledged",
    "acknowledged_twice", "open_tasks_with_all_answers", "complete_tasks_without_result",
    "spotting_answers_without_spots", "segmentation_answers_without_mask",
    "verification_answers_without_votes", "duplicate_tasks", "duplicate_annotations",
)  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['endpoint']} | {row['requests']} | {row['per_second']} | {row['p50_ms']} "
            f"| {row['p95_ms']} | {row['p99_ms']} |"
        )
    return "\n".join(lines)


def main() -> int:
    args = arguments()
    name = f"cocoforge_load_{uuid.uuid4().hex[:8]}"
    queue = f"loadbench-{uuid.uuid4().hex[:8]}"
    var = Path(tempfile.mkdtemp(prefix="loadbench-"))
    env = {
        **os.environ,
        "DATABASE_URL": database_create(name),
        "DJANGO_SETTINGS_MODULE": "tests.pipelines.simulator.queue_settings",
        "COCOFORGE_TEST_QUEUE": queue,
        "COCOFORGE_VAR_DIR": str(var),
        "SECRET_KEY": "load-bench",
        "REDIS_URL": args.redis,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MODELS_SERVICE": "0",  # no model service here: nothing to send it
        "THROTTLE_LEASE_RATE": "1000000/minute",
        "THROTTLE_SUBMIT_RATE": "1000000/minute",
        "THROTTLE_TOKEN_ADDRESS_RATE": "1000000/hour",
        "THROTTLE_TOKEN_ACCOUNT_RATE": "1000000/hour",
        "AXES_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    processes: list[subprocess.Popen] = []
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        import django

        django.setup()
        site = seed(args)
        print(
            f"seeded in {site['seed_seconds']} s: open tasks {site['open_tasks']}, "
            f"{site['assignments']} assignments in all",
            flush=True,
        )
        processes.append(
            start(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
                 "--pool=solo", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
                env, var / "celery.log",
            )
        )  # fmt: skip
        port = free_port()
        processes.append(
            start(
                [sys.executable, "-m", "gunicorn", "config.wsgi:application",
                 "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
                 "--threads", str(args.threads), "--worker-class", "gthread",
                 "--timeout", "120", "--log-level", "warning"],
                env, var / "gunicorn.log",
            )
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_for(url, processes[-1], var / "gunicorn.log")
        began = time.monotonic()
        # A few tokens through the API (a PBKDF2 check each: seconds apiece on a busy
        # 2-core machine), the rest made in the database as an admin's script would.
        asked = site["usernames"][: args.token_logins]
        tokens = asyncio.run(tokens_for(asked, url)) + tokens_made(site["usernames"][len(asked) :])
        print(f"{len(tokens)} tokens ({len(asked)} through /api/v1/auth/token/) in "
              f"{time.monotonic() - began:.1f} s", flush=True)  # fmt: skip
        load_before = os.getloadavg()
        began = time.monotonic()
        ledger = asyncio.run(crowd_run(tokens, site, url, args.duration, args.think))
        seconds = time.monotonic() - began
        load_after = os.getloadavg()
        from pipelines.simulator.crew import settle

        settled = settle(site["project"], queue=queue, timeout=args.settle)
        rows = figures(ledger, seconds)
        found = checks(site, ledger)
        report = {
            "annotators": args.annotators,
            "think_seconds": args.think,
            "seconds": round(seconds, 1),
            "gunicorn": f"{args.workers} workers x {args.threads} threads (gthread)",
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in load_after],
            "settle_seconds": round(settled, 1),
            "site": {k: v for k, v in site.items() if k != "usernames"},
            "endpoints": rows,
            "checks": found,
            "errors": Counter(e.split(":")[0] for e in ledger.errors),
            "connection_retries": ledger.retries,
            "error_samples": ledger.errors[:10],
        }
        print(table(rows))
        print(f"load average before {load_before}, after {load_after}; settled in {settled:.1f} s")
        print(json.dumps({"checks": found, "errors": report["errors"],
                          "connection_retries": ledger.retries}, indent=1))  # fmt: skip
        for sample in ledger.errors[:5]:
            print("  e.g.", sample)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        bad = {k: found[k] for k in PROBLEMS if found.get(k)}
        if bad:
            print(f"DATABASE CHECKS FAILED: {bad}")
            return 1
        print("database checks: all passed")
        return 0
    finally:
        for process in reversed(processes):
            stop(process)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            database_drop(name)
        else:
            print(f"database kept: {env['DATABASE_URL']}")


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{url}/api/v1/me/", timeout=5)
            return
        except urllib.error.HTTPError:
            return  # 401: it answers
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within 120 s")


if __name__ == "__main__":
    random.seed(1)
    sys.exit(main())
