"""Writes of a project's stage settings, checked against their declarations
(annotation/stage_settings.py). The settings page, the settings API and `demo_setup` call
these; nothing else writes `Project.stage_settings` except the precision line's service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from annotation.errors import DomainError
from annotation.models import Project
from annotation.stage_settings import (
    DECLARATIONS,
    PRESETS,
    SettingInvalid,
    preset_values,
    setting_check,
    settings_check,
)


class SettingsInvalid(DomainError):
    """Refused settings; `errors` maps each refused key to its reason."""

    code = "settings_invalid"

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in sorted(errors.items())))


def _stored(project: Project) -> dict[str, Any]:
    stored = project.stage_settings
    return dict(stored) if isinstance(stored, Mapping) else {}


def _valid(key: str, value: Any) -> bool:
    try:
        setting_check(key, value)
    except SettingInvalid:
        return False
    return True


@transaction.atomic
def project_settings_update(
    *, project: Project, values: Mapping[str, Any], replace: bool = False
) -> Project:
    """Save settings on a project: merged into what is saved (or, with `replace`, instead of
    it). Every key must be declared and every value valid, also together with the values
    kept; on any refusal nothing is saved and SettingsInvalid lists the reasons."""
    if not isinstance(values, Mapping):
        raise SettingsInvalid({"settings": "expected an object of setting names and values"})
    project = Project.objects.select_for_update().get(id=project.id)
    kept = {} if replace else _stored(project)
    # A value saved earlier that no longer validates (already read as its default and
    # reported on the dashboard) is dropped: an update must not fail on keys it does not
    # touch.
    kept = {key: value for key, value in kept.items() if _valid(key, value)}
    merged = {**kept, **values}
    clean, errors = settings_check(merged)
    if errors:
        touched = {k: v for k, v in errors.items() if k in values} or errors
        raise SettingsInvalid(touched)
    # Keep only values that differ from the declared default: the project then follows
    # the declarations when a default changes.
    project.stage_settings = {
        key: value for key, value in sorted(clean.items()) if value != DECLARATIONS[key].default
    }
    project.save(update_fields=["stage_settings"])
    return project


def project_preset_apply(*, project: Project, preset: str) -> Project:
    """Set every pipeline number to a preset's (the dashboard's own numbers, the MTurk
    settings and the precision line stay)."""
    if preset not in PRESETS:
        raise DomainError(f"there is no preset {preset!r}; presets: {', '.join(PRESETS)}")
    values = {
        key: value
        for key, value in preset_values(preset).items()
        if DECLARATIONS[key].stage not in ("dashboard", "marketplace")
        and key != "labeling_precision_line"
    }
    return project_settings_update(project=project, values=values)
