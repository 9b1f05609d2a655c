"""A worker's own record: their answers per stage, trainings and standing. Only what is
theirs (no other worker's answers, no gold flags)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Count, Q

from annotation.models import Assignment, Qualification, Stage


def worker_record(worker: User) -> dict:
    rows = (
        Assignment.objects.filter(worker=worker)
        .values("task__stage")
        .annotate(
            submitted=Count("id", filter=Q(status=Assignment.Status.SUBMITTED)),
            rejected=Count("id", filter=Q(status=Assignment.Status.REJECTED)),
            leased=Count("id", filter=Q(status=Assignment.Status.LEASED)),
        )
    )
    by_stage: dict[str, dict[str, int]] = {
        row["task__stage"]: {
            "submitted": row["submitted"],
            "rejected": row["rejected"],
            "leased": row["leased"],
        }
        for row in rows
    }
    stages = [
        {
            "stage": stage.value,
            "label": stage.label,
            "submitted": by_stage.get(stage.value, {}).get("submitted", 0),
            "rejected": by_stage.get(stage.value, {}).get("rejected", 0),
            "leased": by_stage.get(stage.value, {}).get("leased", 0),
        }
        for stage in Stage
    ]
    trainings = (
        Qualification.objects.filter(worker=worker)
        .select_related("category")
        .order_by("category__name")
    )
    return {
        "stages": stages,
        "trainings": [
            {"category": q.category.name, "tries": q.tries, "passed": q.passed,
             "best_iou": q.best_iou}
            for q in trainings
        ],
    }  # fmt: skip
