"""Stage 1, image collection: query planning, the photographer cap, near-duplicates, grids,
votes and splits."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from annotation.errors import AnswerInvalid
from annotation.models import Image, Stage, Task
from annotation.models.collection import Candidate, SearchQuery
from annotation.services import task_engine
from annotation.services.projects import project_create
from annotation.stages import collection
from annotation.stages.collection import CandidateOffer, SplitItem
from tests.annotation.sources.flickr_server import near_copy, photo_bytes

DAY = datetime(2013, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def project(db):  # type: ignore[no-untyped-def]
    return project_create(
        name="Street", categories=[{"name": "dog"}, {"name": "car"}, {"name": "zebra"}]
    )


def offer(
    seed: int, *, content: bytes | None = None, owner: str = "", taken=None, ref=None
) -> CandidateOffer:  # type: ignore[no-untyped-def]
    data = photo_bytes(seed) if content is None else content
    return CandidateOffer(
        source=Image.Source.FLICKR, source_ref=ref or f"flickr:{seed}", file_name=f"{seed}.jpg",
        fetch=lambda: data, photographer=owner, photographer_id=owner, date_taken=taken,
    )  # fmt: skip


def add(project, seed: int, **kwargs) -> Candidate:  # type: ignore[no-untyped-def]
    outcome = collection.candidate_offer(project=project, query=None, offer=offer(seed, **kwargs))
    return outcome.candidate


# --- planning -------------------------------------------------------------------------
def test_the_coco_plan_pairs_every_two_categories_and_every_category_with_every_scene(db):
    project = project_create(name="COCO plan", template="coco")
    added = collection.queries_plan(project=project)
    assert added == 91 * 90 // 2 + 91 * 40
    queries = SearchQuery.objects.filter(project=project)
    assert queries.filter(kind="pair").count() == 4095
    assert queries.filter(kind="scene").count() == 3640
    assert queries.filter(kind="pair", text="dog car").exists() is False, "pairs go in id order"
    assert queries.filter(kind="pair", text="car dog").exists()
    assert queries.filter(kind="scene", text="dog kitchen").exists()
    assert collection.queries_plan(project=project) == 0, "planning twice adds nothing"


def test_single_category_queries_are_the_fallback_for_rare_categories(project):
    collection.queries_plan(project=project, kinds=["pair"])
    project.stage_settings = {"collection_fallback_min_yield": 3}
    project.save()
    queries = {q.text: q for q in SearchQuery.objects.filter(project=project)}
    assert set(queries) == {"dog car", "dog zebra", "car zebra"}
    assert collection.queries_plan_fallback(project=project) == 0, "nothing ran yet"
    for seed in range(4):
        collection.candidate_offer(project=project, query=queries["dog car"], offer=offer(seed))
    collection.candidate_offer(project=project, query=queries["dog zebra"], offer=offer(10))
    SearchQuery.objects.filter(text__in=["dog car", "dog zebra"]).update(status="done")
    assert [c.name for c in collection.categories_needing_fallback(project=project)] == ["zebra"]
    assert collection.queries_plan_fallback(project=project) == 1
    single = SearchQuery.objects.get(project=project, kind="single")
    assert single.text == "zebra" and single.category_a.name == "zebra"


def test_the_plan_shows_each_querys_yield(project):
    collection.queries_plan(project=project, kinds=["pair"])
    query = SearchQuery.objects.get(text="dog car")
    for seed in range(3):
        collection.candidate_offer(project=project, query=query, offer=offer(seed))
    Candidate.objects.filter(source_ref="flickr:0").update(status="accepted")
    row = collection.queries_with_yield(project=project).get(id=query.id)
    assert (row.stored, row.kept) == (3, 1)


# --- photographer cap -----------------------------------------------------------------
def test_the_cap_counts_photos_within_the_window_only():
    window = timedelta(hours=1)
    taken = [DAY + timedelta(minutes=10 * i) for i in range(5)]
    assert collection.photographer_cap_reached(
        taken, DAY + timedelta(minutes=30), cap=5, window=window
    )
    assert not collection.photographer_cap_reached(
        taken, DAY + timedelta(hours=3), cap=5, window=window
    )
    assert not collection.photographer_cap_reached(taken[:4], DAY, cap=5, window=window)
    assert collection.photographer_cap_reached([None] * 5, None, cap=5, window=window)


def test_a_sixth_photo_of_one_photographer_in_the_window_is_capped(project):
    outcomes = [
        collection.candidate_offer(
            project=project, query=None,
            offer=offer(i, owner="ann@flickr", taken=DAY + timedelta(minutes=5 * i)),
        ).outcome
        for i in range(7)
    ]  # fmt: skip
    assert outcomes == ["stored"] * 5 + ["capped"] * 2
    later = collection.candidate_offer(
        project=project,
        query=None,
        offer=offer(20, owner="ann@flickr", taken=DAY + timedelta(hours=5)),
    )
    assert later.outcome == "stored", "another time window"
    other = collection.candidate_offer(
        project=project, query=None, offer=offer(21, owner="bob", taken=DAY)
    )
    assert other.outcome == "stored"


def test_an_offered_photo_already_in_the_pool_is_not_read_again(project):
    add(project, 1)

    def must_not_download() -> bytes:
        raise AssertionError("downloaded twice")

    again = CandidateOffer(
        source="flickr", source_ref="flickr:1", file_name="1.jpg", fetch=must_not_download
    )
    assert collection.candidate_offer(project=project, query=None, offer=again).outcome == "known"


def test_a_failing_read_is_recorded_and_nothing_is_stored(project):
    def broken() -> bytes:
        raise OSError("connection reset by peer")

    bad = CandidateOffer(source="url", source_ref="http://x/1.jpg", file_name="1.jpg", fetch=broken)
    result = collection.candidate_offer(project=project, query=None, offer=bad)
    assert result.outcome == "failed"
    assert result.candidate.reason == "download failed: connection reset by peer"
    assert not result.candidate.file


# --- near-duplicates ------------------------------------------------------------------
def test_hashes_within_the_distance_group_transitively():
    a, b, c, far = 0, 0b111, 0b111111, (1 << 64) - 1  # a-b 3 bits, b-c 3 bits, a-c 6 bits
    groups = collection.near_duplicate_groups([(1, a), (2, b), (3, c), (4, far)], max_distance=3)
    assert groups == {1: 1, 2: 1, 3: 1, 4: 4}
    assert collection.near_duplicate_groups([(1, a), (2, c)], max_distance=5) == {1: 1, 2: 2}
    assert collection.near_duplicate_groups([(1, a), (2, c)], max_distance=6) == {1: 1, 2: 1}


def test_a_resized_recompressed_copy_is_a_near_duplicate_and_leaves_the_pool(project):
    first = add(project, 1)
    copy = add(project, 101, content=near_copy(1))
    other = add(project, 2)
    assert first.checksum_sha256 != copy.checksum_sha256
    assert collection.near_duplicates_group(project=project) == 1
    copy.refresh_from_db()
    other.refresh_from_db()
    assert copy.status == Candidate.Status.DUPLICATE and copy.duplicate_of_id == first.id
    assert copy.duplicate_group == first.id
    assert other.status == Candidate.Status.POOLED and other.duplicate_group == other.id


def test_a_near_duplicate_of_a_photo_in_a_grid_is_not_posted(project):
    first = add(project, 1)
    collection.grids_post(project=project)
    add(project, 101, content=near_copy(1))
    assert collection.grids_post(project=project) == []
    assert Candidate.objects.get(source_ref="flickr:101").duplicate_of_id == first.id


# --- grids, answers, votes ------------------------------------------------------------
def test_pooled_candidates_are_posted_in_grids_of_the_configured_size(project):
    project.stage_settings = {"collection_grid_size": 2, "collection_answers_per_grid": 3}
    project.save()
    ids = [add(project, seed).id for seed in range(5)]
    assert collection.grids_post(project=project, include_partial=False) != []
    grids = Task.objects.filter(stage=Stage.COLLECTION).order_by("id")
    assert [g.payload["candidate_ids"] for g in grids] == [ids[0:2], ids[2:4]]
    assert all(g.answers_needed == 3 and g.assignments.count() == 3 for g in grids)
    assert collection.grids_post(project=project)[0].payload["candidate_ids"] == [ids[4]]
    assert set(Candidate.objects.values_list("status", flat=True)) == {"in_grid"}


def test_an_answer_names_candidates_of_its_grid_only(project):
    ids = [add(project, seed).id for seed in range(3)]
    grid = collection.grids_post(project=project)[0]
    assert collection.validate_answer(grid, {"marked": [ids[2], ids[0], ids[2]]}) == {
        "marked": [ids[0], ids[2]]
    }
    assert collection.validate_answer(grid, {"marked": []}) == {"marked": []}
    for bad in [
        None,
        [],
        {"iconic": []},
        {"marked": "1"},
        {"marked": [True]},
        {"marked": [ids[0] + 99]},
    ]:
        with pytest.raises(AnswerInvalid):
            collection.validate_answer(grid, bad)


def answer_grid(grid, workers, marked_by_worker, capture):  # type: ignore[no-untyped-def]
    for worker, marked in zip(workers, marked_by_worker, strict=True):
        lease = task_engine.task_next_for_worker(worker=worker, stage=Stage.COLLECTION)
        assert lease is not None and lease.task_id == grid.id
        with capture(execute=True):
            task_engine.assignment_submit(
                assignment_id=lease.id,
                worker=worker,
                answer={"marked": marked},
                key=f"{grid.id}-{worker.pk}",
            )


def test_a_photo_is_accepted_when_a_majority_leaves_it_unmarked(
    project, make_worker, django_capture_on_commit_callbacks
):
    a, b, c, d = (add(project, seed, owner=f"o{seed}", taken=DAY) for seed in range(4))
    grid = collection.grids_post(project=project)[0]
    workers = [make_worker() for _ in range(3)]
    # a: nobody marks it; b: one of three; c: two of three; d: all three.
    answer_grid(
        grid,
        workers,
        [[b.id, c.id, d.id], [c.id, d.id], [d.id]],
        django_capture_on_commit_callbacks,
    )
    status = dict(Candidate.objects.values_list("id", "status"))
    assert [status[x.id] for x in (a, b, c, d)] == ["accepted", "accepted", "iconic", "iconic"]
    accepted = Candidate.objects.get(id=b.id)
    assert (accepted.votes_marked, accepted.votes_total) == (1, 3)
    image = accepted.image
    assert image.source == "flickr" and image.photographer == "o1" and image.date_taken == DAY
    assert image.checksum_sha256 == accepted.checksum_sha256 and image.width == 96
    assert image.split in {"train", "val", "test"}
    grid.refresh_from_db()
    assert grid.status == "complete" and grid.result["kept"] == [a.id, b.id]
    assert grid.result["iconic"] == [c.id, d.id] and grid.result["keep_votes_needed"] == 2
    labeling = Task.objects.filter(project=project, stage=Stage.LABELING)
    assert sorted(labeling.values_list("image_id", flat=True)) == sorted(
        [Candidate.objects.get(id=a.id).image_id, image.id]
    ), "accepted photos go on to category labeling"
    collection.on_task_complete(grid)
    assert Image.objects.filter(project=project).count() == 2, "running it again changes nothing"
    assert labeling.count() == 2


def test_the_keep_vote_is_configurable(project, make_worker, django_capture_on_commit_callbacks):
    project.stage_settings = {"collection_answers_per_grid": 2, "collection_keep_votes": 1}
    project.save()
    a, b = add(project, 1), add(project, 2)
    grid = collection.grids_post(project=project)[0]
    answer_grid(
        grid,
        [make_worker(), make_worker()],
        [[a.id, b.id], [a.id]],
        django_capture_on_commit_callbacks,
    )
    status = dict(Candidate.objects.values_list("id", "status"))
    assert (status[a.id], status[b.id]) == ("iconic", "accepted")


def test_a_near_duplicate_is_never_accepted_twice(
    project, make_worker, django_capture_on_commit_callbacks
):
    project.stage_settings = {"collection_answers_per_grid": 1}
    project.save()
    first, twin = add(project, 1), add(project, 2)
    grids = [collection.grids_post(project=project)[0]]
    # Both reached grids (e.g. posted before the groups were known); they share one group.
    Candidate.objects.filter(id__in=[first.id, twin.id]).update(duplicate_group=first.id)
    worker = make_worker()
    answer_grid(grids[0], [worker], [[]], django_capture_on_commit_callbacks)
    first.refresh_from_db()
    twin.refresh_from_db()
    statuses = sorted([first.status, twin.status])
    assert statuses == ["accepted", "duplicate"]
    assert Image.objects.filter(project=project).count() == 1


def test_a_photo_whose_bytes_are_already_an_image_is_not_stored_twice(
    project, make_worker, django_capture_on_commit_callbacks
):
    from annotation.services.images import SourceMetadata, image_ingest

    image_ingest(project=project, content=photo_bytes(5),
                 meta=SourceMetadata(source="folder", source_ref="/x/5.jpg", file_name="5.jpg"))  # fmt: skip
    candidate = add(project, 5)
    project.stage_settings = {"collection_answers_per_grid": 1}
    project.save()
    grid = collection.grids_post(project=project)[0]
    answer_grid(grid, [make_worker()], [[]], django_capture_on_commit_callbacks)
    candidate.refresh_from_db()
    assert candidate.status == "failed" and candidate.reason.startswith("duplicate: same bytes")


# --- splits ---------------------------------------------------------------------------
def test_splits_follow_the_ratios():
    items = [SplitItem(i, "", None, None) for i in range(1, 401)]
    assigned = collection.splits_for(items, {"train": 0.5, "val": 0.25, "test": 0.25})
    assert Counter(assigned.values()) == {"train": 200, "val": 100, "test": 100}
    assert (
        collection.splits_for(list(reversed(items)), {"train": 0.5, "val": 0.25, "test": 0.25})
        == assigned
    )


def test_a_photographer_day_and_a_near_duplicate_group_stay_in_one_split():
    items = [SplitItem(i, "", f"p{i % 7}|2013-05-0{1 + i % 3}", None) for i in range(1, 200)]
    items += [SplitItem(500, "", None, 42), SplitItem(501, "", "q|2014-01-01", 42),
              SplitItem(502, "", "q|2014-01-01", None)]  # fmt: skip
    assigned = collection.splits_for(items, {"train": 0.5, "val": 0.25, "test": 0.25})
    by_key: dict[str, set[str]] = {}
    for item in items:
        by_key.setdefault(item.photographer_day or "-", set()).add(assigned[item.image_id])
    assert all(len(splits) == 1 for key, splits in by_key.items() if key != "-")
    assert assigned[500] == assigned[501] == assigned[502]
    assert set(assigned.values()) == {"train", "val", "test"}


def test_an_assigned_split_never_moves_and_newcomers_join_their_group():
    items = [SplitItem(1, "test", "p|2013-05-01", None), SplitItem(2, "", "p|2013-05-01", None),
             SplitItem(3, "", None, None)]  # fmt: skip
    assigned = collection.splits_for(items, {"train": 0.5, "val": 0.25, "test": 0.25})
    assert 1 not in assigned and assigned[2] == "test" and assigned[3] == "train"


def test_accepted_images_of_one_photographer_day_share_a_split(
    project, make_worker, django_capture_on_commit_callbacks
):
    project.stage_settings = {"collection_answers_per_grid": 1, "collection_grid_size": 4,
                              "collection_photographer_cap": 100}  # fmt: skip
    project.save()
    for seed in range(12):
        add(project, seed, owner=f"owner{seed % 3}", taken=DAY + timedelta(minutes=seed))
    worker = make_worker()
    for grid in collection.grids_post(project=project):
        answer_grid(grid, [worker], [[]], django_capture_on_commit_callbacks)
    rows = Image.objects.filter(project=project).values_list("photographer", "split")
    assert len(rows) == 12
    splits_by_owner: dict[str, set[str]] = {}
    for owner, split in rows:
        splits_by_owner.setdefault(owner, set()).add(split)
    assert all(len(s) == 1 for s in splits_by_owner.values())
    assert sorted(len(s) for s in splits_by_owner.values()) == [1, 1, 1]


def test_the_grid_is_handed_out_by_the_task_engine(project, annotator):
    add(project, 1)
    collection.grids_post(project=project)
    lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.COLLECTION)
    assert lease is not None and lease.task.stage == "collection"
    assert collection.collection_summary(project=project)["in_grid"] == 1
