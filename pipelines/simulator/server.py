"""The site as a real server process on a free loopback port (gunicorn, the deployment's
WSGI server), with the caller's settings and database unless told otherwise."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.simulator.client import ApiClient

ROOT = Path(__file__).resolve().parents[2]


class ServerFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the simulator dies, so none is left behind."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@contextmanager
def local_server(
    env: dict[str, str] | None = None, threads: int = 4, processes: int = 2
) -> Iterator[str]:
    """Start gunicorn on 127.0.0.1:<free port>, yield its base URL, stop it after.
    Two processes: answers sent at the same time are served on both cores."""
    port = free_port()
    environment = {**os.environ, **(env or {})}
    environment.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    # A simulated crowd works faster than people: the per-annotator throttles are for people.
    for scope in ("LEASE", "SUBMIT"):
        environment.setdefault(f"THROTTLE_{scope}_RATE", "100000/minute")
    # One seed, one report: the site hands out training outlines in a fixed order.
    environment.setdefault("QUALIFICATION_REFERENCE_CHOICE", "first")
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", str(processes), "--threads", str(threads),
         "--worker-class", "gthread", "--timeout", "300", "--log-level", "warning",
         # Each simulated person keeps one connection; gunicorn's 2 s default would close
         # it between a person's requests and every request would connect anew.
         "--keep-alive", "120"],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        probe = ApiClient(url, timeout=5)
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise ServerFailed(
                    f"the server exited: {log.read()[-3000:].decode(errors='replace')}"
                )
            try:
                status, _ = probe.request("GET", "/api/v1/me/")
                if status in (200, 401, 403):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerFailed("the server did not answer within 60 s")
            time.sleep(0.2)
        probe.close()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
