"""Every per-project number of the pipeline, declared once: name, type, range, default, a
one-line meaning and where the COCO thesis (../shared/seeds/000_*) says it.

Stages read a project's value with `annotation.models.projects.project_setting`, which
goes through `setting_read` here; the admin's settings form, the settings API and the
pipeline dashboard check values with `settings_check` and `stored_settings_problems`.
A value saved before a declaration changed (or written around the checks) is never
trusted: it reads as the declared default and the dashboard reports it.

This module is plain Python (no Django) so that every layer may import it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "float", "str", "float_or_none"]


@dataclass(frozen=True)
class SettingDeclaration:
    key: str
    stage: str
    kind: Kind
    default: Any
    meaning: str
    reference: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def range_text(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        low = "" if self.minimum is None else f"{self.minimum:g}"
        high = "" if self.maximum is None else f"{self.maximum:g}"
        if not low and not high:
            return ""
        return f"{low or '…'} to {high or '…'}"


class SettingInvalid(ValueError):
    """A value that its declaration refuses; `reason` says why in one sentence."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _d(
    key: str,
    stage: str,
    kind: Kind,
    default: Any,
    meaning: str,
    reference: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
) -> SettingDeclaration:
    return SettingDeclaration(key, stage, kind, default, meaning, reference, minimum, maximum,
                              choices)  # fmt: skip


# Stages in COCO's order; "dashboard" holds the numbers the pipeline dashboard uses.
STAGE_ORDER = (
    "collection", "labeling", "spotting", "segmentation", "verification", "dashboard",
    "marketplace",
)  # fmt: skip

