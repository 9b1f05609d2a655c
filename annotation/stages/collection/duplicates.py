"""Near-duplicate grouping by perceptual hash (thesis §2.3.2): a near-duplicate is never
shown, accepted or split apart."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction

from annotation.models import Project
from annotation.models.collection import Candidate
from annotation.stages.collection.defaults import setting
from annotation.stages.collection.union_find import UnionFind


def near_duplicate_groups(hashes: Sequence[tuple[int, int]], max_distance: int) -> dict[int, int]:
    """Group ids whose 64-bit hashes differ in at most `max_distance` bits, transitively.
    Returns id -> the group's lowest id.

    Pigeonhole: split the hash into max_distance + 1 bands; two hashes within the distance
    agree exactly on at least one band, so only ids sharing a band value are compared.
    """
    sets = UnionFind(item_id for item_id, _ in hashes)
    root = sets.root  # bound once: this loop is the hot one
    bands = max(1, min(64, max_distance + 1))
    edges = [round(i * 64 / bands) for i in range(bands + 1)]
    value_of = dict(hashes)
    for band in range(bands):
        low, width = edges[band], edges[band + 1] - edges[band]
        mask = (1 << width) - 1
        buckets: dict[int, list[int]] = defaultdict(list)
        for item_id, value in hashes:
            buckets[(value >> low) & mask].append(item_id)
        for members in buckets.values():
            for i, first in enumerate(members):
                for second in members[i + 1 :]:
                    if root(first) != root(second) and (
                        (value_of[first] ^ value_of[second]).bit_count() <= max_distance
                    ):
                        sets.join(first, second)
    return {item_id: root(item_id) for item_id, _ in hashes}


@transaction.atomic
def collection_near_duplicates_group(*, project: Project) -> int:
    """Recompute the project's near-duplicate groups. A pooled candidate that is not the
    first of its group (an accepted member counts first) leaves the pool as a duplicate, so
    a near-duplicate is never shown, accepted or split apart. Returns how many left."""
    rows = list(
        Candidate.objects.filter(project=project)
        .exclude(phash="")
        .exclude(status=Candidate.Status.FAILED)
        .values_list("id", "phash", "status", "duplicate_group")
    )
    groups = near_duplicate_groups(
        [(i, int(h, 16)) for i, h, _, _ in rows],
        setting(project, "collection_near_duplicate_bits"),
    )
    members: dict[int, list[tuple[int, str]]] = defaultdict(list)
    regrouped: list[Candidate] = []
    for candidate_id, _, status, stored_group in rows:
        group = groups[candidate_id]
        members[group].append((candidate_id, status))
        if stored_group != group:
            regrouped.append(Candidate(id=candidate_id, duplicate_group=group))
    # One statement per 1000 changed rows, not one per group; unchanged rows are not written.
    Candidate.objects.bulk_update(regrouped, ["duplicate_group"], batch_size=1000)
    removed = 0
    for items in members.values():
        # The photo that stays: an accepted one, else one already in a grid, else the first.
        rank: dict[str, int] = {Candidate.Status.ACCEPTED: 0, Candidate.Status.IN_GRID: 1}
        keeper = min(items, key=lambda item: (rank.get(item[1], 2), item[0]))[0]
        pooled_others = [
            i for i, status in items if status == Candidate.Status.POOLED and i != keeper
        ]
        if pooled_others:
            removed += Candidate.objects.filter(id__in=pooled_others).update(
                status=Candidate.Status.DUPLICATE,
                duplicate_of=keeper,
                reason=f"near-duplicate of candidate {keeper}",
            )
    return removed
