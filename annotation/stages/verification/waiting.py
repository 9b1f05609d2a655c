"""Which of a project's masks wait for a verification grid."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from annotation.models import Project, Task
from annotation.models.segmentation import Segmentation
from annotation.models.verification import GridCell


def masks_awaiting_grid(project: Project) -> QuerySet[Segmentation]:
    """Pending masks of the project that sit in no unfinished grid (open, or complete but
    not yet tallied: the tally runs in a Celery task after the commit)."""
    in_open_grid = GridCell.objects.filter(segmentation_id=OuterRef("pk")).filter(
        Q(task__status=Task.Status.OPEN)
        | Q(task__status=Task.Status.COMPLETE, task__result__isnull=True)
    )
    return (
        Segmentation.objects.filter(image__project=project, status=Segmentation.Status.PENDING)
        .exclude(Exists(in_open_grid))
        .select_related("category")  # each cell shows its category's name
        .order_by("id")
    )
