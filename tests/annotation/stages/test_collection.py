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
from annotation.stages.collection import CandidateOffer, SplitItem, intake
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
    outcome = collection.collection_candidate_offer(
        project=project, query=None, offer=offer(seed, **kwargs)
    )
    return outcome.candidate


# --- planning -------------------------------------------------------------------------
def test_the_coco_plan_pairs_every_two_categories_and_every_category_with_every_scene(db):
    project = project_create(name="COCO plan", template="coco")
    added = collection.collection_queries_plan(project=project)
    assert added == 91 * 90 // 2 + 91 * 40
    queries = SearchQuery.objects.filter(project=project)
    assert queries.filter(kind="pair").count() == 4095
    assert queries.filter(kind="scene").count() == 3640
    assert queries.filter(kind="pair", text="dog car").exists() is False, "pairs go in id order"
    assert queries.filter(kind="pair", text="car dog").exists()
    assert queries.filter(kind="scene", text="dog kitchen").exists()
    assert collection.collection_queries_plan(project=project) == 0, "planning twice adds nothing"


def test_only_the_plan_kinds_are_planned(project):
    from django.http import QueryDict

    from annotation.admin_collection import run_action
    from annotation.errors import DomainError

    assert collection.PLAN_KINDS == ("pair", "scene", "single")
    assert collection.DEFAULT_PLAN_KINDS == ("pair", "scene")
    with pytest.raises(DomainError, match=r"pair, scene, single, not \['folder', 'pairs'\]"):
        collection.collection_queries_plan(project=project, kinds=["pair", "pairs", "folder"])
    assert not SearchQuery.objects.exists(), "nothing is planned when a kind is unknown"
    with pytest.raises(DomainError):
        run_action(project, QueryDict("action=plan&kinds=pairs"))
    assert run_action(project, QueryDict("action=plan")) == "Planned 3 new queries."
    assert set(SearchQuery.objects.values_list("kind", flat=True)) == {"pair"}, (
        "this taxonomy has no scenes"
    )


def test_single_category_queries_are_the_fallback_for_rare_categories(project):
    collection.collection_queries_plan(project=project, kinds=["pair"])
    project.stage_settings = {"collection_fallback_min_yield": 3}
    project.save()
    queries = {q.text: q for q in SearchQuery.objects.filter(project=project)}
    assert set(queries) == {"dog car", "dog zebra", "car zebra"}
    assert collection.collection_queries_plan_fallback(project=project) == 0, "nothing ran yet"
    for seed in range(4):
        collection.collection_candidate_offer(
            project=project, query=queries["dog car"], offer=offer(seed)
        )
    collection.collection_candidate_offer(
        project=project, query=queries["dog zebra"], offer=offer(10)
    )
    SearchQuery.objects.filter(text__in=["dog car", "dog zebra"]).update(status="done")
    assert [c.name for c in collection.collection_categories_needing_fallback(project=project)] == [
        "zebra"
    ]
    assert collection.collection_queries_plan_fallback(project=project) == 1
    single = SearchQuery.objects.get(project=project, kind="single")
    assert single.text == "zebra" and single.category_a.name == "zebra"


def test_the_plan_shows_each_querys_yield(project):
    collection.collection_queries_plan(project=project, kinds=["pair"])
    query = SearchQuery.objects.get(text="dog car")
    for seed in range(3):
        collection.collection_candidate_offer(project=project, query=query, offer=offer(seed))
    Candidate.objects.filter(source_ref="flickr:0").update(status="accepted")
    row = collection.collection_queries_with_yield(project=project).get(id=query.id)
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
        collection.collection_candidate_offer(
            project=project, query=None,
            offer=offer(i, owner="ann@flickr", taken=DAY + timedelta(minutes=5 * i)),
        ).outcome
        for i in range(7)
    ]  # fmt: skip
    assert outcomes == ["stored"] * 5 + ["capped"] * 2
    later = collection.collection_candidate_offer(
        project=project,
        query=None,
        offer=offer(20, owner="ann@flickr", taken=DAY + timedelta(hours=5)),
    )
    assert later.outcome == "stored", "another time window"
    other = collection.collection_candidate_offer(
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
    assert (
        collection.collection_candidate_offer(project=project, query=None, offer=again).outcome
        == "known"
    )


def test_a_failing_read_is_recorded_and_nothing_is_stored(project):
    def broken() -> bytes:
        raise OSError("connection reset by peer")

    bad = CandidateOffer(source="url", source_ref="http://x/1.jpg", file_name="1.jpg", fetch=broken)
    result = collection.collection_candidate_offer(project=project, query=None, offer=bad)
    assert result.outcome == "failed"
    assert result.candidate.reason == "download failed: connection reset by peer"
    assert not result.candidate.file


def rotated_photo(seed: int) -> bytes:
    """photo_bytes(seed) stored sideways with an EXIF orientation (6: rotate 90 degrees)."""
    import io

    import PIL.Image

    photo = PIL.Image.open(io.BytesIO(photo_bytes(seed)))
    exif = PIL.Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "size"),
    [(photo_bytes(3), (96, 72)), (rotated_photo(4), (72, 96))],
    ids=["plain", "exif-rotated"],
)
def test_an_offered_photo_is_decoded_once_for_its_checks_hash_and_thumbnail(
    project, monkeypatch, settings, content, size
):
    import PIL.Image

    expected_thumb, expected_phash = collection.photo_thumbnail(
        content, settings.COLLECTION_THUMBNAIL_PX
    )
    opened = []
    real_open = PIL.Image.open

    def counting_open(*args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counting_open)
    stored = add(project, 3, content=content)
    assert len(opened) == 1
    assert stored.phash == expected_phash
    assert (stored.width, stored.height) == size
    with stored.thumbnail.open("rb") as handle:
        assert handle.read() == expected_thumb


