"""`collect_images` end to end against the Flickr-compatible test server: plan, fetch with a
progress bar, post grids, and a summary with the yield."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Task
from annotation.models.collection import Candidate, SearchQuery
from annotation.services.projects import project_create
from tests.annotation.sources.flickr_server import FlickrServer, near_copy, photo_bytes


@pytest.fixture
def project(db):  # type: ignore[no-untyped-def]
    return project_create(
        name="Yard", categories=[{"name": "dog"}, {"name": "cat"}, {"name": "bench"}]
    )


def test_plan_fetch_and_post_grids_with_a_summary(project, settings):
    with FlickrServer() as server:
        settings.FLICKR_API_KEY = "test-key"
        settings.FLICKR_API_URL = server.api_url
        settings.FLICKR_MIN_INTERVAL_SECONDS = 0
        server.fake.add_photos("dog cat", 12)
        server.fake.add_photos("dog bench", 3, start_seed=100, owner=lambda i: "same")
        server.fake.files["p101.jpg"] = near_copy(100)  # a near-duplicate of p100
        server.fake.files["p102.jpg"] = b"broken"
        out, err = io.StringIO(), io.StringIO()
        call_command("collect_images", "--project", "yard", "--plan", "--flickr", "5",
                     "--post-grids", stdout=out, stderr=err)  # fmt: skip
    text = out.getvalue()
    assert "Planned 3 new queries." in text
    assert "Ran 3 Flickr queries." in text
    assert "Removed 1 near-duplicate(s) from the pool." in text
    assert "Posted 1 filtering grid(s)." in text
    assert "3/3 queries run; 14 candidates stored (0 pooled, 13 in grids" in text
    assert "1 failed" in text
    assert "photo" in err.getvalue(), "the progress bar ran"
    assert SearchQuery.objects.filter(status="done").count() == 3
    assert Task.objects.get(stage="collection").payload["candidate_ids"] == list(
        Candidate.objects.filter(status="in_grid").values_list("id", flat=True)
    )


def test_a_folder_feeds_the_same_pool(project, tmp_path):
    for seed in range(3):
        (tmp_path / f"{seed}.jpg").write_bytes(photo_bytes(seed))
    (tmp_path / "notes.txt").write_text("not a photo")
    out = io.StringIO()
    call_command(
        "collect_images",
        "--project",
        "yard",
        "--folder",
        str(tmp_path),
        "--no-progress",
        stdout=out,
    )
    assert "1 failed, 3 stored" in out.getvalue()
    query = SearchQuery.objects.get(kind="folder")
    assert query.text == str(tmp_path) and query.offered == 4
    call_command(
        "collect_images",
        "--project",
        "yard",
        "--folder",
        str(tmp_path),
        "--no-progress",
        stdout=out,
    )
    assert "4 known" in out.getvalue(), "a second run reads nothing again"


def test_post_grids_groups_the_near_duplicates_once(project, tmp_path, monkeypatch):
    from annotation.stages import collection
    from annotation.stages.collection import grids

    for seed in range(3):
        (tmp_path / f"{seed}.jpg").write_bytes(photo_bytes(seed))
    (tmp_path / "copy.jpg").write_bytes(near_copy(0))
    calls = []
    original = collection.collection_near_duplicates_group

    def counted(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(collection, "collection_near_duplicates_group", counted)
    monkeypatch.setattr(grids, "collection_near_duplicates_group", counted)
    out = io.StringIO()
    call_command("collect_images", "--project", "yard", "--folder", str(tmp_path),
                 "--post-grids", "--no-progress", stdout=out)  # fmt: skip
    assert len(calls) == 1
    assert "Removed 1 near-duplicate(s) from the pool." in out.getvalue()
    assert "Posted 1 filtering grid(s)." in out.getvalue()
    assert Candidate.objects.filter(status="in_grid").count() == 3


def test_a_bad_plan_kind_is_explained(project):
    with pytest.raises(CommandError, match="--plan takes pair, scene and single"):
        call_command("collect_images", "--project", "yard", "--plan", "pairs")


def test_without_an_api_key_flickr_runs_are_refused(project, settings):
    settings.FLICKR_API_KEY = ""
    with pytest.raises(CommandError, match="FLICKR_API_KEY"):
        call_command("collect_images", "--project", "yard", "--flickr", "1", "--no-progress")
