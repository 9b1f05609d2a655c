"""Stage 1: non-iconic image collection (thesis §2.3.2, §2.6, appendix A "Non-iconic Image
Collection").

Read top to bottom:
1. the per-project numbers and their defaults;
2. query planning: pairs of object categories, object + scene pairs (Table B.2), and
   single-category queries as the fallback for categories that rarely co-occur;
3. candidate intake from any source, with the per-photographer cap ("at most 5 photos
   taken by a single photographer within a short time window");
4. near-duplicate grouping by perceptual hash;
5. filtering grids: 128 thumbnails per task, answered by several workers, each marking the
   iconic or invalid ones;
6. answer validation and vote aggregation (accepted candidates become Images);
7. split assignment: about 1/2 train, 1/4 val, 1/4 test, with every photographer-day and
   every near-duplicate group in one split (§2.6);
8. registration with the task engine.
Sources (Flickr, folders, URL lists, S3) live in annotation/sources/ and call
`candidate_offer`; views, commands and Celery tasks call the functions here.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import imagehash
import PIL.Image
import PIL.ImageOps
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from annotation import stages
from annotation.errors import AnswerInvalid, DomainError
from annotation.models import Image, Project, Stage, Task
from annotation.models.collection import Candidate, SearchQuery
from annotation.models.projects import project_setting
from annotation.services import task_engine
from annotation.services.images import ImageCheckFailed, SourceMetadata, image_ingest, photo_check

logger = logging.getLogger(__name__)

# --- 1. numbers, each overridable per project (Project.stage_settings) -------------------
DEFAULTS: dict[str, int | float | str] = {
    "collection_grid_size": 128,  # appendix A: "a grid of 128 candidates"
    "collection_answers_per_grid": 3,
    # Keep votes (workers who did NOT mark a photo) needed to accept it; 0 = a strict
    # majority of the answers.
    "collection_keep_votes": 0,
    "collection_photographer_cap": 5,  # §2.3.2: at most 5 photos per photographer...
    "collection_photographer_window_minutes": 60,  # ...within a short time window
    # Hamming distance (of 64 bits) at or under which two perceptual hashes are one photo.
    "collection_near_duplicate_bits": 5,
    "collection_split_train": 0.5,  # §2.6: about 1/2 train, 1/4 val, 1/4 test
    "collection_split_val": 0.25,
    "collection_split_test": 0.25,
    "collection_photos_per_query": 100,
    "collection_per_page": 100,
    # A category whose run queries stored fewer candidates than this gets a single query.
    "collection_fallback_min_yield": 10,
    # Flickr licence ids (all but 0, "All Rights Reserved") and sort order.
    "collection_flickr_license": "1,2,3,4,5,6,7,8,9,10",
    "collection_flickr_sort": "relevance",
}


def setting(project: Project, key: str):  # type: ignore[no-untyped-def]
    return project_setting(project, key, DEFAULTS[key])


# --- 2. query planning ----------------------------------------------------------------
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


def queries_plan(*, project: Project, kinds: Sequence[str] = DEFAULT_PLAN_KINDS) -> int:
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


def categories_needing_fallback(*, project: Project) -> list:
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


def queries_plan_fallback(*, project: Project) -> int:
    """Plan a single-category query for each category that needs one (§2.3.2: "in the rare
    cases in which enough images could not be found, we searched for single categories")."""
    planned = [
        SearchQuery(project=project, kind=SearchQuery.Kind.SINGLE, text=c.name, category_a=c)
        for c in categories_needing_fallback(project=project)
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


def queries_with_yield(*, project: Project) -> QuerySet[SearchQuery]:
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


# --- 3. candidate intake and the photographer cap ---------------------------------------
@dataclass
class CandidateOffer:
    """A photo a source offers; `fetch` reads its bytes (only when the photo is wanted)."""

    source: str
    source_ref: str
    file_name: str
    fetch: Callable[[], bytes]
    download_url: str = ""
    original_url: str = ""
    title: str = ""
    photographer: str = ""
    photographer_id: str = ""
    date_taken: datetime | None = None
    license_name: str = ""
    license_url: str = ""


@dataclass
class OfferOutcome:
    # "stored", "known" (already in the pool: skipped), "capped", "duplicate" or "failed"
    outcome: str
    candidate: Candidate


def photographer_cap_reached(
    taken: Iterable[datetime | None], date_taken: datetime | None, *, cap: int, window: timedelta
) -> bool:
    """Whether `cap` photos of the same photographer were already taken within `window`
    of this one. Undated photos count as one window of their own."""
    if date_taken is None:
        near = sum(1 for other in taken if other is None)
    else:
        near = sum(1 for other in taken if other is not None and abs(other - date_taken) <= window)
    return near >= cap


def _photographer_key(offer: CandidateOffer) -> str:
    return offer.photographer_id or offer.photographer.strip().lower()


def photo_thumbnail(content: bytes, size_px: int) -> tuple[bytes, str]:
    """A JPEG no larger than size_px on its long side, and the 64-bit perceptual hash
    (imagehash.phash: DCT of a 32x32 greyscale) as 16 hex digits."""
    with PIL.Image.open(io.BytesIO(content)) as photo:
        oriented = PIL.ImageOps.exif_transpose(photo) or photo
        rgb = oriented.convert("RGB")
    return _thumbnail_of(rgb, size_px)


def _thumbnail_of(rgb: PIL.Image.Image, size_px: int) -> tuple[bytes, str]:
    """`photo_thumbnail` of a photo already decoded, oriented and in RGB (shrunk in place)."""
    phash = str(imagehash.phash(rgb))
    rgb.thumbnail((size_px, size_px))
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=85, optimize=True)
    return buffer.getvalue(), phash


def candidate_offer(
    *, project: Project, query: SearchQuery | None, offer: CandidateOffer
) -> OfferOutcome:
    """Take one photo into the candidate pool, or record why not. A photo already in the pool
    (same source reference) is skipped without a download, so re-running a query resumes.
    Every other outcome is a Candidate row: stored, capped, or failed with its reason."""
    known = Candidate.objects.filter(project=project, source_ref=offer.source_ref).first()
    if known is not None:
        return OfferOutcome("known", known)
    candidate = Candidate(
        project=project,
        query=query,
        source=offer.source,
        source_ref=offer.source_ref[:1000],
        download_url=offer.download_url[:1000],
        original_url=offer.original_url[:1000],
        title=offer.title[:500],
        file_name=offer.file_name[:500],
        photographer=offer.photographer[:200],
        photographer_id=offer.photographer_id[:200],
        date_taken=offer.date_taken,
        license_name=offer.license_name[:200],
        license_url=offer.license_url[:500],
    )
    key = _photographer_key(offer)
    if key:
        same_photographer = Candidate.objects.filter(project=project).exclude(
            status__in=[Candidate.Status.CAPPED, Candidate.Status.FAILED]
        )
        same_photographer = (
            same_photographer.filter(photographer_id=key)
            if offer.photographer_id
            else same_photographer.filter(
                photographer_id="", photographer__iexact=offer.photographer.strip()
            )
        )
        minutes = setting(project, "collection_photographer_window_minutes")
        if photographer_cap_reached(
            same_photographer.values_list("date_taken", flat=True),
            offer.date_taken,
            cap=setting(project, "collection_photographer_cap"),
            window=timedelta(minutes=minutes),
        ):
            candidate.status = Candidate.Status.CAPPED
            candidate.reason = (
                f"{setting(project, 'collection_photographer_cap')} photos of this photographer "
                f"within {minutes} minutes are already in the pool"
            )
            return _candidate_save(candidate, "capped")
    try:
        content = offer.fetch()
    except Exception as error:  # any source's read failure is recorded, the run goes on
        return _candidate_fail(candidate, f"download failed: {error}")
    checksum = hashlib.sha256(content).hexdigest()
    same_bytes = Candidate.objects.filter(project=project, checksum_sha256=checksum).first()
    thumb = b""
    if same_bytes is not None and same_bytes.phash and same_bytes.width and same_bytes.height:
        # These bytes were decoded once already: their hash and size are known.
        phash, width, height = same_bytes.phash, same_bytes.width, same_bytes.height
    else:
        try:
            # One decode gives the checks, the hash and the thumbnail.
            checked = photo_check(content, keep_image=True)
            assert checked.image is not None
            thumb, phash = _thumbnail_of(
                checked.image.convert("RGB"), settings.COLLECTION_THUMBNAIL_PX
            )
        except ImageCheckFailed as failure:
            return _candidate_fail(candidate, f"{failure.reason}: {failure.detail}")
        except (OSError, ValueError) as error:
            return _candidate_fail(candidate, f"truncated: cannot make a thumbnail: {error}")
        width, height = checked.width, checked.height
    candidate.checksum_sha256, candidate.phash = checksum, phash
    candidate.width, candidate.height = width, height
    if same_bytes is not None:
        candidate.status = Candidate.Status.DUPLICATE
        candidate.duplicate_of = same_bytes
        candidate.reason = f"same bytes as candidate {same_bytes.id}"
        return _candidate_save(candidate, "duplicate")
    # Relative to the fields' upload_to ("collection/", "collection/thumbs/").
    folder = f"{project.id}/{checksum[:2]}"
    suffix = "." + (checked.format or "img").lower().replace("jpeg", "jpg")
    candidate.file.save(f"{folder}/{checksum}{suffix}", ContentFile(content), save=False)
    candidate.thumbnail.save(
        f"{folder}/{checksum}_t{settings.COLLECTION_THUMBNAIL_PX}.jpg",
        ContentFile(thumb),
        save=False,
    )
    return _candidate_save(candidate, "stored")


def _candidate_fail(candidate: Candidate, reason: str) -> OfferOutcome:
    candidate.status = Candidate.Status.FAILED
    candidate.reason = reason[:2000]
    return _candidate_save(candidate, "failed")


def _candidate_save(candidate: Candidate, outcome: str) -> OfferOutcome:
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        # Another run stored the same photo between the check and the insert.
        for field in (candidate.file, candidate.thumbnail):
            if field:
                field.delete(save=False)
        known = Candidate.objects.get(project=candidate.project, source_ref=candidate.source_ref)
        return OfferOutcome("known", known)
    return OfferOutcome(outcome, candidate)


def thumbnail_for(candidate: Candidate) -> bytes:
    """The stored thumbnail; made once from the stored photo if it is missing."""
    if candidate.thumbnail:
        try:  # one storage round trip, not an exists() check and then the read
            with candidate.thumbnail.open("rb") as handle:
                return handle.read()
        except FileNotFoundError:
            pass  # lost from storage: made again below
    if not candidate.file:
        raise DomainError(f"candidate {candidate.id} has no stored photo")
    with candidate.file.open("rb") as handle:
        thumb, _ = photo_thumbnail(handle.read(), settings.COLLECTION_THUMBNAIL_PX)
    name = (
        f"{candidate.project_id}/thumbs/{candidate.id}.jpg"  # under upload_to "collection/thumbs/"
    )
    candidate.thumbnail.save(name, ContentFile(thumb), save=False)
    Candidate.objects.filter(id=candidate.id).update(thumbnail=candidate.thumbnail.name)
    return thumb


# --- 4. near-duplicates ---------------------------------------------------------------
class _UnionFind:
    """Disjoint sets of ids (used for near-duplicate groups and split components). Joining
    two sets makes the smaller root id the root of both, so a set's root is its lowest id."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.parent = {i: i for i in ids}

    def root(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    def join(self, first: int, second: int) -> None:
        a, b = self.root(first), self.root(second)
        self.parent[max(a, b)] = min(a, b)


def near_duplicate_groups(hashes: Sequence[tuple[int, int]], max_distance: int) -> dict[int, int]:
    """Group ids whose 64-bit hashes differ in at most `max_distance` bits, transitively.
    Returns id -> the group's lowest id.

    Pigeonhole: split the hash into max_distance + 1 bands; two hashes within the distance
    agree exactly on at least one band, so only ids sharing a band value are compared.
    """
    sets = _UnionFind(item_id for item_id, _ in hashes)
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
def near_duplicates_group(*, project: Project) -> int:
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


# --- 5. filtering grids ---------------------------------------------------------------
def grids_post(
    *, project: Project, include_partial: bool = True, group_duplicates: bool = True
) -> list[Task]:
    """Put pooled candidates into grids of `collection_grid_size`, one task each, answered
    by `collection_answers_per_grid` workers. Near-duplicates are removed first (pass
    group_duplicates=False when the caller just ran `near_duplicates_group`). A last,
    smaller grid is posted only with include_partial."""
    if group_duplicates:
        near_duplicates_group(project=project)
    size = max(1, setting(project, "collection_grid_size"))
    answers = max(1, setting(project, "collection_answers_per_grid"))
    pooled = list(
        Candidate.objects.filter(project=project, status=Candidate.Status.POOLED)
        .order_by("id")
        .values_list("id", flat=True)
    )
    posted = []
    for start in range(0, len(pooled), size):
        chunk = pooled[start : start + size]
        if len(chunk) < size and not include_partial:
            break
        with transaction.atomic():
            task = task_engine.task_post(
                project=project,
                stage=Stage.COLLECTION,
                answers_needed=answers,
                payload={"candidate_ids": chunk},
                priority=0,
            )
            moved = Candidate.objects.filter(id__in=chunk, status=Candidate.Status.POOLED).update(
                status=Candidate.Status.IN_GRID, grid_task=task
            )
            if moved != len(chunk):
                # Another poster took some of these: leave them to it.
                transaction.set_rollback(True)
                continue
        posted.append(task)
    return posted


# --- 6. answers and votes -------------------------------------------------------------
def validate_answer(task: Task, answer: object) -> dict:
    """{"marked": [candidate ids]}: the photos of this grid the worker marked as iconic or
    invalid (an empty list keeps them all)."""
    if not isinstance(answer, dict) or "marked" not in answer:
        raise AnswerInvalid('the answer must be {"marked": [ids of the iconic or invalid photos]}')
    marked = answer["marked"]
    if not isinstance(marked, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in marked
    ):
        raise AnswerInvalid("marked must be a list of candidate ids (whole numbers)")
    in_grid = set(task.payload.get("candidate_ids", []))
    strangers = sorted(set(marked) - in_grid)
    if strangers:
        raise AnswerInvalid(f"candidates {strangers[:10]} are not in this grid")
    return {"marked": sorted(set(marked))}


def keep_votes_needed(project: Project, answers: int) -> int:
    configured = setting(project, "collection_keep_votes")
    needed = configured if configured > 0 else answers // 2 + 1
    return max(1, min(needed, answers))


def on_task_complete(task: Task) -> None:
    """Count the grid's votes: a photo is accepted when at least `keep_votes_needed` workers
    left it unmarked, unless a near-duplicate of it was accepted already. Accepted photos
    become Images (through image_ingest: same checks as every import) and get a split.
    Idempotent: only candidates still in this grid are decided."""
    with transaction.atomic():
        task = Task.objects.select_for_update().get(id=task.id)
        answers = [a.answer or {} for a in task.assignments.filter(status="submitted")]
        marks = Counter(i for answer in answers for i in answer.get("marked", []))
        needed = keep_votes_needed(task.project, len(answers))
        decided: dict[str, list[int]] = {"kept": [], "iconic": [], "duplicate": [], "failed": []}
        candidates = Candidate.objects.select_for_update().filter(
            grid_task=task, status=Candidate.Status.IN_GRID
        )
        for candidate in candidates.order_by("id"):
            candidate.votes_marked = marks[candidate.id]
            candidate.votes_total = len(answers)
            if len(answers) - marks[candidate.id] >= needed:
                decided[_candidate_accept(candidate)].append(candidate.id)
            else:
                candidate.status = Candidate.Status.ICONIC
                candidate.reason = f"{marks[candidate.id]} of {len(answers)} workers marked it"
                candidate.save(update_fields=["status", "reason", "votes_marked", "votes_total"])
                decided["iconic"].append(candidate.id)
        if any(decided.values()) or task.result is None:
            task.result = {**decided, "answers": len(answers), "keep_votes_needed": needed}
            task.save(update_fields=["result"])
    splits_assign(project=task.project)
    labeling_post_for(project=task.project, candidate_ids=decided["kept"])


def labeling_post_for(*, project: Project, candidate_ids: list[int]) -> None:
    """Next (§2.4.1): accepted photos go on to category labeling, when this installation
    runs that stage. Posting is idempotent: a photo never gets two labeling tasks."""
    if not candidate_ids or not stages.is_registered(Stage.LABELING):
        return
    from annotation.stages.labeling import labeling_tasks_post

    accepted = Candidate.objects.filter(id__in=candidate_ids, image__isnull=False).values_list(
        "image_id", flat=True
    )
    labeling_tasks_post(project=project, images=list(accepted))


def _candidate_accept(candidate: Candidate) -> str:
    fields = ["status", "reason", "votes_marked", "votes_total", "image", "duplicate_of"]
    if candidate.duplicate_group is not None:
        twin = (
            Candidate.objects.filter(
                project=candidate.project_id,
                duplicate_group=candidate.duplicate_group,
                status=Candidate.Status.ACCEPTED,
            )
            .exclude(id=candidate.id)
            .first()
        )
        if twin is not None:
            candidate.status, candidate.duplicate_of = Candidate.Status.DUPLICATE, twin
            candidate.reason = f"near-duplicate of accepted candidate {twin.id}"
            candidate.save(update_fields=fields)
            return "duplicate"
    try:
        with candidate.file.open("rb") as handle:
            content = handle.read()
    except (OSError, ValueError) as error:
        candidate.status, candidate.reason = (
            Candidate.Status.FAILED,
            f"stored photo unreadable: {error}",
        )
        candidate.save(update_fields=fields)
        return "failed"
    meta = SourceMetadata(
        source=candidate.source,
        source_ref=candidate.source_ref,
        file_name=candidate.file_name,
        original_url=candidate.original_url,
        photographer=candidate.photographer,
        date_taken=candidate.date_taken,
        license_name=candidate.license_name,
        license_url=candidate.license_url,
    )
    result = image_ingest(project=candidate.project, content=content, meta=meta)
    if result.image is None:
        assert result.rejection is not None
        candidate.status = Candidate.Status.FAILED
        candidate.reason = f"{result.rejection.reason}: {result.rejection.detail}"
        candidate.save(update_fields=fields)
        return "failed"
    candidate.status, candidate.image, candidate.reason = (
        Candidate.Status.ACCEPTED,
        result.image,
        "",
    )
    candidate.save(update_fields=fields)
    return "kept"


# --- 7. splits ------------------------------------------------------------------------
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
    sets = _UnionFind(item.image_id for item in items)
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
def splits_assign(*, project: Project) -> int:
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


# --- 8. registration ------------------------------------------------------------------
RULES = stages.register(
    stages.StageRules(
        stage=Stage.COLLECTION,
        validate_answer=validate_answer,
        on_task_complete=on_task_complete,
        tool_url_name="collection-grid",
        description="Mark the iconic or invalid photos in a grid of candidates.",
    )
)
