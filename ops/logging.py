"""Log formats and the request id every log line carries (settings.LOGGING uses these).

One request (or one Celery task) sets the request id in a context variable; the filter copies
it onto every record logged meanwhile, so a JSON line of the ORM, of a service or of the
request log itself all name the same request.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# An incoming X-Request-ID is honoured when it looks like an id (a proxy's or a client's
# UUID, a trace id); anything else (too long, spaces, control characters) gets a fresh one,
# so a client cannot write arbitrary text into the logs.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(header: str | None) -> str:
    if header and REQUEST_ID_PATTERN.match(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (the one being served, or "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, request id and the extras."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
