"""The Django side of a simulation: the project built from the ground truth, its people (ONE
function creates them all), and what the driver reads from the database: whether the
pipeline has settled, the open work per stage, what a verification cell shows (the
simulated verifier's eyes), and the end-of-run checks (lost answers, duplicates).

The simulator runs with the settings of the site it drives (same database), whether it
started that site itself or was pointed at one with --url.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q
from rest_framework.authtoken.models import Token

from annotation.models import (
    Annotation,
    Assignment,
    Project,
    Stage,
    Task,
    WorkerProfile,
)
from annotation.models.segmentation import Segmentation, TrainingAttempt
from annotation.models.verification import CrowdPainting, GridCell
from annotation.services import task_engine
from annotation.services.membership import membership_add
from annotation.services.people import profile_for, worker_create
from annotation.services.projects import project_create
from pipelines.simulator import handoff_count
from pipelines.simulator.behaviour import SimWorker
from pipelines.simulator.groundtruth import GroundTruth


@dataclass
class Crew:
    admin: SimWorker
    experts: list[SimWorker]  # the first authors references and gold
    annotators: list[SimWorker]

    @property
    def expert(self) -> SimWorker:
        return self.experts[0]


def simulation_project_create(*, gt: GroundTruth, name: str) -> Project:
    """A project whose taxonomy is the ground truth's categories, ids kept (so the export
    is scored against the file as it is); a missing supercategory reads as none."""
    return project_create(
        name=name,
        description="Built by simulate_crowd from a ground-truth file.",
        categories=[
            {"id": c.id, "name": c.name, "supercategory": c.supercategory} for c in gt.categories
        ],
    )


@transaction.atomic
def simulation_settings_set(*, project: Project, values: dict) -> Project:
    """Stage setting overrides for the simulated project (e.g. fewer spotting answers)."""
    project = Project.objects.select_for_update().get(id=project.id)
    project.stage_settings = {**project.stage_settings, **values}
    project.save(update_fields=["stage_settings"])
    return project


@transaction.atomic
def simulation_crew_create(
    *, project: Project, annotators: int, spammer_share: float, prefix: str, experts: int = 1
) -> Crew:
    """Every simulated person of a run, with an API token: an admin, `experts` experts (the
    first makes the references and gold; together they take the work no annotator may) and
    `annotators` annotators, the last round(share * n) of them spammers.
    THE one place a simulation makes people (project membership belongs here)."""

    def make(role: str, name: str, index: int, spammer: bool = False) -> SimWorker:
        # Token only: no password to hash (half a second of CPU per person).
        user = worker_create(username=f"{prefix}-{name}", password=None, role=role)
        token = Token.objects.create(user=user)
        if role != WorkerProfile.Role.ADMIN:  # admins see every project; the others join it
            membership_add(project=project, user=user, role=role)
        return SimWorker(index=index, username=user.username, token=token.key, spammer=spammer)

    spammers = round(spammer_share * annotators)
    return Crew(
        admin=make(WorkerProfile.Role.ADMIN, "admin", -1),
        experts=[
            make(WorkerProfile.Role.EXPERT, "expert" if i == 0 else f"expert{i + 1}", -2 - i)
            for i in range(experts)
        ],
        annotators=[
            make(WorkerProfile.Role.ANNOTATOR, f"w{i:03d}", i, spammer=i >= annotators - spammers)
            for i in range(annotators)
        ],
    )


# What the driver reads --------------------------------------------------------------------


def open_tasks_by_stage(project_id: int) -> dict[str, int]:
    rows = (
        Task.objects.filter(project_id=project_id, status=Task.Status.OPEN)
        .values_list("stage")
        .annotate(n=Count("id"))
    )
    return dict(rows.values_list("stage", "n"))  # type: ignore[arg-type]


def free_slots(project_id: int, stage: str) -> int:
    """Answer slots of open tasks of a stage that nobody holds."""
    return Assignment.objects.filter(
        task__project_id=project_id,
        task__stage=stage,
        task__status=Task.Status.OPEN,
        status=Assignment.Status.FREE,
    ).count()


def may_get_work(project: Project, stage: str, username: str) -> bool:
    """False when POST /api/v1/tasks/next/ would surely answer "no work for you" (204): no
    free slot of an open task this person may take, asked of the task engine's own selector
    (`task_engine.tasks_open_to`). The driver then sends no lease, as a tool that shows
    "nothing for you now" sends none; it changes no outcome, only spares the request.
    A blocked person is sent (the site answers 403 and the driver notes it)."""
    user = _user(username)
    if profile_for(user).blocked:
        return True
    tasks = task_engine.tasks_open_to(user, stage, project)
    return Assignment.objects.filter(status=Assignment.Status.FREE, task__in=tasks).exists()


@functools.cache
def _user(username: str) -> User:
    return User.objects.get(username=username)


def free_slots_of(task_id: int) -> int:
    return Assignment.objects.filter(task_id=task_id, status=Assignment.Status.FREE).count()


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _queue_busy(queue: str) -> bool:
    """Messages waiting in, or taken but not yet acknowledged from, a Redis queue."""
    client = _redis(settings.CELERY_BROKER_URL)
    if client.llen(queue):
        return True
    return any(f'"{queue}"'.encode() in raw for raw in client.hvals("unacked"))


def settle(project_id: int, *, queue: str | None, timeout: float = 600.0) -> float:
    """Wait until every hand-off of the project has run: no complete task whose completion
    rule has not recorded its result and, when the site hands work to a Celery worker
    through `queue` (None: tasks run inside the requests), as many hand-offs of the queue
    finished as were sent (pipelines/simulator/handoff_count.py, when the site counts them),
    or else the queue empty, nothing unacknowledged and the database unchanged over two
    looks 0.1 s apart. Returns the seconds waited."""
    start = time.monotonic()
    previous = None
    while True:
        pending = Task.objects.filter(
            project_id=project_id, status=Task.Status.COMPLETE, result__isnull=True
        ).exists()
        # The site counts its hand-offs once it has sent one (None: it does not count).
        counted = handoff_count.counters(queue) if queue is not None else None
        if queue is None or counted is not None:
            published, finished = counted or (0, 0)
            if not pending and finished >= published:
                return time.monotonic() - start
        else:
            state = (
                _queue_busy(queue),
                Task.objects.filter(project_id=project_id).aggregate(
                    n=Count("id"), open=Count("id", filter=Q(status=Task.Status.OPEN))
                ),
                Segmentation.objects.filter(image__project_id=project_id).count(),
                Annotation.objects.filter(project_id=project_id).count(),
            )
            if not pending and not state[0] and state == previous:
                return time.monotonic() - start
            previous = state
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"the pipeline did not settle within {timeout:.0f} s")
        # A message is out of the list and not yet in "unacked" for an instant between
        # the worker's BRPOP and its bookkeeping: without counters, look twice.
        time.sleep(0.01 if queue is None or counted is not None else 0.1)


def celery_queue() -> str | None:
    """The queue this site's hand-offs go to, or None when they run inside the request."""
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
        return None
    return str(settings.CELERY_TASK_DEFAULT_QUEUE)


