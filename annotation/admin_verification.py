"""Admin pages of verification and crowd painting; imported by annotation/admin.py.

Gold items (known-bad masks) are listed and can be switched off here; votes, grid outcomes
(gold caught per answer) and decisions are read-only records."""

from django.contrib import admin

from annotation.models.verification import (
    CrowdPainting,
    GoldItem,
    GridCell,
    GridOutcome,
    VerificationDecision,
    VerificationVote,
)


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "image", "category", "source", "author", "active"]
    list_filter = ["active", "source", "project"]
    list_editable = ["active"]
    raw_id_fields = ["image", "source_segmentation", "author"]
    readonly_fields = ["polygons", "area", "bbox_xywh"]


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
