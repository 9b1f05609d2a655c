"""A client of the Flickr REST API (flickr.photos.search) and the run of one search query.

COCO collected its candidates on Flickr, which "tends to have fewer iconic images" (thesis
§2.3.2). The client:
- reads the API key and the API's base URL from settings (FLICKR_API_KEY, FLICKR_API_URL),
  so tests and mirrors point it at another server;
- waits FLICKR_MIN_INTERVAL_SECONDS between API calls (Flickr allows 3,600 calls an hour);
- retries 5xx answers, 429 and time-outs with exponential back-off, and never retries a
  4xx or a well-formed Flickr error ("stat": "fail"): those would fail again;
- turns a response with missing fields into a per-photo problem, never a crash.
A run stores every page's photos before asking for the next page and remembers the pages
done, so a run that stopped resumes where it was; photos already stored are skipped.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from annotation.models import Image, ImageRejection
from annotation.models.collection import SearchQuery
from annotation.stages import collection

logger = logging.getLogger(__name__)

# Flickr's licence ids (flickr.photos.licenses.getInfo); COCO's released files carry the
# same names and URLs.
LICENSES: dict[str, tuple[str, str]] = {
    "0": ("All Rights Reserved", ""),
    "1": ("Attribution-NonCommercial-ShareAlike License", "http://creativecommons.org/licenses/by-nc-sa/2.0/"),
    "2": ("Attribution-NonCommercial License", "http://creativecommons.org/licenses/by-nc/2.0/"),
    "3": ("Attribution-NonCommercial-NoDerivs License", "http://creativecommons.org/licenses/by-nc-nd/2.0/"),
    "4": ("Attribution License", "http://creativecommons.org/licenses/by/2.0/"),
    "5": ("Attribution-ShareAlike License", "http://creativecommons.org/licenses/by-sa/2.0/"),
    "6": ("Attribution-NoDerivs License", "http://creativecommons.org/licenses/by-nd/2.0/"),
    "7": ("No known copyright restrictions", "http://flickr.com/commons/usage/"),
    "8": ("United States Government Work", "http://www.usa.gov/copyright.shtml"),
    "9": ("Public Domain Dedication (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "10": ("Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/"),
}  # fmt: skip
EXTRAS = "owner_name,date_taken,license,url_o,url_c,url_z"


class FlickrError(Exception):
    """A request that failed for good (after retries, or one that retrying cannot fix)."""


class FlickrTransient(FlickrError):
    """A failure worth retrying: 5xx, 429, a time-out, a dropped connection."""


@dataclass
class FlickrPhoto:
    id: str
    url: str
    title: str = ""
    owner: str = ""
    owner_name: str = ""
    date_taken: datetime | None = None
    license_id: str = ""

    @property
    def page_url(self) -> str:
        return f"https://www.flickr.com/photos/{self.owner}/{self.id}/" if self.owner else ""


@dataclass
class FlickrPage:
    page: int
    pages: int
    total: int
    photos: list[FlickrPhoto]
    # (photo id or "#position", what is wrong): photos the response described incompletely.
    problems: list[tuple[str, str]] = field(default_factory=list)


def _date_taken(value: object) -> datetime | None:
    # Flickr gives the camera's local time without a zone; it is stored as if UTC.
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip()[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _int(value: object, what: str) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise FlickrError(f"malformed response: {what} is {value!r}, not a number") from None


def page_parse(body: bytes, size_preference: list[str]) -> FlickrPage:
    """Read a flickr.photos.search answer (format=json, nojsoncallback=1)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FlickrError(f"malformed response: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise FlickrError("malformed response: not a JSON object")
    if data.get("stat") != "ok":
        raise FlickrError(
            f"Flickr refused the request: error {data.get('code', '?')}: "
            f"{data.get('message', 'no message')}"
        )
    photos = data.get("photos")
    if not isinstance(photos, dict) or not isinstance(photos.get("photo"), list):
        raise FlickrError("malformed response: no 'photos.photo' list")
    page = FlickrPage(
        page=_int(photos.get("page", 1), "page"),
        pages=_int(photos.get("pages", 1), "pages"),
        total=_int(photos.get("total", 0), "total"),
        photos=[],
    )
    for position, raw in enumerate(photos["photo"], start=1):
        if not isinstance(raw, dict) or not str(raw.get("id", "")).strip():
            page.problems.append((f"#{position}", "the photo has no id"))
            continue
        photo_id = str(raw["id"]).strip()
        url = next((raw[k] for k in size_preference if isinstance(raw.get(k), str) and raw[k]), "")
        if not url.startswith(("http://", "https://")):
            page.problems.append((photo_id, f"no image URL among {', '.join(size_preference)}"))
            continue
        page.photos.append(
            FlickrPhoto(
                id=photo_id,
                url=url,
                title=str(raw.get("title") or ""),
                owner=str(raw.get("owner") or ""),
                owner_name=str(raw.get("ownername") or ""),
                date_taken=_date_taken(raw.get("datetaken")),
                license_id=str(raw.get("license", "")),
            )
        )
    return page


class FlickrClient:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 15.0,
        min_interval: float = 1.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        size_preference: list[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not api_key:
            raise FlickrError("no Flickr API key: set FLICKR_API_KEY in the environment")
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.min_interval = min_interval
        self.max_retries = max_retries
        self.backoff = backoff
        self.size_preference = size_preference or ["url_z", "url_c", "url_o"]
        self.sleep = sleep
        self.clock = clock
        self._last_call: float | None = None
        self.calls = 0

    @classmethod
    def from_settings(cls) -> FlickrClient:
        return cls(
            api_key=settings.FLICKR_API_KEY,
            base_url=settings.FLICKR_API_URL,
            timeout=settings.FLICKR_TIMEOUT_SECONDS,
            min_interval=settings.FLICKR_MIN_INTERVAL_SECONDS,
            max_retries=settings.FLICKR_MAX_RETRIES,
            backoff=settings.FLICKR_BACKOFF_SECONDS,
            size_preference=list(settings.FLICKR_SIZE_PREFERENCE),
        )

    def _wait_turn(self) -> None:
        if self._last_call is not None:
            remaining = self.min_interval - (self.clock() - self._last_call)
            if remaining > 0:
                self.sleep(remaining)
        self._last_call = self.clock()

    def _read(self, url: str, *, limit: int, rate_limited: bool) -> bytes:
        """GET with retries: 5xx, 429 and time-outs wait backoff * 2**attempt and try again."""
        for attempt in range(self.max_retries + 1):
            if rate_limited:
                self._wait_turn()
            self.calls += 1
            try:
                request = urllib.request.Request(
                    url, headers={"User-Agent": "cocoforge-collection"}
                )
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read(limit + 1)
                if len(body) > limit:
                    raise FlickrError(f"answer larger than {limit} bytes")
                return body
            except urllib.error.HTTPError as error:
                failure: FlickrError = (
                    FlickrTransient(f"HTTP {error.code} {error.reason}")
                    if error.code >= 500 or error.code == 429
                    else FlickrError(f"HTTP {error.code} {error.reason}")
                )
            except TimeoutError as error:
                failure = FlickrTransient(f"timed out after {self.timeout} s ({error})")
            except urllib.error.URLError as error:
                failure = FlickrTransient(f"cannot connect: {error.reason}")
            except (OSError, http.client.HTTPException) as error:
                failure = FlickrTransient(f"connection failed: {error}")
            if not isinstance(failure, FlickrTransient) or attempt == self.max_retries:
                if isinstance(failure, FlickrTransient):
                    raise FlickrTransient(f"{failure} (after {attempt + 1} tries)")
                raise failure
            delay = self.backoff * 2**attempt
            logger.info("Flickr: %s; retrying in %.1f s", failure, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")

    def photos_search(
        self,
        *,
        text: str,
        page: int = 1,
        per_page: int = 100,
        license: str = "",
        sort: str = "relevance",
    ) -> FlickrPage:
        params = {
            "method": "flickr.photos.search",
            "api_key": self.api_key,
            "text": text,
            "page": page,
            "per_page": per_page,
            "sort": sort,
            "extras": EXTRAS,
            "content_type": 1,  # photos only, no screenshots
            "media": "photos",
            "format": "json",
            "nojsoncallback": 1,
        }
        if license:
            params["license"] = license
        url = f"{self.base_url}?{urllib.parse.urlencode(params)}"
        body = self._read(url, limit=20 * 1024 * 1024, rate_limited=True)
        return page_parse(body, self.size_preference)

    def download(self, url: str) -> bytes:
        # Photos come from Flickr's static servers, outside the API's call limit.
        return self._read(url, limit=settings.MAX_IMAGE_BYTES, rate_limited=False)


@dataclass
class QueryRun:
    query: SearchQuery
    outcomes: dict[str, int] = field(default_factory=dict)
    problems: int = 0
    error: str = ""

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def offer_for(photo: FlickrPhoto, client: FlickrClient) -> collection.CandidateOffer:
    license_name, license_url = LICENSES.get(
        photo.license_id, (f"Flickr licence {photo.license_id}", "")
    )
    return collection.CandidateOffer(
        source=Image.Source.FLICKR,
        source_ref=f"flickr:{photo.id}",
        file_name=f"flickr_{photo.id}.jpg",
        fetch=lambda: client.download(photo.url),
        download_url=photo.url,
        original_url=photo.page_url,
        title=photo.title,
        photographer=photo.owner_name or photo.owner,
        photographer_id=photo.owner,
        date_taken=photo.date_taken,
        license_name=license_name if photo.license_id else "",
        license_url=license_url,
    )


def query_run(
    *,
    query: SearchQuery,
    client: FlickrClient,
    limit: int | None = None,
    on_photo: Callable[[str], None] | None = None,
) -> QueryRun:
    """Fetch up to `limit` new photos for one query, page by page, into the candidate pool.
    The query's progress is saved after every page: a failure keeps what was stored and a
    re-run resumes at the next page."""
    project = query.project
    limit = limit or collection.setting(project, "collection_photos_per_query")
    per_page = min(500, collection.setting(project, "collection_per_page"))
    run = QueryRun(query=query)
    if query.status == SearchQuery.Status.DONE and (
        query.offered >= limit
        or (
            query.total_available is not None
            and query.pages_done * per_page >= query.total_available
        )
    ):
        return run  # nothing more to fetch: the query reached its limit or Flickr's last page
    while query.offered < limit:
        page_number = query.pages_done + 1
        try:
            page = client.photos_search(
                text=query.text,
                page=page_number,
                per_page=per_page,
                license=collection.setting(project, "collection_flickr_license"),
                sort=collection.setting(project, "collection_flickr_sort"),
            )
        except FlickrError as error:
            run.error = f"page {page_number}: {error}"
            query.status = (
                SearchQuery.Status.FAILED if query.offered == 0 else SearchQuery.Status.PARTIAL
            )
            query.error = run.error
            query.save(update_fields=["status", "error", "updated_at"])
            return run
        for ref, problem in page.problems:
            # A photo the response described incompletely: recorded, the run goes on.
            run.problems += 1
            ImageRejection.objects.get_or_create(
                project=project,
                source_ref=f"flickr:{ref} (query {query.text!r}, page {page_number})",
                reason=ImageRejection.Reason.UNREADABLE,
                defaults={"detail": f"Flickr response with missing fields: {problem}"},
            )
        whole_page = True
        for photo in page.photos:
            if query.offered >= limit:
                whole_page = False  # the rest of this page is fetched by a later, larger run
                break
            outcome = collection.collection_candidate_offer(
                project=project, query=query, offer=offer_for(photo, client)
            )
            run.count(outcome.outcome)
            if outcome.outcome != "known":
                query.offered += 1
            if on_photo is not None:
                on_photo(outcome.outcome)
        query.pages_done = page_number if whole_page else page_number - 1
        query.total_available = page.total
        exhausted = page_number >= page.pages or not (page.photos or page.problems)
        query.status = (
            SearchQuery.Status.DONE
            if exhausted or query.offered >= limit
            else SearchQuery.Status.PARTIAL
        )
        query.error = ""
        query.save(
            update_fields=[
                "pages_done",
                "total_available",
                "status",
                "error",
                "offered",
                "updated_at",
            ]
        )
        if exhausted:
            break
    if query.status != SearchQuery.Status.DONE:
        query.status = SearchQuery.Status.DONE
        query.save(update_fields=["status", "updated_at"])
    return run


def queries_pending(*, project, kinds: list[str] | None = None):  # type: ignore[no-untyped-def]
    """Queries still to fetch (planned, partly fetched or failed), in plan order."""
    queries = SearchQuery.objects.filter(
        project=project,
        kind__in=kinds or [SearchQuery.Kind.PAIR, SearchQuery.Kind.SCENE, SearchQuery.Kind.SINGLE],
    ).exclude(status=SearchQuery.Status.DONE)
    return queries.order_by("id")


def queries_run(
    *,
    project,  # type: ignore[no-untyped-def]
    client: FlickrClient,
    max_queries: int,
    limit: int | None = None,
    kinds: list[str] | None = None,
    on_photo: Callable[[str], None] | None = None,
) -> list[QueryRun]:
    """Run the next `max_queries` pending queries of the plan; one failing query is
    recorded on it and the next one runs."""
    runs = []
    for query in list(queries_pending(project=project, kinds=kinds)[:max_queries]):
        runs.append(query_run(query=query, client=client, limit=limit, on_photo=on_photo))
    return runs
