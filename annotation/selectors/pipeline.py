"""The pipeline of one project as a whole: what the dashboard page and `manage.py pipeline
status` show. Every number is read from the task engine's tables (Task, Assignment) and the
stages' own tables; nothing is stored for the dashboard.

Counts per stage are answer slots (one Assignment row per answer a task needs):
- waiting: free slots of open tasks (in the pool, nobody holds them);
- leased: slots a worker holds now;
- done: answers submitted and counted;
- rejected: answers rejected by quality control (each rejection puts a fresh slot back);
- re-queued: leases that ran out before an answer came, plus rejected answers: work that
  went back to the pool.
Worker-hours are the sum of submit time minus lease time over answered slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from annotation.models import (
    Assignment,
    Category,
    ExportJob,
    GoldItem,
    Project,
    ReferenceMask,
    Segmentation,
    Stage,
    Task,
    WorkerProfile,
)
from annotation.models.projects import project_setting
from annotation.models.verification import VerificationDecision
from annotation.selectors.marketplace import MTurkCost, mturk_costs
from annotation.stage_settings import stored_settings_problems

# COCO's reported effort (thesis §2.4.1-2.4.3, §2.7; PIPELINE.md): ~20k worker-hours of
# labeling and ~10k of spotting over 328,000 photos, 22 hours per 1,000 segmentations.
COCO_IMAGES = 328_000
COCO_EFFORT: dict[str, dict[str, Any]] = {
    Stage.LABELING.value: {"hours": 20_000, "per": "photo", "per_unit": 20_000 / COCO_IMAGES,
                           "text": "~20k worker-hours over 328k photos (§2.4.1)"},
    Stage.SPOTTING.value: {"hours": 10_000, "per": "photo", "per_unit": 10_000 / COCO_IMAGES,
                           "text": "~10k worker-hours over 328k photos (§2.4.2)"},
    Stage.SEGMENTATION.value: {"hours": None, "per": "mask", "per_unit": 22 / 1000,
                               "text": "22 worker-hours per 1,000 segmentations (§2.4.3)"},
}  # fmt: skip
RECENT = timedelta(hours=24)  # the window of "recent throughput" for the ETA


@dataclass(frozen=True)
class StageProgress:
    stage: str
    label: str
    tasks_open: int
    tasks_complete: int
    waiting: int
    leased: int
    done: int
    rejected: int
    requeued: int
    answers_last_hour: int
    answers_recent: int  # within RECENT
    worker_hours: float
    cost: float
    coco_effort: str
    coco_hours_for_ours: float | None  # what COCO's rate would give for our units
    eta_hours: float | None  # waiting + leased slots over recent throughput

    @property
    def remaining(self) -> int:
        return self.waiting + self.leased

    @property
    def eta_text(self) -> str:
        if not self.remaining:
            return "done" if self.tasks_complete else "not started"
        if self.eta_hours is None:
            return "no recent answers"
        return f"{self.eta_hours:.1f} h"


@dataclass(frozen=True)
class Warning:
    kind: str
    message: str
    fix_url_name: str  # a URL name; reversed with the project's id as ?project=
    fix_label: str


@dataclass
class PipelineOverview:
    project: Project
    now: datetime
    pay_rate: float
    stages: list[StageProgress]
    answers_per_hour: list[tuple[datetime, dict[str, int]]]  # last 24 hours, oldest first
    warnings: list[Warning] = field(default_factory=list)
    # Mechanical Turk's bill so far, per endpoint the project has HITs on (none: not on MTurk).
    mturk_costs: list[MTurkCost] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, float]:
        keys = ("waiting", "leased", "done", "rejected", "requeued", "answers_last_hour",
                "answers_recent", "worker_hours", "cost")  # fmt: skip
        return {key: sum(getattr(s, key) for s in self.stages) for key in keys}

    @property
    def eta_hours(self) -> float | None:
        """The slowest stage's ETA (stages run side by side); None if nothing moves."""
        etas = [s.eta_hours for s in self.stages if s.remaining]
        if not etas:
            return 0.0
        if any(eta is None for eta in etas):
            return None
        return max(eta for eta in etas if eta is not None)


