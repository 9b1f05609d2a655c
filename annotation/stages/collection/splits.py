"""Split assignment (thesis §2.6): about 1/2 train, 1/4 val, 1/4 test, with every
photographer-day and every near-duplicate group in one split. Used for photos accepted by
collection and for photos that enter any other way (import_images, uploads)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from annotation.errors import DomainError
from annotation.models import Image, Project
from annotation.models.collection import Candidate
from annotation.stages.collection.defaults import setting
from annotation.stages.collection.union_find import UnionFind

SPLITS = (Image.Split.TRAIN, Image.Split.VAL, Image.Split.TEST)


@dataclass(frozen=True)
class SplitItem:
    image_id: int
    split: str  # "" when not assigned yet
    photographer_day: str | None  # None: no photographer known, nothing to group by
    duplicate_group: int | None


def split_ratios(project: Project) -> dict[str, float]:
    raw = {s: setting(project, f"collection_split_{s}") for s in SPLITS}
    total = sum(raw.values())
    if total <= 0 or any(v < 0 for v in raw.values()):
        raise DomainError(f"split ratios must be >= 0 and not all 0, not {raw}")
    return {s: v / total for s, v in raw.items()}


def splits_for(items: Sequence[SplitItem], ratios: dict[str, float]) -> dict[int, str]:
    """Give every unassigned image a split. Images linked by a photographer-day or a
    near-duplicate group form one component (§2.6: "grouping images by photographer and
    date taken"); a component with an assigned member joins that split, a new one goes to
    the split furthest below its share. Deterministic: components are taken largest first,
    ties by lowest image id; assigned images never move."""
    sets = UnionFind(item.image_id for item in items)
    first_with: dict[str, int] = {}
    for item in items:
        keys = []
        if item.photographer_day is not None:
            keys.append(f"pd:{item.photographer_day}")
        if item.duplicate_group is not None:
            keys.append(f"dup:{item.duplicate_group}")
        for key in keys:
            sets.join(first_with.setdefault(key, item.image_id), item.image_id)
    components: dict[int, list[SplitItem]] = defaultdict(list)
    for item in items:
        components[sets.root(item.image_id)].append(item)
    counts = Counter(item.split for item in items if item.split)
    total = len(items)
    assigned: dict[int, str] = {}
    fresh = []
    for members in components.values():
        existing = Counter(m.split for m in members if m.split)
        if existing:
            split = min(existing, key=lambda s: (-existing[s], SPLITS.index(s)))
            for m in members:
                if not m.split:
                    assigned[m.image_id] = split
                    counts[split] += 1
        else:
            fresh.append(members)
    fresh.sort(key=lambda members: (-len(members), min(m.image_id for m in members)))
    for members in fresh:
        split = max(SPLITS, key=lambda s: (ratios[s] * total - counts[s], -SPLITS.index(s)))
        for m in members:
            assigned[m.image_id] = split
        counts[split] += len(members)
    return assigned


def _photographer_day(photographer: str, date_taken: datetime | None) -> str | None:
    if not photographer:
        return None
    return f"{photographer}|{date_taken.date().isoformat() if date_taken else 'undated'}"


@transaction.atomic
def collection_splits_assign(*, project: Project) -> int:
    """Assign train/val/test to every image of the project that has none. Returns how many."""
    if not Image.objects.filter(project=project, split="").exists():
        return 0  # nothing to assign: no need to lock the project's images
    images = list(
        Image.objects.select_for_update()
        .filter(project=project)
        .values_list("id", "split", "photographer", "date_taken")
    )
    if not any(split == "" for _, split, _, _ in images):
        return 0
    linked: dict[int, str] = {}
    groups: dict[int, int | None] = {}
    for image_id, photographer_id, group in Candidate.objects.filter(
        project=project, image__isnull=False
    ).values_list("image_id", "photographer_id", "duplicate_group"):
        linked[image_id], groups[image_id] = photographer_id, group
    items = [
        SplitItem(
            image_id=image_id,
            split=split,
            photographer_day=_photographer_day(linked.get(image_id) or name.strip().lower(), taken),
            duplicate_group=groups.get(image_id),
        )
        for image_id, split, name, taken in images
    ]
    assigned = splits_for(items, split_ratios(project))
    by_split: dict[str, list[int]] = defaultdict(list)
    for image_id, split in assigned.items():
        by_split[split].append(image_id)
    for split, ids in by_split.items():
        Image.objects.filter(id__in=ids, split="").update(split=split)
    return len(assigned)
