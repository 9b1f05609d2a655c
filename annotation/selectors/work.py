"""Reads for the annotator's home page and the API: which stages have work for whom."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotation import stages
from annotation.models import Assignment, Project, Stage, Task
from annotation.services.membership import member_projects
from annotation.services.task_engine import slot_claimable, tasks_open_to


@dataclass(frozen=True)
class StageSummary:
    stage: str
    label: str
    available: bool
    open_tasks: int
    open_for_me: int
    tool_url_name: str | None


def stage_summaries_for(worker: User, project: Project | None = None) -> list[StageSummary]:
    """Every pipeline stage in COCO's order, with its open tasks and those this worker may
    still take (not answered or held by them, with a free slot, eligible by the stage)."""
    tasks = Task.objects.filter(status=Task.Status.OPEN, project__in=member_projects(worker))
    if project is not None:
        tasks = tasks.filter(project=project)
    now = timezone.now()
    open_counts = dict(tasks.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    summaries = []
    for stage in Stage:
        registered = stages.is_registered(stage.value)
        open_for_me = 0
        if registered and open_counts.get(stage.value):
            # What task_next_for_worker would lease, plus what the worker already holds.
            free = Assignment.objects.filter(slot_claimable(now), task=OuterRef("pk"))
            open_for_me = tasks_open_to(worker, stage.value, project).filter(Exists(free)).count()
            held = Assignment.objects.filter(
                worker=worker,
                status=Assignment.Status.LEASED,
                lease_expires_at__gte=now,
                task__stage=stage.value,
            )
            if project is not None:
                held = held.filter(task__project=project)
            open_for_me += held.count()
        summaries.append(
            StageSummary(
                stage=stage.value,
                label=stage.label,
                available=registered,
                open_tasks=open_counts.get(stage.value, 0),
                open_for_me=open_for_me,
                tool_url_name=stages.rules_for(stage.value).tool_url_name if registered else None,
            )
        )
    return summaries


def projects_with_counts() -> QuerySet[Project]:
    return (
        Project.objects.select_related("taxonomy")
        .annotate(
            image_count=Count("images", distinct=True),
            open_task_count=Count("tasks", filter=Q(tasks__status=Task.Status.OPEN), distinct=True),
        )
        .order_by("name")
    )  # aggregation drops Meta.ordering