def _slot_counts(project: Project) -> dict[str, dict[str, Any]]:
    rows = (
        Assignment.objects.filter(task__project=project)
        .values("task__stage")
        .annotate(
            waiting=Count("id", filter=Q(status=Assignment.Status.FREE,
                                         task__status=Task.Status.OPEN)),
            leased=Count("id", filter=Q(status=Assignment.Status.LEASED)),
            done=Count("id", filter=Q(status=Assignment.Status.SUBMITTED)),
            rejected=Count("id", filter=Q(status=Assignment.Status.REJECTED)),
            expired=Sum("expired_leases"),
        )
    )  # fmt: skip
    return {row["task__stage"]: dict(row) for row in rows}


def _task_counts(project: Project) -> dict[str, dict[str, Any]]:
    rows = (
        Task.objects.filter(project=project)
        .values("stage")
        .annotate(
            open=Count("id", filter=Q(status=Task.Status.OPEN)),
            complete=Count("id", filter=Q(status=Task.Status.COMPLETE)),
        )
    )
    return {row["stage"]: dict(row) for row in rows}


def _answered(project: Project):  # type: ignore[no-untyped-def]
    return Assignment.objects.filter(
        task__project=project,
        status__in=[Assignment.Status.SUBMITTED, Assignment.Status.REJECTED],
        submitted_at__isnull=False,
    )


def _worker_hours(project: Project) -> dict[str, float]:
    spent = ExpressionWrapper(F("submitted_at") - F("leased_at"), output_field=DurationField())
    rows = (
        _answered(project)
        .filter(leased_at__isnull=False)
        .values("task__stage")
        .annotate(spent=Sum(spent))
    )
    return {
        row["task__stage"]: (row["spent"] or timedelta()).total_seconds() / 3600 for row in rows
    }


def _answers_since(project: Project, since: datetime) -> dict[str, int]:
    rows = (
        _answered(project)
        .filter(submitted_at__gte=since)
        .values("task__stage")
        .annotate(n=Count("id"))
    )
    return {row["task__stage"]: row["n"] for row in rows}


def _answers_per_hour(project: Project, now: datetime) -> list[tuple[datetime, dict[str, int]]]:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    rows = (
        _answered(project)
        .filter(submitted_at__gte=start)
        .annotate(hour=TruncHour("submitted_at", tzinfo=UTC))
        .values("hour", "task__stage")
        .annotate(n=Count("id"))
    )
    hours = [start + timedelta(hours=i) for i in range(24)]
    table: dict[datetime, dict[str, int]] = {hour: {} for hour in hours}
    for row in rows:
        hour = row["hour"]
        if hour in table:
            table[hour][row["task__stage"]] = row["n"]
    return [(hour, table[hour]) for hour in hours]


def _coco_units(project: Project, stage: str) -> int:
    """Our units of COCO's effort figure: photos labeled / spotted, masks made."""
    if stage == Stage.SEGMENTATION.value:
        return Segmentation.objects.filter(image__project=project).count()
    if stage == Stage.SPOTTING.value:
        return (
            Task.objects.filter(project=project, stage=stage, status=Task.Status.COMPLETE)
            .values("image")
            .distinct()
            .count()
        )
    return Task.objects.filter(project=project, stage=stage, status=Task.Status.COMPLETE).count()


