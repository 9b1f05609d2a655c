"""The Django admin for every model. Creating a project goes through `project_create`, so a
project made here gets its taxonomy the same way as one made with the CLI or the API."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from annotation.admin_membership import MembershipInline
from annotation.errors import DomainError
from annotation.models import (
    Assignment,
    Category,
    Image,
    ImageProposals,
    ImageRejection,
    Instance,
    Project,
    Release,
    SceneCategory,
    Submission,
    Task,
    Taxonomy,
    WorkerProfile,
)
from annotation.services.projects import categories_from_csv, project_create
from annotation.stage_settings import settings_check
from pipelines.models_client import models_service_status


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea, required=False)
    template = forms.ChoiceField(
        required=False,
        choices=[("", "— my own categories (below) —"), ("coco", "COCO: 91 categories, 40 scenes")],
    )
    categories_csv = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 8, "placeholder": "name,supercategory,id\nbird,animal,1"}
        ),
        label="Own categories (CSV)",
        help_text="Header name[,supercategory][,id]; ids default to the row order and start at 1.",
    )

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        template, raw = data.get("template"), (data.get("categories_csv") or "").strip()
        if bool(template) == bool(raw):
            raise forms.ValidationError("Choose a template or give your own categories, not both.")
        if raw:
            try:
                data["categories"] = categories_from_csv(raw, where="Own categories")
            except DomainError as error:
                raise forms.ValidationError(error.reason) from None
        return data


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 0
    fields = ["coco_id", "name", "supercategory", "in_coco_2014", "icon"]


class SceneInline(admin.TabularInline):
    model = SceneCategory
    extra = 0


@admin.register(Taxonomy)
class TaxonomyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_template", "created_at"]
    list_filter = ["is_template"]
    inlines = [CategoryInline, SceneInline]


class ProjectChangeForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "slug", "description", "stage_settings"]
        help_texts = {
            "stage_settings": "Checked against the declared settings; the project's Settings "
            "page edits them one by one with their meaning and range."
        }

    def clean_stage_settings(self):  # type: ignore[no-untyped-def]
        values = self.cleaned_data.get("stage_settings")
        if not isinstance(values, dict):
            raise forms.ValidationError("expected a JSON object of setting names and values")
        clean, errors = settings_check(values)
        if errors:
            raise forms.ValidationError(
                [f"{key}: {reason}" for key, reason in sorted(errors.items())]
            )
        return clean


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectChangeForm
    list_display = ["name", "slug", "created_by", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["taxonomy", "created_by", "created_at"]
    inlines = [MembershipInline]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):  # type: ignore[no-untyped-def]
        form = ProjectCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                project = project_create(
                    name=data["name"],
                    description=data.get("description", ""),
                    template=data.get("template") or None,
                    categories=data.get("categories"),
                    created_by=cast(User, request.user),  # the admin site requires staff
                )
            except DomainError as error:
                form.add_error(None, error.reason)
            else:
                self.message_user(request, f"Project {project.name} created.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:annotation_project_change", args=[project.pk])
                )
        from django.template.response import TemplateResponse

        context = {
            **self.admin_site.each_context(request),
            "title": "Add project",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/annotation/project/add.html", context)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["coco_id", "name", "supercategory", "in_coco_2014", "taxonomy"]
    list_filter = ["taxonomy", "supercategory", "in_coco_2014"]
    search_fields = ["name"]


@admin.register(SceneCategory)
class SceneCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "indoor", "taxonomy"]
    list_filter = ["taxonomy", "indoor"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "file_name",
        "project",
        "width",
        "height",
        "photographer",
        "split",
        "source",
    ]
    list_filter = ["project", "split", "source"]
    search_fields = ["file_name", "photographer", "checksum_sha256"]
    readonly_fields = ["checksum_sha256", "width", "height", "created_at"]


@admin.register(ImageRejection)
class ImageRejectionAdmin(admin.ModelAdmin):
    list_display = ["source_ref", "reason", "project", "created_at"]
    list_filter = ["reason", "project"]
    search_fields = ["source_ref", "detail"]


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "category", "created_at"]
    list_filter = ["category"]


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 0
    fields = readonly_fields = (
        "worker",
        "status",
        "lease_expires_at",
        "submitted_at",
        "time_spent_seconds",
        "expired_leases",
    )


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "stage",
        "project",
        "image",
        "category",
        "answers_needed",
        "status",
        "priority",
    ]
    list_filter = ["stage", "status", "project"]
    inlines = [AssignmentInline]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "worker", "status", "lease_expires_at", "submitted_at"]
    list_filter = ["status", "task__stage"]


@admin.register(WorkerProfile)
class WorkerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "blocked"]
    list_filter = ["role", "blocked"]


# Stage admin modules register their own models and pages.
from annotation import (  # noqa: E402,F401
    admin_collection,
    admin_export,
    admin_labeling,
    admin_marketplace,
    admin_segmentation,
    admin_verification,
)


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    """The hidden ground truth is not a field here: it is set only by release_create."""

    list_display = ["name", "project", "image_count", "iou_types", "accepting_submissions"]
    fields = ["project", "name", "slug", "description", "iou_types", "image_count",
              "category_count", "daily_submission_limit", "accepting_submissions"]  # fmt: skip
    readonly_fields = ["project", "slug", "iou_types", "image_count", "category_count"]

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).defer("hidden_ground_truth_gz")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # python manage.py release_create --ground-truth FILE


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["method_name", "release", "submitter", "iou_type", "status", "created_at"]
    list_filter = ["release", "status", "iou_type"]
    exclude = ["results_gz"]
    readonly_fields = ["release", "submitter", "method_name", "iou_type", "results_file_name",
                       "detection_count", "status", "stats", "per_category_ap", "error", "finished_at"]  # fmt: skip
    list_select_related = ["release", "submitter"]

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return (
            super()
            .get_queryset(request)
            .select_related("release", "submitter")
            .defer("results_gz", "release__hidden_ground_truth_gz")
        )


@admin.register(ImageProposals)
class ImageProposalsAdmin(admin.ModelAdmin):
    """Proposals per image and model version; the list page says whether a models worker
    answers (pipelines.models_client.models_service_status)."""

    list_display = ("image", "model_version", "count", "created_at")
    list_filter = ("model_version",)
    readonly_fields = ("image", "model_version", "proposals", "created_at")

    @admin.display(description="proposals")
    def count(self, obj: ImageProposals) -> int:
        return len(obj.proposals)

    def changelist_view(self, request, extra_context=None):  # type: ignore[no-untyped-def]
        status = models_service_status(timeout=1.0)
        served = ", ".join(f"{k}: {v}" for k, v in (status.get("promoted") or {}).items())
        level = messages.INFO if status["state"] == "up" else messages.WARNING
        self.message_user(
            request,
            f"Model service {status['state']}. {status.get('reason', '')} {served}".strip(),
            level,
        )
        return super().changelist_view(request, extra_context)
