"""Admin pages of the labeling stage(s); imported by annotation/admin.py."""

from django.contrib import admin

from annotation.models.labeling import CategoryPresence, Spot


@admin.register(CategoryPresence)
class CategoryPresenceAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "category", "labeling_task", "spotting_task", "created_at"]
    list_filter = ["category__supercategory"]
    raw_id_fields = ["image", "labeling_task", "spotting_task"]
    readonly_fields = ["positions"]


@admin.register(Spot)
class SpotAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "category", "worker", "x", "y", "task", "rank"]
    list_filter = ["category__supercategory"]
    raw_id_fields = ["image", "task", "assignment", "worker"]