_DECLARED = [
    # --- collection (thesis §2.3.2, §2.6, appendix A "Non-iconic Image Collection") ---
    _d("collection_grid_size", "collection", "int", 128,
       "Thumbnails in one filtering grid.", "appendix A: a grid of 128 candidates", 1, 512),
    _d("collection_answers_per_grid", "collection", "int", 3,
       "Workers who answer each filtering grid.", "appendix A", 1, 20),
    _d("collection_keep_votes", "collection", "int", 0,
       "Keep votes needed to accept a photo; 0 means a strict majority of the answers.",
       "appendix A", 0, 20),
    _d("collection_photographer_cap", "collection", "int", 5,
       "Photos kept per photographer within the time window.",
       "§2.3.2: at most 5 photos by one photographer in a short window", 1, 1000),
    _d("collection_photographer_window_minutes", "collection", "int", 60,
       "Length of the photographer window, in minutes.", "§2.3.2", 1, 7 * 24 * 60),
    _d("collection_near_duplicate_bits", "collection", "int", 5,
       "Perceptual-hash distance (of 64 bits) at or under which two photos are one.",
       "§2.6: near-duplicates removed", 0, 32),
    _d("collection_split_train", "collection", "float", 0.5,
       "Share of photos put in train.", "§2.6: about 1/2 train", 0, 1),
    _d("collection_split_val", "collection", "float", 0.25,
       "Share of photos put in val.", "§2.6: 1/4 val", 0, 1),
    _d("collection_split_test", "collection", "float", 0.25,
       "Share of photos put in test.", "§2.6: 1/4 test", 0, 1),
    _d("collection_photos_per_query", "collection", "int", 100,
       "Candidates fetched per search query.", "§2.3.2", 1, 10000),
    _d("collection_per_page", "collection", "int", 100,
       "Results asked of the photo source per page.", "", 1, 500),
    _d("collection_fallback_min_yield", "collection", "int", 10,
       "A category whose pair/scene queries stored fewer candidates gets a single query.",
       "§2.3.2: single-category queries for rare categories", 0, 10000),
    _d("collection_flickr_license", "collection", "str", "1,2,3,4,5,6,7,8,9,10",
       "Flickr licence ids searched (comma-separated; 0 is All Rights Reserved).", "§2.3.2"),
    _d("collection_flickr_sort", "collection", "str", "relevance",
       "Flickr search order.", "", choices=("relevance", "interestingness-desc",
                                            "date-posted-desc", "date-taken-desc")),
    # --- labeling (§2.4.1, §2.4.4) ---
    _d("labeling_answers_per_image", "labeling", "int", 8,
       "Workers who label each photo's categories.",
       "§2.4: increased the number of annotators to eight", 1, 20),
    _d("labeling_precision_line", "labeling", "float_or_none", None,
       "Labeling answers of annotators under this precision are rejected; empty means none.",
       "§2.4.4, Fig. 2.4b", 0, 1),
    _d("labeling_quality_min_jobs", "labeling", "int", 1,
       "Judged jobs an annotator needs before the precision line applies.", "§2.4.4", 1, 10000),
    # --- spotting (§2.4.2) ---
    _d("spotting_answers_per_task", "spotting", "int", 8,
       "Workers who mark instances of each (photo, category).", "§2.4.2", 1, 20),
    _d("spotting_max_spots", "spotting", "int", 10,
       "Crosses one worker may place per (photo, category).",
       "§2.4.2: at most 10 instances of a category per image", 1, 100),
    # --- segmentation (§2.4.3) ---
    _d("segmentation_max_instances", "segmentation", "int", 10,
       "Instances outlined per (photo, category) before the rest go to crowd painting.",
       "§2.4.3: 10-15 per category and image", 1, 100),
    _d("segmentation_max_rejected_outlines", "segmentation", "int", 5,
       "Outlines of one object verification may reject before the object is set aside for "
       "the admin (dashboard) instead of going back to the pool.",
       "crowd simulator (issue 12): an object whose outlines keep failing looped forever",
       1, 100),
    _d("segmentation_max_vertices", "segmentation", "int", 2000,
       "Vertices an outline may have, all parts together.", "", 3, 100000),
    _d("segmentation_min_area", "segmentation", "float", 2.0,
       "Smallest outline area in pixels; smaller is a click, not an outline.", "", 0, 1e6),
    _d("segmentation_qualification_iou", "segmentation", "float", 0.8,
       "Mask IoU with the expert's outline needed to pass a category's training.",
       "§2.4.3: about 1 in 3 workers passed", 0.01, 1),
    _d("qualification_max_failed_tries", "segmentation", "int", 3,
       "Failed training tries a worker may make before a cool-down.",
       "issue 13: qualification that tests skill, not patience", 1, 100),
    _d("qualification_cooldown_minutes", "segmentation", "int", 24 * 60,
       "How long a worker waits after using up their failed tries.", "", 0, 7 * 24 * 60),
    _d("qualification_accepted_references_min", "segmentation", "int", 5,
       "Accepted masks a category needs before they also serve as training references.",
       "", 1, 1000),
    _d("qualification_reference_min_good", "segmentation", "int", 3,
       "Good votes (and no poor one) an accepted mask needs to become a reference.",
       "§2.4.3: 3 votes, then 5", 1, 5),
    # --- verification (§2.4.3, appendix A) ---
    _d("verification_grid_size", "verification", "int", 64,
       "Cells in one verification grid, gold included.", "appendix A: grids of 64", 2, 256),
    _d("verification_gold_per_grid", "verification", "int", 4,
       "Known-bad gold masks hidden in each grid; 0 trusts the verifiers (a small team).",
       "appendix A: 4 known-bad", 0, 64),
    _d("verification_min_gold_caught", "verification", "int", 3,
       "Gold cells a worker must mark poor for the answer to count.",
       "appendix A: 3 of the 4", 0, 64),
    _d("verification_first_votes", "verification", "int", 3,
       "Votes every mask gets first.", "appendix A: shown to 3 annotators", 1, 20),
    _d("verification_total_votes", "verification", "int", 5,
       "Votes a mask gets when any first vote said poor.", "appendix A: 2 additional", 1, 20),
    _d("verification_min_good", "verification", "int", 4,
       "Good votes of the total needed to keep a mask.", "appendix A: 4 of 5", 1, 20),
    _d("verification_block_min_decided", "verification", "int", 10,
       "Judged masks before a segmenter can be blocked.", "§2.4.3", 1, 10000),
    _d("verification_block_reject_rate", "verification", "float", 0.5,
       "Share of rejected masks at which a segmenter is blocked.", "§2.4.3", 0, 1),
    _d("verification_gold_pool", "verification", "int", 32,
       "Gold items made from real work kept at hand, so grids rarely repeat a gold cell.",
       "appendix A: gold cells look like any other", 0, 10000),
    _d("verification_partial_grid_after_minutes", "verification", "int", 30,
       "Minutes without a new mask after which the last masks go out in a partial grid.",
       "issue 12: a small final batch is verified too", 1, 7 * 24 * 60),
    # --- the dashboard's own numbers ---
    _d("dashboard_pay_rate_per_hour", "dashboard", "float", 6.0,
       "Pay per worker-hour for the dashboard's cost column (your currency).", "", 0, 1000),
    _d("dashboard_stuck_after_hours", "dashboard", "float", 24.0,
       "An open task with no answer for this many hours is reported as stuck.", "", 0.1, 10000),
    # --- Mechanical Turk (issue 18; docs/admin/mturk.md); limits are MTurk's own ---
    _d("mturk_enabled", "marketplace", "int", 0,
       "1: the periodic MTurk task syncs, reviews and expires this project's HITs.", "", 0, 1),
    _d("mturk_reward", "marketplace", "float", 0.05,
       "Reward per MTurk assignment, in US dollars (before MTurk's fee).", "", 0.01, 100),
    _d("mturk_lifetime_seconds", "marketplace", "int", 3 * 24 * 3600,
       "How long a HIT stays on MTurk before it expires.", "", 30, 365 * 24 * 3600),
    _d("mturk_assignment_duration_seconds", "marketplace", "int", 3600,
       "Time a worker has for one HIT after accepting it.", "", 30, 365 * 24 * 3600),
    _d("mturk_auto_approval_delay_seconds", "marketplace", "int", 3 * 24 * 3600,
       "MTurk approves (pays) a submitted assignment on its own after this long.",
       "", 0, 30 * 24 * 3600),
    _d("mturk_auto_review", "marketplace", "int", 0,
       "1: approve or reject submitted assignments from cocoforge's verdict automatically.",
       "", 0, 1),
    _d("mturk_bonus_max", "marketplace", "float", 5.0,
       "The largest bonus one assignment may get, in US dollars.", "", 0.01, 1000),
    _d("mturk_title", "marketplace", "str", "{stage}: {project}",
       "HIT title; {stage} and {project} are filled in."),
    _d("mturk_description", "marketplace", "str",
       "Annotate objects in photos for the {project} dataset ({stage}).",
       "HIT description; {stage} and {project} are filled in."),
    _d("mturk_keywords", "marketplace", "str", "image, annotation, objects, COCO",
       "HIT keywords, comma-separated."),
    _d("mturk_frame_height", "marketplace", "int", 800,
       "Height in pixels of the frame MTurk shows the tool page in; 0 lets MTurk size it.",
       "", 0, 4000),
]  # fmt: skip

