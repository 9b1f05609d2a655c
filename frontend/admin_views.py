"""The admin's pages for one project as a whole: the pipeline dashboard, the settings form
built from the stage settings' declarations (annotation/stage_settings.py) and the
Mechanical Turk marketplace page."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import MTurkAssignment, MTurkProblem, Project, Stage
from annotation.models.projects import project_setting
from annotation.selectors.marketplace import (
    assignment_verdict,
    mturk_assignments_awaiting_review,
    mturk_costs,
    mturk_hits,
    mturk_open_problem,
    mturk_problems_open,
)
from annotation.selectors.pipeline import model_service_line, pipeline_overview
from annotation.services import mturk
from annotation.services.project_settings import (
    SettingsInvalid,
    project_preset_apply,
    project_settings_update,
)
from annotation.stage_settings import (
    DECLARATIONS,
    PRESETS,
    SettingDeclaration,
    declarations_by_stage,
    setting_check,
    setting_read,
    stored_settings_problems,
)
from annotation.stages.verification import verification_post_grids
from frontend.access import require_admin
from frontend.figures import answers_per_hour_svg
from pipelines.crowd_background import crowd_runs, crowd_simulator_available, crowd_start
from pipelines.models_client import models_service_status

FORM_CONTROL_NAMES = {"csrfmiddlewaretoken", "action", "preset", "settings_json"}


def _project(request: HttpRequest, project_id: int | None) -> Project | None:
    if project_id is not None:
        return get_object_or_404(Project, pk=project_id)
    chosen = request.GET.get("project")
    if chosen and chosen.isdigit():
        return get_object_or_404(Project, pk=int(chosen))
    return Project.objects.order_by("name").first()


def _field(declaration: SettingDeclaration) -> forms.Field:
    common: dict[str, Any] = {
        "label": declaration.key,
        "help_text": declaration.meaning,
        "required": declaration.kind != "float_or_none",
    }
    if declaration.choices:
        return forms.ChoiceField(choices=[(c, c) for c in declaration.choices], **common)
    if declaration.kind == "str":
        return forms.CharField(**common)
    low, high = declaration.minimum, declaration.maximum
    if declaration.kind == "int":
        return forms.IntegerField(
            min_value=None if low is None else int(low),
            max_value=None if high is None else int(high),
            **common,
        )
    return forms.FloatField(min_value=low, max_value=high, **common)


class StageSettingsForm(forms.Form):
    """One field per declared setting; keys that are not declared are refused."""

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        stored = project.stage_settings if isinstance(project.stage_settings, dict) else {}
        initial = {key: setting_read(stored, key) for key in DECLARATIONS}
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        for key, declaration in DECLARATIONS.items():
            self.fields[key] = _field(declaration)
        self.project = project

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.data:
            unknown = sorted(set(self.data) - set(self.fields) - FORM_CONTROL_NAMES)
            for key in unknown:
                try:
                    setting_check(key, self.data[key])
                except ValueError as error:
                    self.add_error(None, str(error))
        return data

    def stages(self) -> list[tuple[str, list[tuple[SettingDeclaration, Any]]]]:
        return [
            (stage, [(d, self[d.key]) for d in declarations])
            for stage, declarations in declarations_by_stage()
        ]


def _settings_from_json(raw: str) -> dict[str, Any]:
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as error:
        reason = f"not valid JSON ({error.msg}, line {error.lineno})"
        raise SettingsInvalid({"settings": reason}) from None
    if not isinstance(values, dict):
        raise SettingsInvalid({"settings": "expected a JSON object of setting names and values"})
    return values


@login_required
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    """Edit a project's stage settings: the form, a preset, or pasted JSON; every path is
    checked against the declarations and refused with the reason."""
    require_admin(request, "only admins change a project's settings")
    project = get_object_or_404(Project, pk=project_id)
    form = StageSettingsForm(project=project)
    status = 200
    json_error = ""
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "preset":
                preset = request.POST.get("preset", "")
                project_preset_apply(project=project, preset=preset)
                messages.success(request, f"Preset {PRESETS[preset].name!r} applied.")
                return redirect("project-settings", project_id=project.id)
            if action == "json":
                project_settings_update(
                    project=project,
                    values=_settings_from_json(request.POST.get("settings_json", "")),
                )
                messages.success(request, "Settings saved from JSON.")
                return redirect("project-settings", project_id=project.id)
            form = StageSettingsForm(request.POST, project=project)
            if form.is_valid():
                values = {key: form.cleaned_data[key] for key in DECLARATIONS}
                project_settings_update(project=project, values=values, replace=True)
                messages.success(request, "Settings saved.")
                return redirect("project-settings", project_id=project.id)
        except SettingsInvalid as error:
            if action == "json":
                json_error = error.reason
            else:
                for key, reason in error.errors.items():
                    form.add_error(key if key in form.fields else None, reason)
        except DomainError as error:
            messages.error(request, error.reason)
        status = 400
    return render(
        request,
        "frontend/project_settings.html",
        {
            "project": project,
            "form": form,
            "presets": PRESETS.values(),
            "stored_problems": stored_settings_problems(project.stage_settings),
            "json_error": json_error,
            "json_value": request.POST.get("settings_json", "") if json_error else "",
            "projects": Project.objects.order_by("name"),
        },
        status=status,
    )


def _fix_url(name: str, project: Project) -> str:
    try:
        return reverse(name, kwargs={"project_id": project.id})
    except NoReverseMatch:
        if name.startswith("admin:"):
            return reverse(name)
        return f"{reverse(name)}?project={project.id}"


@login_required
def pipeline_dashboard(request: HttpRequest, project_id: int | None = None) -> HttpResponse:
    """The project's pipeline at a glance (the same numbers as `manage.py pipeline status`)."""
    require_admin(request, "only admins see the pipeline dashboard")
    project = _project(request, project_id)
    if project is None:
        return render(request, "frontend/dashboard.html", {"project": None})
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "partial_grid":
            try:
                posted = verification_post_grids(project=project, allow_partial=True)
            except DomainError as error:
                messages.error(request, error.reason)
            else:
                messages.info(request, f"{len(posted)} verification grid(s) posted.")
        elif action == "crowd":
            if crowd_simulator_available():
                run = crowd_start()
                messages.info(
                    request,
                    f"Simulated workers started in the background: they build the project "
                    f"{run.name!r} (log: {run.log}); its link appears under Simulated crowd runs.",
                )
            else:
                messages.error(request, "The crowd simulator (simulate_crowd) is not installed.")
        return redirect("pipeline-dashboard", project_id=project.id)
    overview = pipeline_overview(project=project)
    warnings = [(w, _fix_url(w.fix_url_name, project)) for w in overview.warnings]
    models_line = model_service_line(models_service_status(timeout=1.0))
    if models_line["warning"] is not None:
        warnings.append(
            (models_line["warning"], _fix_url(models_line["warning"].fix_url_name, project))
        )
    return render(
        request,
        "frontend/dashboard.html",
        {
            "project": project,
            "projects": Project.objects.order_by("name"),
            "overview": overview,
            "totals": overview.totals,
            "warnings": warnings,
            "chart_svg": answers_per_hour_svg(
                overview.answers_per_hour, {s.stage: s.label for s in overview.stages}
            ),
            "crowd_available": crowd_simulator_available(),
            "models_line": models_line,
            "crowd_runs": crowd_runs(),
        },
    )


