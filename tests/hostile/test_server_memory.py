"""Bombs sent to a real gunicorn process (issue 17): a decompression-bomb photo and a
9000x9000 crowd painting are refused with a 400 and the reason, and the server process's
peak RSS (VmHWM) does not move by more than a few tens of MB: neither was decoded (decoded,
the painting alone is 324 MB as RGBA, the photo 400 MB as greyscale)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import PIL.Image
import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.models import Image
from tests.annotation.stages.test_crowd import crowd_task, lease_for  # noqa: F401 (fixture)
from tests.faults.redis_process import free_port
from tests.pipelines.worker_process import wait_for

ROOT = Path(__file__).resolve().parents[2]
GROWTH_LIMIT_MB = 60


class Server:
    def __init__(self, tmp_path: Path) -> None:
        db = connection.settings_dict
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", "1",
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "60"],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings.base",
                "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                "REDIS_URL": "", "CELERY_BROKER_URL": "", "MODELS_SERVICE": "0",
                "SECRET_KEY": "server-test", "ALLOWED_HOSTS": "127.0.0.1",
                "COCOFORGE_VAR_DIR": str(tmp_path), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            },
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "server.log").open("wb"),
        )  # fmt: skip
        wait_for(self.answers, "gunicorn to answer", timeout=60)

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
            return True
        except OSError:  # refused, reset or timed out while it starts
            return False

    def worker_peak_rss_mb(self) -> float:
        (child,) = (
            Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        )
        status = Path(f"/proc/{child}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def post(self, path: str, token: str, body: bytes, content_type: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, method="POST",
            headers={"Authorization": f"Token {token}", "Content-Type": content_type},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("the server process shares the PostgreSQL test database")
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def png_bytes(picture: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of zeros, compressed row by row: never held decoded here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )  # fmt: skip

    compressor = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then the row's pixels
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )  # fmt: skip


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "cocoforge-bomb-test"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bombs_sent_to_a_real_server_are_refused_without_being_decoded(
    server,
    crowd_task,  # noqa: F811
    annotator,
    admin_user,
):
    lease = lease_for(annotator)
    painter = Token.objects.create(user=annotator).key
    admin = Token.objects.create(user=admin_user).key
    # Warm the worker up (imports, first queries) with a small refused painting.
    small = (
        "data:image/png;base64," + base64.b64encode(png_bytes(PIL.Image.new("1", (7, 7)))).decode()
    )
    answer = {"answer": {"png": small}, "idempotency_key": "warm-up"}
    status, _ = server.post(f"/api/v1/assignments/{lease.id}/submit/", painter,
                            json.dumps(answer).encode(), "application/json")  # fmt: skip
    assert status == 400
    before = server.worker_peak_rss_mb()

    painting = png_bytes(PIL.Image.new("1", (9000, 9000)))
    assert len(painting) < 100_000
    answer = {
        "answer": {"png": "data:image/png;base64," + base64.b64encode(painting).decode()},
        "idempotency_key": "bomb",
    }
    started = time.monotonic()
    status, body = server.post(f"/api/v1/assignments/{lease.id}/submit/", painter,
                               json.dumps(answer).encode(), "application/json")  # fmt: skip
    assert status == 400 and "the painting is 9000x9000" in body["detail"], body

    bomb = bomb_png(20000, 20000)  # 400 M pixels in 400 KB
    status, body = server.post(
        f"/api/v1/projects/{crowd_task.project_id}/images/", admin, *multipart("bomb.png", bomb)
    )
    assert status == 400 and body["error"] == "decompression_bomb", body
    assert not Image.objects.filter(file_name="bomb.png").exists()
    elapsed = time.monotonic() - started

    growth = server.worker_peak_rss_mb() - before
    print(f"\nserver peak RSS grew by {growth:.0f} MB over both bombs ({elapsed:.1f} s)")
    assert growth < GROWTH_LIMIT_MB