DECLARATIONS: dict[str, SettingDeclaration] = {d.key: d for d in _DECLARED}


def declarations_by_stage() -> list[tuple[str, list[SettingDeclaration]]]:
    return [(stage, [d for d in _DECLARED if d.stage == stage]) for stage in STAGE_ORDER]


def declared_default(key: str) -> Any:
    return DECLARATIONS[key].default


def _unknown_reason(key: str) -> str:
    close = difflib.get_close_matches(key, DECLARATIONS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"there is no setting {key!r}{hint}"


def setting_check(key: str, value: Any) -> Any:
    """The value as its declaration types it, or SettingInvalid with the reason."""
    declaration = DECLARATIONS.get(key)
    if declaration is None:
        raise SettingInvalid(key, _unknown_reason(key))
    kind = declaration.kind
    if kind == "float_or_none" and value is None:
        return None
    if kind == "str":
        if not isinstance(value, str):
            raise SettingInvalid(key, f"must be text, not {value!r}")
        if declaration.choices and value not in declaration.choices:
            raise SettingInvalid(key, f"must be one of {', '.join(declaration.choices)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        what = "a whole number" if kind == "int" else "a number"
        raise SettingInvalid(key, f"must be {what}, not {value!r}")
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise SettingInvalid(key, f"must be a whole number, not {value!r}")
        value = int(value)
    else:
        try:
            value = float(value)  # an int beyond any float (10**400) raises OverflowError
        except OverflowError:
            raise SettingInvalid(key, "must be a finite number, not one this large") from None
        if not math.isfinite(value):
            raise SettingInvalid(key, f"must be a finite number, not {value!r}")
    if declaration.minimum is not None and value < declaration.minimum:
        raise SettingInvalid(key, f"must be at least {declaration.minimum:g}, not {value:g}")
    if declaration.maximum is not None and value > declaration.maximum:
        raise SettingInvalid(key, f"must be at most {declaration.maximum:g}, not {value:g}")
    return value


def _value(values: Mapping[str, Any], key: str) -> Any:
    return values.get(key, DECLARATIONS[key].default)


def _cross_checks(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules between settings, checked on the values the project would read."""
    problems = []
    size, gold = (
        _value(values, "verification_grid_size"),
        _value(values, "verification_gold_per_grid"),
    )
    if gold >= size:
        problems.append(("verification_gold_per_grid",
                         f"a grid of {size} cells cannot hold {gold} gold cells and masks"))  # fmt: skip
    if _value(values, "verification_min_gold_caught") > gold:
        problems.append(("verification_min_gold_caught",
                         f"cannot be more than the {gold} gold cells per grid"))  # fmt: skip
    first, total = (
        _value(values, "verification_first_votes"),
        _value(values, "verification_total_votes"),
    )
    if first > total:
        problems.append(
            ("verification_total_votes", f"cannot be fewer than the {first} first votes")
        )
    if _value(values, "verification_min_good") > total:
        problems.append(("verification_min_good", f"cannot be more than the {total} total votes"))
    shares = sum(_value(values, f"collection_split_{s}") for s in ("train", "val", "test"))
    if abs(shares - 1) > 1e-6:
        problems.append(
            ("collection_split_test", f"the three split shares add up to {shares:g}, not 1")
        )
    return problems


def settings_check(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a whole set of a project's settings: (the typed values, {key: reason}).
    Unknown keys, wrong types, values out of range and inconsistent pairs are refused."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in values.items():
        try:
            clean[key] = setting_check(key, value)
        except SettingInvalid as error:
            errors[key] = error.reason
    if not errors:
        for key, reason in _cross_checks(clean):
            errors.setdefault(key, reason)
    return clean, errors


def stored_settings_problems(stored: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """What is wrong with values already saved on a project, [(key, reason)], for the
    dashboard's warnings. An empty list means the project reads what was saved."""
    if not isinstance(stored, Mapping):
        return [("stage_settings", "the saved settings are not a JSON object")]
    _clean, errors = settings_check(stored)
    return sorted(errors.items())


def setting_read(stored: Mapping[str, Any] | None, key: str) -> Any:
    """The value a project uses: its saved value when the declaration accepts it, otherwise
    the declared default (the dashboard reports the bad value). KeyError if undeclared."""
    declaration = DECLARATIONS[key]
    if not isinstance(stored, Mapping) or key not in stored:
        return declaration.default
    try:
        return setting_check(key, stored[key])
    except SettingInvalid:
        return declaration.default


@dataclass(frozen=True)
class Preset:
    slug: str
    name: str
    description: str
    values: dict[str, Any]


# A few trusted people: three filter each grid, two label each photo, one answer elsewhere,
# and verification without gold (gold catches careless strangers; COCO hid 4 per grid).
_SMALL_TEAM = {
    "collection_grid_size": 16,
    "collection_answers_per_grid": 3,
    "labeling_answers_per_image": 2,
    "spotting_answers_per_task": 1,
    "segmentation_max_instances": 5,
    "verification_grid_size": 4,
    "verification_gold_per_grid": 0,
    "verification_min_gold_caught": 0,
    "verification_first_votes": 1,
    "verification_total_votes": 2,
    "verification_min_good": 2,
    "verification_block_min_decided": 20,
}

PRESETS: dict[str, Preset] = {
    p.slug: p
    for p in (
        Preset("coco", "COCO (as published)",
               "Every number as the COCO thesis gives it: 8 labelers, 8 spotters, grids of 64 "
               "with 4 gold, 3-then-5 votes. Needs a crowd of dozens.", {}),
        Preset("small-team", "Small team",
               "A handful of trusted people take a photo from collection to export: three "
               "filter each grid, two label each photo, one answer elsewhere, verification "
               "grids of 4 masks without gold.",
               _SMALL_TEAM),
        Preset("solo", "Solo trial",
               "One person tries every stage alone: every task needs one answer.",
               {**_SMALL_TEAM, "collection_answers_per_grid": 1, "labeling_answers_per_image": 1,
                "verification_total_votes": 1, "verification_min_good": 1}),
    )
}  # fmt: skip


def preset_values(slug: str) -> dict[str, Any]:
    """The full set of values a preset saves (every declared key, so nothing stale stays);
    KeyError if there is no such preset."""
    preset = PRESETS[slug]
    return {key: preset.values.get(key, d.default) for key, d in DECLARATIONS.items()}