def test_the_same_bytes_again_are_a_duplicate_without_a_second_decode(project, monkeypatch):
    first = add(project, 5)
    monkeypatch.setattr(
        intake, "photo_check", lambda *a, **k: pytest.fail("decoded the same bytes again")
    )
    twin = add(project, 5, ref="flickr:twin")
    assert twin.status == Candidate.Status.DUPLICATE and twin.duplicate_of_id == first.id
    assert twin.reason == f"same bytes as candidate {first.id}"
    assert (twin.checksum_sha256, twin.phash, twin.width, twin.height) == (
        first.checksum_sha256,
        first.phash,
        first.width,
        first.height,
    )
    assert not twin.file and not twin.thumbnail


def test_a_photo_that_cannot_be_decoded_keeps_no_checksum(project):
    failed = add(project, 0, content=b"not a photo")
    assert failed.status == Candidate.Status.FAILED and failed.checksum_sha256 == ""
    assert failed.reason.startswith("not_an_image")
    assert add(project, 0, content=b"not a photo", ref="again").status == "failed"


def test_a_thumbnail_is_read_once_and_made_again_when_lost(project, monkeypatch):
    stored = add(project, 6)
    with stored.thumbnail.open("rb") as handle:
        original = handle.read()
    storage = stored.thumbnail.storage
    monkeypatch.setattr(
        storage, "exists", lambda name: pytest.fail("asked whether it exists before reading")
    )
    assert collection.collection_thumbnail_for(Candidate.objects.get(id=stored.id)) == original
    monkeypatch.undo()
    storage.delete(stored.thumbnail.name)
    again = collection.collection_thumbnail_for(Candidate.objects.get(id=stored.id))
    assert again[:2] == b"\xff\xd8", "a JPEG, made from the stored photo"
    remade = Candidate.objects.get(id=stored.id)
    assert remade.thumbnail.name.endswith(f"/thumbs/{stored.id}.jpg")
    assert collection.collection_thumbnail_for(remade) == again


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
    assert collection.collection_near_duplicates_group(project=project) == 1
    copy.refresh_from_db()
    other.refresh_from_db()
    assert copy.status == Candidate.Status.DUPLICATE and copy.duplicate_of_id == first.id
    assert copy.duplicate_group == first.id
    assert other.status == Candidate.Status.POOLED and other.duplicate_group == other.id


