"""The HTTP calls the browser tools make (frontend/static/js/tools/*.js, annotation/api/),
for one simulated person with a token. Connection failures are retried with the same
idempotency key, so an answer is counted once however often it is sent."""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlsplit

_NUMBERS = re.compile(r"/\d+(?=/|$)")


class ApiError(Exception):
    def __init__(self, status: int, body: Any, where: str) -> None:
        super().__init__(f"{where}: HTTP {status}: {body}")
        self.status = status
        self.body = body


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 120.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.token = token
        self.timeout = timeout
        self.requests = 0
        self.seconds = 0.0
        # Per endpoint ("POST /api/v1/assignments/N/submit/"): requests and seconds waited.
        self.by_endpoint: Counter[str] = Counter()
        self.seconds_by_endpoint: defaultdict[str, float] = defaultdict(float)
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._connection = kind(self.host, self.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if body is not None:
            headers["Content-Type"] = content_type
        for attempt in range(6):
            began = time.monotonic()
            try:
                connection = self._connect()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                waited = time.monotonic() - began
                self.requests += 1
                self.seconds += waited
                endpoint = f"{method} {_NUMBERS.sub('/N', path.split('?')[0])} {response.status}"
                self.by_endpoint[endpoint] += 1
                self.seconds_by_endpoint[endpoint] += waited
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (ConnectionError, http.client.HTTPException, TimeoutError, OSError):
                self.close()
                if attempt == 5:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def call(
        self, method: str, path: str, data: Any = None, ok: tuple[int, ...] = (200, 201, 202, 204)
    ) -> Any:
        body = None if data is None else json.dumps(data).encode()
        status, raw = self.request(method, path, body)
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw[:300].decode(errors="replace")
        if status not in ok:
            raise ApiError(status, parsed, f"{method} {path}")
        return parsed if status != 204 else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, data: Any = None) -> Any:
        return self.call("POST", path, {} if data is None else data)

    def upload(
        self, path: str, file_name: str, content: bytes, fields: dict[str, str]
    ) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        chunks = []
        for name, value in fields.items():
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        chunks += [content, f"\r\n--{boundary}--\r\n".encode()]
        status, raw = self.request(
            "POST", path, b"".join(chunks), f"multipart/form-data; boundary={boundary}"
        )
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw[:300]

    # The annotator tools' loop: lease, answer, next -------------------------------------

    def lease(self, *, stage: str, project: int) -> dict | None:
        return self.post("/api/v1/tasks/next/", {"stage": stage, "project": project})

    def submit(self, *, assignment: int, answer: Any, key: str, seconds: float) -> tuple[int, Any]:
        """Submit an answer; 4xx comes back (refused answers are counted, not fatal)."""
        body = json.dumps(
            {"answer": answer, "idempotency_key": key, "time_spent_seconds": seconds}
        ).encode()
        status, raw = self.request("POST", f"/api/v1/assignments/{assignment}/submit/", body)
        parsed = json.loads(raw) if raw else None
        if status >= 500:
            raise ApiError(status, parsed, f"submit {assignment}")
        return status, parsed

    def release(self, *, assignment: int) -> None:
        self.call("POST", f"/api/v1/assignments/{assignment}/release/", {}, ok=(200, 409, 400))
