"""Project membership in the admin: on each project's page (inline) and as its own list.
Adding or removing goes through the membership services, so a removed member's leases on
the project go back to the pool."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from annotation.models import Membership
from annotation.services.membership import membership_remove


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fields = ["user", "role", "added_at"]
    readonly_fields = ["added_at"]
    autocomplete_fields = ["user"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "added_at"]
    list_filter = ["project", "role"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "project"]

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(project=obj.project, user=obj.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:  # type: ignore[no-untyped-def]
        for membership in queryset.select_related("project", "user"):
            membership_remove(project=membership.project, user=membership.user)
