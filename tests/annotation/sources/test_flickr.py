"""The Flickr client and query runs against a Flickr-compatible server on 127.0.0.1."""

from __future__ import annotations

import pytest

from annotation.models import ImageRejection
from annotation.models.collection import Candidate, SearchQuery
from annotation.services.projects import project_create
from annotation.sources import flickr
from annotation.sources.flickr import FlickrClient, FlickrError, FlickrTransient
from tests.annotation.sources.flickr_server import FlickrServer


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    with FlickrServer() as running:
        yield running


class Sleeps:
    """Records the waits the client asks for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_client(server, **overrides) -> FlickrClient:  # type: ignore[no-untyped-def]
    options = {"api_key": "test-key", "base_url": server.api_url, "timeout": 5.0,
               "min_interval": 0.0, "max_retries": 2, "backoff": 0.5, "sleep": Sleeps()}  # fmt: skip
    options.update(overrides)
    return FlickrClient(**options)


@pytest.fixture
def project(db):  # type: ignore[no-untyped-def]
    return project_create(name="Pets", categories=[{"name": "dog"}, {"name": "car"}])


def make_query(project, text: str = "dog car") -> SearchQuery:  # type: ignore[no-untyped-def]
    return SearchQuery.objects.create(project=project, kind=SearchQuery.Kind.PAIR, text=text)


def test_search_sends_flickrs_parameters_and_reads_a_page(server):
    server.fake.add_photos("dog car", 3)
    page = make_client(server).photos_search(
        text="dog car", per_page=2, license="4,5", sort="relevance"
    )
    sent = server.fake.requests[0]
    assert sent["method"] == "flickr.photos.search"
    assert sent["api_key"] == "test-key"
    assert (sent["text"], sent["per_page"], sent["page"], sent["license"]) == (
        "dog car",
        "2",
        "1",
        "4,5",
    )
    assert set(sent["extras"].split(",")) >= {
        "owner_name",
        "date_taken",
        "license",
        "url_o",
        "url_c",
        "url_z",
    }
    assert (page.page, page.pages, page.total) == (1, 2, 3)
    assert [p.id for p in page.photos] == ["10000", "10001"]
    first = page.photos[0]
    assert first.owner == "owner0" and first.owner_name == "Name of owner0"
    assert first.date_taken.isoformat() == "2013-05-01T10:00:00+00:00"
    assert first.page_url == "https://www.flickr.com/photos/owner0/10000/"


def test_the_key_and_base_url_come_from_settings(server, settings):
    settings.FLICKR_API_KEY = "test-key"
    settings.FLICKR_API_URL = server.api_url
    settings.FLICKR_MIN_INTERVAL_SECONDS = 0
    server.fake.add_photos("cat", 1)
    client = FlickrClient.from_settings()
    assert client.photos_search(text="cat").total == 1
    settings.FLICKR_API_KEY = ""
    with pytest.raises(FlickrError, match="FLICKR_API_KEY"):
        FlickrClient.from_settings()


def test_a_run_follows_the_pages_and_stores_photos_with_their_metadata(server, project):
    project.stage_settings = {"collection_per_page": 4, "collection_photographer_cap": 50}
    project.save()
    server.fake.add_photos("dog car", 10)
    query = make_query(project)
    run = flickr.query_run(query=query, client=make_client(server), limit=100)
    assert run.outcomes == {"stored": 10}
    assert [r["page"] for r in server.fake.requests] == ["1", "2", "3"]
    query.refresh_from_db()
    assert (query.status, query.pages_done, query.total_available, query.offered) == (
        "done",
        3,
        10,
        10,
    )
    candidate = Candidate.objects.get(source_ref="flickr:10003")
    assert candidate.status == Candidate.Status.POOLED
    assert candidate.query == query and candidate.source == "flickr"
    assert candidate.photographer == "Name of owner3" and candidate.photographer_id == "owner3"
    assert candidate.license_name == "Attribution License"
    assert candidate.license_url == "http://creativecommons.org/licenses/by/2.0/"
    assert candidate.original_url == "https://www.flickr.com/photos/owner3/10003/"
    assert len(candidate.phash) == 16 and candidate.width == 96 and candidate.height == 72
    assert candidate.thumbnail.name and candidate.file.name


def test_a_rerun_resumes_and_skips_what_is_stored(server, project):
    project.stage_settings = {"collection_per_page": 4}
    project.save()
    server.fake.add_photos("dog car", 10)
    query = make_query(project)
    flickr.query_run(query=query, client=make_client(server), limit=6)
    query.refresh_from_db()
    assert query.offered == 6 and Candidate.objects.count() == 6
    assert query.pages_done == 1, "page 2 was only half used, so a larger run asks for it again"
    server.fake.requests.clear()
    run = flickr.query_run(query=query, client=make_client(server), limit=100)
    assert run.outcomes == {"known": 2, "stored": 4}, (
        "the 2 photos of page 2 already stored are skipped"
    )
    assert [r["page"] for r in server.fake.requests] == ["2", "3"]
    assert Candidate.objects.count() == 10
    server.fake.requests.clear()
    again = flickr.query_run(query=query, client=make_client(server), limit=100)
    assert again.outcomes == {} and server.fake.requests == [], (
        "a finished query is not asked again"
    )


def test_server_errors_are_retried_with_exponential_back_off(server, project):
    server.fake.add_photos("dog car", 2)
    server.fake.script = ["500", "503"]
    client = make_client(server, max_retries=3, backoff=0.5)
    page = client.photos_search(text="dog car")
    assert len(page.photos) == 2
    assert client.sleep.waits == [0.5, 1.0]
    assert len(server.fake.requests) == 3


def test_a_client_error_is_not_retried(server):
    client = make_client(server, api_key="wrong-key")
    with pytest.raises(FlickrError, match="error 100: Invalid API Key"):
        client.photos_search(text="dog car")
    assert len(server.fake.requests) == 1


def test_a_page_failing_for_good_keeps_what_was_stored_and_the_rerun_resumes(server, project):
    project.stage_settings = {"collection_per_page": 3}
    project.save()
    server.fake.add_photos("dog car", 7)
    server.fake.page_actions = {2: "500"}
    query = make_query(project)
    run = flickr.query_run(query=query, client=make_client(server, max_retries=1), limit=100)
    assert "HTTP 500" in run.error and "after 2 tries" in run.error
    query.refresh_from_db()
    assert query.status == SearchQuery.Status.PARTIAL and query.pages_done == 1
    assert "page 2" in query.error
    assert Candidate.objects.count() == 3, "page 1's photos stay"
    server.fake.page_actions = {}
    flickr.query_run(query=query, client=make_client(server), limit=100)
    query.refresh_from_db()
    assert query.status == SearchQuery.Status.DONE and query.error == ""
    assert Candidate.objects.filter(status=Candidate.Status.POOLED).count() == 7


def test_a_time_out_is_retried_then_reported(server, project):
    server.fake.page_actions = {1: "slow"}
    server.fake.slow_seconds = 2.0
    query = make_query(project)
    client = make_client(server, timeout=0.3, max_retries=1)
    run = flickr.query_run(query=query, client=client, limit=10)
    assert "timed out" in run.error
    assert client.sleep.waits == [0.5]
    query.refresh_from_db()
    assert query.status == SearchQuery.Status.FAILED and "timed out" in query.error


def test_a_malformed_answer_is_an_error_without_retries(server, project):
    server.fake.script = ["garbage"]
    query = make_query(project)
    run = flickr.query_run(query=query, client=make_client(server), limit=10)
    assert "malformed response: not JSON" in run.error
    assert len(server.fake.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "not a JSON object"),
        (b'{"stat": "ok"}', "no 'photos.photo' list"),
        (b'{"stat": "ok", "photos": {"page": "x", "photo": []}}', "page is 'x'"),
    ],
)
def test_malformed_pages_are_explained(body, message):
    with pytest.raises(FlickrError, match=message):
        flickr.page_parse(body, ["url_z"])


def test_photos_with_missing_fields_are_recorded_and_the_run_goes_on(server, project):
    good = server.fake.add_photos("dog car", 2)
    server.fake.photos["dog car"] += [
        {"title": "no id at all", "url_z": good[0]["url_z"]},
        {"id": "777", "owner": "x", "title": "no picture URL"},
        {"id": "778", "url_z": good[1]["url_z"]},  # no owner, date or licence
    ]
    query = make_query(project)
    run = flickr.query_run(query=query, client=make_client(server), limit=100)
    assert run.problems == 2
    reasons = dict(ImageRejection.objects.values_list("source_ref", "detail"))
    assert any(ref.startswith("flickr:#3") and "no id" in why for ref, why in reasons.items())
    assert any(
        ref.startswith("flickr:777") and "no image URL" in why for ref, why in reasons.items()
    )
    bare = Candidate.objects.get(source_ref="flickr:778")
    assert bare.photographer == "" and bare.date_taken is None and bare.license_name == ""
    assert bare.status == Candidate.Status.DUPLICATE, "same bytes as photo 10001"
    assert Candidate.objects.filter(status=Candidate.Status.POOLED).count() == 2


def test_broken_downloads_and_bombs_are_recorded_with_their_reason(server, project, settings):
    settings.MAX_IMAGE_PIXELS = 1000  # the 96x72 test photos are "bombs" above twice this
    items = server.fake.add_photos("dog car", 3)
    server.fake.files["p1.jpg"] = b"this is not a picture"
    del server.fake.files["p2.jpg"]
    query = make_query(project)
    run = flickr.query_run(query=query, client=make_client(server), limit=100)
    assert run.outcomes == {"failed": 3}
    reasons = dict(Candidate.objects.values_list("source_ref", "reason"))
    assert reasons[f"flickr:{items[0]['id']}"].startswith("decompression_bomb")
    assert reasons[f"flickr:{items[1]['id']}"].startswith("not_an_image")
    assert "HTTP 404" in reasons[f"flickr:{items[2]['id']}"]
    query.refresh_from_db()
    assert query.status == SearchQuery.Status.DONE


def test_at_most_five_photos_per_photographer_in_the_time_window(server, project):
    server.fake.add_photos("dog car", 8, owner=lambda i: "prolific")  # 10:00 to 17:00 one day
    server.fake.add_photos(
        "dog car", 2, owner=lambda i: "prolific", start_seed=50, day="2014-07-09"
    )
    project.stage_settings = {"collection_photographer_window_minutes": 24 * 60}
    project.save()
    run = flickr.query_run(query=make_query(project), client=make_client(server), limit=100)
    assert run.outcomes == {"stored": 7, "capped": 3}, "5 on the first day, 2 on another day"
    capped = Candidate.objects.filter(status=Candidate.Status.CAPPED)
    assert all("5 photos of this photographer" in c.reason for c in capped)
    assert not any(c.file for c in capped), "capped photos are not downloaded"


def test_api_calls_are_spaced_by_the_rate_limit(server):
    server.fake.add_photos("dog car", 1)
    ticks = iter([100.0, 100.2, 101.0, 105.0, 105.0])
    client = make_client(server, min_interval=1.0, clock=lambda: next(ticks))
    for _ in range(3):
        client.photos_search(text="dog car")
    assert client.sleep.waits == pytest.approx([0.8]), "the second call waited, the third did not"


def test_exhausted_retries_name_the_transient_failure(server):
    server.fake.script = ["429", "429", "429"]
    client = make_client(server, max_retries=2)
    with pytest.raises(FlickrTransient, match="HTTP 429"):
        client.photos_search(text="x")
    assert client.sleep.waits == [0.5, 1.0]
