"""Admin pages of export; imported by annotation/admin.py."""

from django.contrib import admin

from annotation.models import Annotation, ExportJob, ExportLicense


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["coco_id", "project", "image", "category", "iscrowd", "area", "origin"]
    list_filter = ["project", "origin", "iscrowd"]
    search_fields = ["coco_id"]
    readonly_fields = ["created_at"]


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "split", "kinds", "include_unfinished", "status",
                    "done_items", "total_items", "attempts", "created_at", "finished_at"]  # fmt: skip
    list_filter = ["project", "status"]
    readonly_fields = ["created_at", "finished_at", "checksum_sha256", "files", "folder", "error",
                       "heartbeat_at", "attempts"]  # fmt: skip


@admin.register(ExportLicense)
class ExportLicenseAdmin(admin.ModelAdmin):
    list_display = ["coco_id", "project", "name", "url"]
    list_filter = ["project"]