def test_regrouping_writes_only_the_changed_groups_in_one_statement(project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ids = [add(project, seed).id for seed in range(6)]
    copy = add(project, 101, content=near_copy(1))

    def updates() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            collection.collection_near_duplicates_group(project=project)
        return [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]

    first = updates()
    grouping = [sql for sql in first if "duplicate_group" in sql and "CASE" in sql]
    assert len(grouping) == 1, "every new group is written by one bulk statement"
    assert dict(Candidate.objects.values_list("id", "duplicate_group")) == {
        **{i: i for i in ids},
        copy.id: ids[1],
    }
    assert updates() == [], "nothing changed, nothing written"
    Candidate.objects.filter(id=ids[3]).update(duplicate_group=None)
    (again,) = updates()
    assert "duplicate_group" in again
    assert Candidate.objects.get(id=ids[3]).duplicate_group == ids[3]


def test_a_near_duplicate_of_a_photo_in_a_grid_is_not_posted(project):
    first = add(project, 1)
    collection.collection_grids_post(project=project)
    add(project, 101, content=near_copy(1))
    assert collection.collection_grids_post(project=project) == []
    assert Candidate.objects.get(source_ref="flickr:101").duplicate_of_id == first.id


# --- grids, answers, votes ------------------------------------------------------------
def test_pooled_candidates_are_posted_in_grids_of_the_configured_size(project):
    project.stage_settings = {"collection_grid_size": 2, "collection_answers_per_grid": 3}
    project.save()
    ids = [add(project, seed).id for seed in range(5)]
    assert collection.collection_grids_post(project=project, include_partial=False) != []
    grids = Task.objects.filter(stage=Stage.COLLECTION).order_by("id")
    assert [g.payload["candidate_ids"] for g in grids] == [ids[0:2], ids[2:4]]
    assert all(g.answers_needed == 3 and g.assignments.count() == 3 for g in grids)
    assert collection.collection_grids_post(project=project)[0].payload["candidate_ids"] == [ids[4]]
    assert set(Candidate.objects.values_list("status", flat=True)) == {"in_grid"}


def test_an_answer_names_candidates_of_its_grid_only(project):
    ids = [add(project, seed).id for seed in range(3)]
    grid = collection.collection_grids_post(project=project)[0]
    assert collection.validate_collection_answer(grid, {"marked": [ids[2], ids[0], ids[2]]}) == {
        "marked": [ids[0], ids[2]]
    }
    assert collection.validate_collection_answer(grid, {"marked": []}) == {"marked": []}
    for bad in [
        None,
        [],
        {"iconic": []},
        {"marked": "1"},
        {"marked": [True]},
        {"marked": [ids[0] + 99]},
    ]:
        with pytest.raises(AnswerInvalid):
            collection.validate_collection_answer(grid, bad)


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
    grid = collection.collection_grids_post(project=project)[0]
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
    collection.on_collection_complete(grid)
    assert Image.objects.filter(project=project).count() == 2, "running it again changes nothing"
    assert labeling.count() == 2


def test_the_keep_vote_is_configurable(project, make_worker, django_capture_on_commit_callbacks):
    project.stage_settings = {"collection_answers_per_grid": 2, "collection_keep_votes": 1}
    project.save()
    a, b = add(project, 1), add(project, 2)
    grid = collection.collection_grids_post(project=project)[0]
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
    grids = [collection.collection_grids_post(project=project)[0]]
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
    grid = collection.collection_grids_post(project=project)[0]
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
    for grid in collection.collection_grids_post(project=project):
        answer_grid(grid, [worker], [[]], django_capture_on_commit_callbacks)
    rows = Image.objects.filter(project=project).values_list("photographer", "split")
    assert len(rows) == 12
    splits_by_owner: dict[str, set[str]] = {}
    for owner, split in rows:
        splits_by_owner.setdefault(owner, set()).add(split)
    assert all(len(s) == 1 for s in splits_by_owner.values())
    assert sorted(len(s) for s in splits_by_owner.values()) == [1, 1, 1]


def test_splits_follow_the_candidates_and_nothing_is_locked_when_all_are_assigned(project):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def image(n: int, split: str = "") -> Image:
        return Image.objects.create(
            project=project, file_name=f"{n}.jpg", width=10, height=10, split=split,
            checksum_sha256=f"{n:064x}", source=Image.Source.FLICKR,
        )  # fmt: skip

    old, twin, other = image(1, split="val"), image(2), image(3)
    for n, (img, owner, group) in enumerate(
        [(old, "a", 7), (twin, "b", 7), (other, "c", None)], start=1
    ):
        Candidate.objects.create(
            project=project, source_ref=f"ref{n}", image=img, photographer_id=owner,
            duplicate_group=group, status=Candidate.Status.ACCEPTED,
        )  # fmt: skip
    assert collection.collection_splits_assign(project=project) == 2
    twin.refresh_from_db()
    assert twin.split == "val", "a near-duplicate joins its group's split"
    with CaptureQueriesContext(connection) as captured:
        assert collection.collection_splits_assign(project=project) == 0
    selects = [q["sql"] for q in captured.captured_queries if "SELECT" in q["sql"]]
    assert len(selects) == 1 and "FOR UPDATE" not in selects[0]


def test_the_grid_is_handed_out_by_the_task_engine(project, annotator):
    add(project, 1)
    collection.collection_grids_post(project=project)
    lease = task_engine.task_next_for_worker(worker=annotator, stage=Stage.COLLECTION)
    assert lease is not None and lease.task.stage == "collection"
    assert collection.collection_summary(project=project)["in_grid"] == 1


def test_a_candidate_is_stored_once_under_the_collection_folders(project):
    """Names are relative to the fields' upload_to: no collection/collection/ doubling."""
    candidate = add(project, 41)
    checksum = candidate.checksum_sha256
    folder = f"{project.id}/{checksum[:2]}"
    assert candidate.file.name.startswith(f"collection/{folder}/{checksum}")
    assert candidate.thumbnail.name.startswith(f"collection/thumbs/{folder}/{checksum}_t")
