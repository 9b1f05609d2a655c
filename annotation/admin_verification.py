"""Admin pages of verification and crowd painting; imported by annotation/admin.py.

Gold items (known-bad masks) are listed and can be switched off here; votes, grid outcomes
(gold caught per answer) and decisions are read-only records."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse

from annotation.models import Project
from annotation.models.verification import (
    CrowdPainting,
    GoldItem,
    GridCell,
    GridOutcome,
    VerificationDecision,
    VerificationVote,
)
from annotation.stages.verification import gold_shortage


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin):
    """Reviewing gold with pictures and catch rates is on /verification/gold/; this list
    warns when a project has masks waiting and too little gold to post a grid."""

    list_display = ["id", "project", "image", "category", "source", "error_kind", "active"]
    list_filter = ["active", "source", "error_kind", "project"]
    list_editable = ["active"]
    raw_id_fields = ["image", "source_segmentation", "derived_from", "author", "retired_by"]
    readonly_fields = ["polygons", "area", "bbox_xywh"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        for project in Project.objects.order_by("name"):
            shortage = gold_shortage(project=project)
            if shortage is not None:
                messages.warning(request, f"{project.name}: {shortage.message}")
        return super().changelist_view(request, extra_context)


@admin.register(GridCell)
class GridCellAdmin(admin.ModelAdmin):
    list_display = ["cell_id", "task", "position", "segmentation", "gold"]
    raw_id_fields = ["task", "segmentation", "gold"]


@admin.register(GridOutcome)
class GridOutcomeAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "worker", "gold_caught", "gold_shown", "passed", "created_at"]
    list_filter = ["passed"]
    raw_id_fields = ["task", "assignment", "worker"]


@admin.register(VerificationVote)
class VerificationVoteAdmin(admin.ModelAdmin):
    list_display = ["id", "segmentation", "worker", "good", "counted", "created_at"]
    list_filter = ["good", "counted"]
    raw_id_fields = ["cell", "assignment", "segmentation", "worker"]


@admin.register(VerificationDecision)
class VerificationDecisionAdmin(admin.ModelAdmin):
    list_display = ["segmentation", "outcome", "good_votes", "bad_votes", "reason", "decided_at"]
    list_filter = ["outcome"]
    raw_id_fields = ["segmentation", "requeued_task"]


@admin.register(CrowdPainting)
class CrowdPaintingAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "worker", "area", "annotation", "seconds", "created_at"]
    raw_id_fields = ["task", "assignment", "worker", "annotation"]