def pipeline_warnings(project: Project, now: datetime | None = None) -> list[Warning]:
    """What stops the pipeline or hides a problem, each with the page that fixes it."""
    now = now or timezone.now()
    warnings: list[Warning] = []
    problems = stored_settings_problems(project.stage_settings)
    for key, reason in problems:
        warnings.append(
            Warning("settings_invalid",
                    f"Saved setting {key} is not valid ({reason}); the project uses the default "
                    "until it is fixed.", "project-settings", "Fix the settings")
        )  # fmt: skip
    segmentations = Segmentation.objects.filter(image__project=project)
    gold_needed = project_setting(project, "verification_gold_per_grid")
    gold = GoldItem.objects.filter(project=project, active=True).count()
    if segmentations.exists() and gold < gold_needed:
        warnings.append(
            Warning("no_gold",
                    f"Verification needs {gold_needed} gold mask{'s' if gold_needed != 1 else ''} "
                    f"per grid and the project has {gold}: grids are not posted until an expert "
                    "makes more.", "segmentation-expert", "Make gold masks")
        )  # fmt: skip
    wanted = Category.objects.filter(
        taxonomy=project.taxonomy,
        id__in=Task.objects.filter(project=project, stage=Stage.SEGMENTATION, category__isnull=False)
        .values("category"),
    )  # fmt: skip
    referenced = ReferenceMask.objects.filter(image__project=project, active=True).values(
        "category"
    )
    missing = list(wanted.exclude(id__in=referenced).values_list("name", flat=True)[:20])
    if missing:
        warnings.append(
            Warning("no_reference",
                    f"No qualification reference for {', '.join(missing)}: nobody can train on "
                    "these categories, so their segmentation tasks wait.",
                    "segmentation-expert", "Outline a reference")
        )  # fmt: skip
    set_aside = VerificationDecision.objects.filter(
        segmentation__image__project=project,
        outcome=VerificationDecision.Outcome.REJECTED,
        requeued_task__isnull=True,
    ).count()
    if set_aside:
        cap = project_setting(project, "segmentation_max_rejected_outlines")
        warnings.append(
            Warning("set_aside",
                    f"{set_aside} object{'s were' if set_aside != 1 else ' was'} set aside after "
                    f"{cap} rejected outlines each (segmentation_max_rejected_outlines): look at "
                    "them (the decisions whose reason says 'set aside') and outline them yourself "
                    "or leave them out.",
                    "admin:annotation_verificationdecision_changelist", "See the rejected outlines")
        )  # fmt: skip
    pending = segmentations.filter(status=Segmentation.Status.PENDING)
    in_grid = Task.objects.filter(
        project=project, stage=Stage.VERIFICATION, status=Task.Status.OPEN
    )
    grid_size = project_setting(project, "verification_grid_size")
    if pending.exists() and not in_grid.exists():
        waiting = pending.count()
        warnings.append(
            Warning("grids_waiting",
                    f"{waiting} pending mask{'s' if waiting != 1 else ''} wait for a verification "
                    f"grid (a full grid has {grid_size} cells).", "pipeline-dashboard",
                    "Post a partial grid")
        )  # fmt: skip
    stuck_after = timedelta(hours=project_setting(project, "dashboard_stuck_after_hours"))
    answered_lately = Assignment.objects.filter(submitted_at__gte=now - stuck_after)
    stuck = (
        Task.objects.filter(project=project, status=Task.Status.OPEN,
                            created_at__lt=now - stuck_after)
        .exclude(assignments__in=answered_lately)
        .count()
    )  # fmt: skip
    if stuck:
        warnings.append(
            Warning("stuck_tasks",
                    f"{stuck} open task{'s' if stuck != 1 else ''} got no answer in "
                    f"{stuck_after.total_seconds() / 3600:g} hours.", "admin:annotation_task_changelist",
                    "See the tasks")
        )  # fmt: skip
    stuck_exports = ExportJob.objects.filter(
        project=project, status=ExportJob.Status.RUNNING, created_at__lt=now - timedelta(hours=1)
    ).count()
    if stuck_exports:
        warnings.append(
            Warning("stuck_exports",
                    f"{stuck_exports} export job{'s' if stuck_exports != 1 else ''} running for over "
                    "an hour.", "export-page", "See the exports")
        )  # fmt: skip
    blocked = WorkerProfile.objects.filter(blocked=True).count()
    if blocked:
        warnings.append(
            Warning("workers_blocked",
                    f"{blocked} worker{'s are' if blocked != 1 else ' is'} blocked from new work.",
                    "admin:annotation_workerprofile_changelist", "Review blocked workers")
        )  # fmt: skip
    return warnings


