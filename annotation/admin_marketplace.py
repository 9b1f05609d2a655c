"""Mechanical Turk records in the admin, read-only: they mirror what MTurk holds, so every
change goes through annotation/services/mturk.py (the Marketplace page or `manage.py mturk`),
never a hand edit that MTurk would not know about."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from annotation.models import (
    MTurkAssignment,
    MTurkHIT,
    MTurkProblem,
    MTurkQualificationType,
    MTurkWorker,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(MTurkHIT)
class MTurkHITAdmin(ReadOnlyAdmin):
    list_display = ["hit_id", "project", "stage", "task", "status", "sandbox", "reward",
                    "max_assignments", "created_at", "expires_at"]  # fmt: skip
    list_filter = ["project", "stage", "status", "sandbox"]
    search_fields = ["hit_id", "hit_type_id"]
    list_select_related = ["project"]


@admin.register(MTurkAssignment)
class MTurkAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["assignment_id", "hit", "worker", "status", "submitted_at", "reviewed_at",
                    "bonus", "bonus_paid_at"]  # fmt: skip
    list_filter = ["status", "hit__project"]
    search_fields = ["assignment_id", "worker__worker_id", "hit__hit_id"]
    list_select_related = ["hit", "worker"]


@admin.register(MTurkWorker)
class MTurkWorkerAdmin(ReadOnlyAdmin):
    list_display = ["worker_id", "user", "created_at"]
    search_fields = ["worker_id", "user__username"]
    list_select_related = ["user"]


@admin.register(MTurkQualificationType)
class MTurkQualificationTypeAdmin(ReadOnlyAdmin):
    list_display = ["qualification_type_id", "project", "category", "sandbox", "created_at"]
    list_filter = ["project", "sandbox"]
    list_select_related = ["project", "category"]


@admin.register(MTurkProblem)
class MTurkProblemAdmin(ReadOnlyAdmin):
    list_display = ["assignment_id", "kind", "project", "hit", "mturk_worker_id", "created_at",
                    "resolved_at"]  # fmt: skip
    list_filter = ["kind", "project"]
    search_fields = ["assignment_id", "mturk_worker_id"]
    list_select_related = ["project", "hit"]