def _marketplace_action(request: HttpRequest, project: Project) -> None:
    """One button of the Marketplace page; MTurk's refusals become the page's message."""
    action = request.POST.get("action", "")
    assignment_id = request.POST.get("assignment", "")
    if action == "sync":
        messages.info(request, f"Synced: {mturk.assignments_sync(project=project).line()}.")
    elif action == "expire":
        expired = mturk.hits_expire_finished(project=project)
        messages.info(request, f"{len(expired)} HIT(s) of finished tasks expired.")
    elif action == "publish":
        limit_text = request.POST.get("limit", "").strip()
        if limit_text and not limit_text.isdigit():
            raise DomainError("the limit is a whole number of HITs")
        report = mturk.hits_publish(
            project=project,
            stage=request.POST.get("stage", ""),
            limit=int(limit_text) if limit_text else None,
        )
        messages.success(request, f"{len(report.published)} HIT(s) published.")
    elif action == "review":
        lines = mturk.review_pending(project=project, apply=True)
        done = sum(line.done in ("approved", "rejected") for line in lines)
        messages.info(request, f"{done} assignment(s) reviewed from cocoforge's verdicts.")
    elif action == "approve":
        mturk.assignment_approve(assignment_id=assignment_id)
        messages.success(request, f"Assignment {assignment_id} approved.")
    elif action == "reject":
        mturk.assignment_reject(assignment_id=assignment_id, reason=request.POST.get("reason", ""))
        messages.success(request, f"Assignment {assignment_id} rejected.")
    elif action == "bonus":
        mturk.bonus_send(
            assignment_id=assignment_id,
            amount=request.POST.get("amount", ""),
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, f"Bonus sent for assignment {assignment_id}.")
    elif action == "dismiss":
        problem_id = request.POST.get("problem", "")
        dismissed = MTurkProblem.objects.filter(
            project=project, id=int(problem_id) if problem_id.isdigit() else 0, resolved_at=None
        ).update(resolved_at=timezone.now())
        if not dismissed:
            raise DomainError("no such open problem")
        messages.info(request, "Problem dismissed (its assignment is still never paid here).")
    elif action == "balance":
        balance = mturk.account_balance()
        where = "sandbox" if balance.sandbox else "production"
        messages.info(request, f"MTurk {where} balance: ${balance.available}.")
    else:
        raise DomainError(f"unknown action {action!r}")


@login_required
def marketplace(request: HttpRequest, project_id: int) -> HttpResponse:
    """Mechanical Turk for one project: its HITs, the assignments awaiting review with
    cocoforge's verdict (approve / reject with the reason prefilled / bonus), problems, the
    cost so far and the balance (docs/admin/mturk.md)."""
    require_admin(request, "only admins manage Mechanical Turk")
    project = get_object_or_404(Project, pk=project_id)
    if request.method == "POST":
        try:
            _marketplace_action(request, project)
        except DomainError as error:
            messages.error(request, error.reason)
            return redirect("marketplace", project_id=project.id)
        return redirect("marketplace", project_id=project.id)
    awaiting = [
        (row, assignment_verdict(row.answer_slot), mturk_open_problem(row.assignment_id))
        for row in mturk_assignments_awaiting_review(project=project)
    ]
    return render(
        request,
        "frontend/marketplace.html",
        {
            "project": project,
            "projects": Project.objects.order_by("name"),
            "production": mturk.mturk_production(),
            "site_url": settings.SITE_URL,
            "hits": mturk_hits(project=project)[:200],
            "awaiting": awaiting,
            "approved": MTurkAssignment.objects.filter(
                hit__project=project, status=MTurkAssignment.Status.APPROVED
            ).select_related("hit", "worker")[:200],
            "problems": mturk_problems_open(project=project),
            "costs": mturk_costs(project=project),
            "stages": Stage.choices,
            "enabled": project_setting(project, "mturk_enabled") == 1,
        },
    )