def cell_contents(cell_ids: list[str]) -> dict[str, tuple[int, int, list[list[float]], str]]:
    """What each grid cell's picture shows (the simulated verifier's eyes): image id,
    category id, outline, and whether it is a worker's mask or a gold item."""
    shown = {}
    cells = GridCell.objects.filter(cell_id__in=cell_ids).select_related(
        "segmentation__category", "gold__category"
    )
    for cell in cells:
        item = cell.segmentation or cell.gold
        assert item is not None  # a cell holds a mask or a gold item (a DB constraint)
        kind = "mask" if cell.segmentation_id else "gold"
        shown[cell.cell_id] = (item.image_id, item.category.coco_id, item.polygons, kind)
    return shown


# End-of-run checks ------------------------------------------------------------------------


def answers_per_stage(project_id: int) -> dict[str, int]:
    """Answers given per stage (counted or later rejected), and training tries."""
    rows = (
        Assignment.objects.filter(
            task__project_id=project_id,
            status__in=[Assignment.Status.SUBMITTED, Assignment.Status.REJECTED],
        )
        .values_list("task__stage")
        .annotate(n=Count("id"))
    )
    counts = {stage: 0 for stage in Stage.values if stage != Stage.COLLECTION}
    counts.update(dict(rows.values_list("task__stage", "n")))  # type: ignore[arg-type]
    counts["training"] = TrainingAttempt.objects.filter(
        reference__image__project_id=project_id
    ).count()
    return counts


def lost_answers(accepted: dict[int, str]) -> int:
    """Answers the server acknowledged (assignment id -> idempotency key) that the database
    does not hold."""
    held = set(Assignment.objects.filter(id__in=list(accepted)).values_list("id", "submission_key"))
    return sum((assignment, key) not in held for assignment, key in accepted.items())


def duplicates(project_id: int) -> dict[str, int]:
    """Rows that exist more often than the rules allow."""

    def extra(queryset, *fields: str) -> int:  # type: ignore[no-untyped-def]
        groups = queryset.values(*fields).annotate(n=Count("id")).filter(n__gt=1)
        return sum(group["n"] - 1 for group in groups)

    tasks = Task.objects.filter(project_id=project_id).exclude(status=Task.Status.CANCELLED)
    segmentations = Segmentation.objects.filter(image__project_id=project_id)
    annotations = Annotation.objects.filter(project_id=project_id)
    duplicate_tasks = (
        extra(tasks.filter(stage=Stage.LABELING), "image_id")
        + extra(tasks.filter(stage=Stage.SPOTTING), "image_id", "category_id")
        + extra(tasks.filter(stage=Stage.CROWD), "image_id", "category_id")
        + extra(tasks.filter(stage=Stage.SEGMENTATION, status=Task.Status.OPEN), "instance_id")
    )
    duplicate_annotations = (
        extra(annotations.exclude(source_segmentation=None), "source_segmentation_id")
        + extra(annotations.filter(iscrowd=True), "image_id", "category_id")
        + extra(segmentations.filter(status=Segmentation.Status.ACCEPTED), "instance_id")
        + extra(CrowdPainting.objects.filter(task__project_id=project_id), "task_id")
    )
    return {"duplicate_tasks": duplicate_tasks, "duplicate_annotations": duplicate_annotations}