MODEL_SERVICE_STATES = {
    "up": "up",
    "down": "down (no models worker answers)",
    "disabled": "disabled (setting MODELS_SERVICE is off, or there is no Celery broker)",
}


def model_service_line(status: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard's model-service line from ``models_service_status()`` (asked by the
    caller: this layer does not talk to Celery): state, text, models served and, when the
    service is not up, a warning that tasks go out without suggestions."""
    state = str(status.get("state", "down"))
    promoted = {k: v for k, v in (status.get("promoted") or {}).items() if v}
    served = ", ".join(f"{name} {version}" for name, version in sorted(promoted.items()))
    text = f"Model service {MODEL_SERVICE_STATES.get(state, state)}"
    if state == "up":
        text += f": serving {served}." if served else ": no checkpoint promoted yet."
    else:
        text += "."
    warning = None
    if state != "up":
        warning = Warning(
            "models_not_up",
            f"The model service is {state}: tasks go out without suggestions "
            "(spotting centres, segmentation starting outlines).",
            "admin:annotation_imageproposals_changelist",
            "See the model service",
        )
    elif not promoted:
        warning = Warning(
            "models_no_checkpoint",
            "The model service has no promoted checkpoint: tasks go out without suggestions "
            "until one is trained (manage.py train_proposals).",
            "admin:annotation_imageproposals_changelist",
            "See the model service",
        )
    return {"state": state, "text": text, "reason": status.get("reason", ""), "warning": warning}


def pipeline_overview(*, project: Project, now: datetime | None = None) -> PipelineOverview:
    now = now or timezone.now()
    slots = _slot_counts(project)
    tasks = _task_counts(project)
    hours = _worker_hours(project)
    last_hour = _answers_since(project, now - timedelta(hours=1))
    recent = _answers_since(project, now - RECENT)
    pay_rate = project_setting(project, "dashboard_pay_rate_per_hour")
    stages = []
    for stage in Stage:
        s = slots.get(stage.value, {})
        t = tasks.get(stage.value, {})
        waiting, leased = s.get("waiting", 0), s.get("leased", 0)
        rejected = s.get("rejected", 0)
        rate = recent.get(stage.value, 0) / (RECENT.total_seconds() / 3600)
        remaining = waiting + leased
        eta = (remaining / rate if rate else None) if remaining else 0.0
        effort = COCO_EFFORT.get(stage.value)
        worker_hours = hours.get(stage.value, 0.0)
        stages.append(
            StageProgress(
                stage=stage.value,
                label=stage.label,
                tasks_open=t.get("open", 0),
                tasks_complete=t.get("complete", 0),
                waiting=waiting,
                leased=leased,
                done=s.get("done", 0),
                rejected=rejected,
                requeued=(s.get("expired") or 0) + rejected,
                answers_last_hour=last_hour.get(stage.value, 0),
                answers_recent=recent.get(stage.value, 0),
                worker_hours=worker_hours,
                cost=worker_hours * pay_rate,
                coco_effort=effort["text"] if effort else "",
                coco_hours_for_ours=(
                    effort["per_unit"] * _coco_units(project, stage.value) if effort else None
                ),
                eta_hours=eta,
            )
        )
    return PipelineOverview(
        project=project,
        now=now,
        pay_rate=pay_rate,
        stages=stages,
        answers_per_hour=_answers_per_hour(project, now),
        warnings=pipeline_warnings(project, now),
        mturk_costs=mturk_costs(project=project),
    )
