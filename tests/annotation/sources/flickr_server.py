"""A Flickr-compatible HTTP server for tests: flickr.photos.search with pagination, plus the
photo files, on 127.0.0.1 in a thread. Tests script its failures through `FakeFlickr`."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import PIL.Image


def photo_bytes(seed: int, size: tuple[int, int] = (96, 72), quality: int = 90) -> bytes:
    """A JPEG whose perceptual hash differs from other seeds' (smooth random blobs)."""
    rng = np.random.default_rng(seed)
    small = PIL.Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB")
    photo = small.resize(size, PIL.Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def near_copy(seed: int) -> bytes:
    """The same picture as photo_bytes(seed), resized and recompressed: a near-duplicate."""
    return photo_bytes(seed, size=(90, 68), quality=60)


@dataclass
class FakeFlickr:
    # search text -> list of photo dicts as Flickr returns them (the test shapes them)
    photos: dict[str, list[dict]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    # scripted failures of the search method: a list of actions consumed one per request,
    # "500", "503", "429", "slow", "garbage", "fail", or None for a normal answer
    script: list[str | None] = field(default_factory=list)
    # page number -> action, applied every time that page is asked for
    page_actions: dict[int, str] = field(default_factory=dict)
    slow_seconds: float = 1.0
    requests: list[dict] = field(default_factory=list)
    base: str = ""

    def add_photos(self, text: str, count: int, *, owner=lambda i: f"owner{i}", start_seed: int = 0,
                   day: str = "2013-05-01") -> list[dict]:  # fmt: skip
        items = []
        for i in range(count):
            seed = start_seed + i
            name = f"p{seed}.jpg"
            self.files[name] = photo_bytes(seed)
            items.append({
                "id": str(10_000 + seed), "owner": owner(i), "ownername": f"Name of {owner(i)}",
                "title": f"photo {seed}", "datetaken": f"{day} {10 + i % 10:02d}:00:00",
                "license": "4", "url_z": f"{self.base}/photos/{name}",
            })  # fmt: skip
        self.photos.setdefault(text, []).extend(items)
        return items


class _Handler(BaseHTTPRequestHandler):
    fake: FakeFlickr

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        fake = self.server.fake  # type: ignore[attr-defined]
        if url.path.startswith("/photos/"):
            content = fake.files.get(url.path.removeprefix("/photos/"))
            if content is None:
                self._send(404, b"not found", "text/plain")
            else:
                self._send(200, content, "image/jpeg")
            return
        if url.path != "/services/rest/":
            self._send(404, b"no such path", "text/plain")
            return
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        fake.requests.append(params)
        page = int(params.get("page", 1))
        action = fake.script.pop(0) if fake.script else fake.page_actions.get(page)
        if action in {"500", "503", "429"}:
            self._send(int(action), b"<html>server trouble</html>", "text/html")
            return
        if action == "slow":
            time.sleep(fake.slow_seconds)
        if action == "garbage":
            self._send(200, b"<html>not json", "text/html")
            return
        if action == "fail" or params.get("api_key") != "test-key":
            body = {
                "stat": "fail",
                "code": 100,
                "message": "Invalid API Key (Key has invalid format)",
            }
            self._send(200, json.dumps(body).encode())
            return
        everything = fake.photos.get(params.get("text", ""), [])
        per_page = int(params.get("per_page", 100))
        pages = max(1, -(-len(everything) // per_page))
        chunk = everything[(page - 1) * per_page : page * per_page]
        body = {
            "photos": {"page": page, "pages": pages, "perpage": per_page,
                       "total": str(len(everything)), "photo": chunk},
            "stat": "ok",
        }  # fmt: skip
        self._send(200, json.dumps(body).encode())


class FlickrServer:
    def __init__(self) -> None:
        self.fake = FakeFlickr()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self.fake  # type: ignore[attr-defined]
        self.fake.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.api_url = f"{self.fake.base}/services/rest/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FlickrServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        self.httpd.shutdown()
        self.httpd.server_close()
