"""Query planning (thesis §2.3.2, appendix A Fig. A.1): pairs of object categories, object +
scene pairs (Table B.2), and single-category queries as the fallback for categories that
rarely co-occur; each query's yield."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db.models import Count, Q, QuerySet

from annotation.errors import DomainError
from annotation.models import Project, Stage, Task
from annotation.models.collection import Candidate, SearchQuery
from annotation.stages.collection.defaults import setting

# The kinds of query planned from the taxonomy (the other kinds record a source run), and
# the ones planned when none are named: single-category queries are the fallback.
PLAN_KINDS: tuple[str, ...] = (
    SearchQuery.Kind.PAIR.value,
    SearchQuery.Kind.SCENE.value,
    SearchQuery.Kind.SINGLE.value,
)
DEFAULT_PLAN_KINDS: tuple[str, ...] = (SearchQuery.Kind.PAIR.value, SearchQuery.Kind.SCENE.value)


def plan_kinds_unknown(kinds: Iterable[str]) -> list[str]:
    """The names in `kinds` that are not kinds of planned query, sorted."""
    return sorted(set(kinds) - set(PLAN_KINDS))


def collection_queries_plan(*, project: Project, kinds: Sequence[str] = DEFAULT_PLAN_KINDS) -> int:
    """Add the object-pair and object-scene queries of the project's taxonomy to its plan
    (§2.3.2: "dog + car" finds non-iconic photos; "we also searched for scene/object
    category pairs"). Planning twice adds nothing. Returns how many queries were added.
    A kind that is not one of PLAN_KINDS is a DomainError."""
    unknown = plan_kinds_unknown(kinds)
    if unknown:
        raise DomainError(f"queries are planned by kind {', '.join(PLAN_KINDS)}, not {unknown}")
    categories = list(project.taxonomy.categories.order_by("coco_id"))
    planned: list[SearchQuery] = []
    if SearchQuery.Kind.PAIR in kinds:
        for first, second in itertools.combinations(categories, 2):
            planned.append(
                SearchQuery(
                    project=project,
                    kind=SearchQuery.Kind.PAIR,
                    text=f"{first.name} {second.name}",
                    category_a=first,
                    category_b=second,
                )
            )
    if SearchQuery.Kind.SCENE in kinds:
        scenes = list(project.taxonomy.scenes.order_by("id"))
        for category in categories:
            for scene in scenes:
                planned.append(
                    SearchQuery(
                        project=project,
                        kind=SearchQuery.Kind.SCENE,
                        text=f"{category.name} {scene.name}",
                        category_a=category,
                        scene=scene,
                    )
                )
    if SearchQuery.Kind.SINGLE in kinds:
        planned.extend(
            SearchQuery(project=project, kind=SearchQuery.Kind.SINGLE, text=c.name, category_a=c)
            for c in categories
        )
    return _queries_add(project, planned)


def _queries_add(project: Project, planned: list[SearchQuery]) -> int:
    before = SearchQuery.objects.filter(project=project).count()
    SearchQuery.objects.bulk_create(planned, ignore_conflicts=True, batch_size=1000)
    return SearchQuery.objects.filter(project=project).count() - before


YIELDED = [
    Candidate.Status.POOLED,
    Candidate.Status.IN_GRID,
    Candidate.Status.ACCEPTED,
    Candidate.Status.ICONIC,
    Candidate.Status.DUPLICATE,
]


def collection_categories_needing_fallback(*, project: Project) -> list:
    """Categories that rarely co-occur with others (appendix A, Fig. A.1b): at least one of
    their pair/scene queries has run and all that ran together stored fewer candidates than
    `collection_fallback_min_yield`."""
    minimum = setting(project, "collection_fallback_min_yield")
    ran = SearchQuery.objects.filter(
        project=project, kind__in=[SearchQuery.Kind.PAIR, SearchQuery.Kind.SCENE]
    ).exclude(status=SearchQuery.Status.PLANNED)
    yields: dict[int, int] = defaultdict(int)
    has_run: set[int] = set()
    for query in ran.annotate(n=Count("candidates", filter=Q(candidates__status__in=YIELDED))):
        for category_id in (query.category_a_id, query.category_b_id):
            if category_id is not None:
                has_run.add(category_id)
                yields[category_id] += query.n
    return [
        c
        for c in project.taxonomy.categories.order_by("coco_id")
        if c.id in has_run and yields[c.id] < minimum
    ]


def collection_queries_plan_fallback(*, project: Project) -> int:
    """Plan a single-category query for each category that needs one (§2.3.2: "in the rare
    cases in which enough images could not be found, we searched for single categories")."""
    planned = [
        SearchQuery(project=project, kind=SearchQuery.Kind.SINGLE, text=c.name, category_a=c)
        for c in collection_categories_needing_fallback(project=project)
    ]
    return _queries_add(project, planned)


def query_yield_annotations() -> dict:
    """Per-query counts of its candidates: stored, kept (accepted), and turned away."""

    def count(*statuses: str) -> Count:
        return Count("candidates", filter=Q(candidates__status__in=statuses))

    return {
        "stored": count(*YIELDED),
        "kept": count(Candidate.Status.ACCEPTED),
        "iconic": count(Candidate.Status.ICONIC),
        "duplicates": count(Candidate.Status.DUPLICATE),
        "capped": count(Candidate.Status.CAPPED),
        "failed": count(Candidate.Status.FAILED),
    }


def collection_queries_with_yield(*, project: Project) -> QuerySet[SearchQuery]:
    """The plan with each query's yield."""
    return SearchQuery.objects.filter(project=project).annotate(**query_yield_annotations())


def collection_summary(*, project: Project) -> dict[str, int]:
    counts = dict(
        Candidate.objects.filter(project=project).values_list("status").annotate(n=Count("id"))
    )
    summary = {status: counts.get(status, 0) for status in Candidate.Status.values}
    summary["queries"] = SearchQuery.objects.filter(project=project).count()
    summary["queries_run"] = (
        SearchQuery.objects.filter(project=project)
        .exclude(status=SearchQuery.Status.PLANNED)
        .count()
    )
    summary["open_grids"] = Task.objects.filter(
        project=project, stage=Stage.COLLECTION, status=Task.Status.OPEN
    ).count()
    return summary
