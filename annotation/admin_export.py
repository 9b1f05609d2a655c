"""Admin pages of export; imported by annotation/admin.py."""

from django.contrib import admin

from annotation.models import Annotation


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["coco_id", "project", "image", "category", "iscrowd", "area", "origin"]
    list_filter = ["project", "origin", "iscrowd"]
    search_fields = ["coco_id"]
    readonly_fields = ["created_at"]
