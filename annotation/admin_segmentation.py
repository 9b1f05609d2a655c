"""Admin pages of the segmentation stage; imported by annotation/admin.py.

Pass rates per category are on /segmentation/pass-rates/ (and the Qualification list below
filters by category and passed)."""

from django.contrib import admin

from annotation.models.segmentation import (
    Qualification,
    ReferenceMask,
    Segmentation,
    SegmentationProgress,
    TrainingAttempt,
)


@admin.register(Segmentation)
class SegmentationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "image",
        "category",
        "worker",
        "status",
        "area",
        "vertices",
        "edits",
        "seconds",
    ]
    list_filter = ["status", "category__supercategory"]
    raw_id_fields = ["task", "assignment", "instance", "image", "worker"]
    readonly_fields = ["polygons", "area", "bbox_xywh"]


@admin.register(SegmentationProgress)
class SegmentationProgressAdmin(admin.ModelAdmin):
    list_display = ["image", "category", "state", "reason", "updated_at"]
    list_filter = ["state"]
    raw_id_fields = ["image"]


@admin.register(ReferenceMask)
class ReferenceMaskAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "category", "source", "author", "area", "active", "created_at"]
    list_filter = ["active", "source", "category__supercategory"]
    raw_id_fields = ["image", "author", "source_segmentation"]
    readonly_fields = ["polygons", "area", "bbox_xywh"]


class TrainingAttemptInline(admin.TabularInline):
    model = TrainingAttempt
    extra = 0
    fields = ("reference", "iou", "threshold", "passed", "created_at", "submitted_at")
    readonly_fields = ("reference", "iou", "threshold", "passed", "created_at", "submitted_at")


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["worker", "category", "passed", "tries", "best_iou", "passed_at"]
    list_filter = ["passed", "category"]
    raw_id_fields = ["worker"]
    inlines = [TrainingAttemptInline]


@admin.register(TrainingAttempt)
class TrainingAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "qualification",
        "reference",
        "iou",
        "threshold",
        "passed",
        "created_at",
        "submitted_at",
    ]
    list_filter = ["passed", "qualification__category"]
    raw_id_fields = ["qualification", "reference"]
    readonly_fields = ["polygons"]
