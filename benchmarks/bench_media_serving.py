"""Benchmark issue 18: the time to load one iconic-filtering grid (128 candidate thumbnails)
as a browser does (6 connections per host, cold cache), served three ways:

  django   gunicorn (3 sync workers, as docker-compose) streams each thumbnail from Python;
  nginx    nginx in front of gunicorn (deploy/nginx.conf): Django checks, answers with
           X-Accel-Redirect, nginx sends the file (MEDIA_ACCEL_REDIRECT=1);
  django+nginx  the same nginx in front, but Django streaming (MEDIA_ACCEL_REDIRECT=0);
  s3       MEDIA_STORAGE=s3: Django checks and answers a 302 to a presigned URL, the client
           fetches it from the S3 server (moto's server on 127.0.0.1, a Python server: its
           share of the time says nothing about AWS S3; the Django share is printed apart).

    .venv/bin/python benchmarks/bench_media_serving.py --rounds 10

Every server runs on 127.0.0.1 with the production settings and a throw-away SQLite
database; nginx must be installed (apt-get install nginx).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="cocoforge-bench-media-"))
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "DATABASE_URL": f"sqlite:///{WORK / 'db.sqlite3'}",
    "COCOFORGE_VAR_DIR": str(WORK / "var"),
    "MEDIA_ROOT": str(WORK / "media"),
    "SECURE_COOKIES": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_S3_REGION_NAME": "us-east-1",
    "AWS_STORAGE_BUCKET_NAME": "bench-media",
}
os.environ.update(ENV)
GRID = 128
BROWSER_CONNECTIONS = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{url} did not start") from None
            time.sleep(0.1)


def prepare() -> tuple[list[int], str]:
    """A project with one grid's worth of pooled candidates (real photos through the folder
    source: thumbnails made and stored as in production), and a signed-in member."""
    import django

    django.setup()
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from annotation.models.collection import SearchQuery
    from annotation.services.membership import membership_add
    from annotation.services.people import worker_create
    from annotation.services.projects import project_create
    from annotation.sources import local
    from benchmarks.bench_collection_dedup import synthetic_jpeg

    call_command("migrate", verbosity=0)
    project = project_create(name="Bench grid", categories=[{"name": "dog"}])
    photos = WORK / "photos"
    photos.mkdir()
    for seed in range(GRID):
        (photos / f"p{seed:03}.jpg").write_bytes(synthetic_jpeg(seed))
    local.source_run(project=project, kind=SearchQuery.Kind.FOLDER, location=str(photos),
                     offers=local.offers_from_folder(photos))  # fmt: skip
    ids = list(project.candidates.filter(thumbnail__gt="").values_list("id", flat=True))[:GRID]
    user = worker_create(username="bench", password="bench-password-long", role="annotator")
    membership_add(project=project, user=user, role="annotator")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return ids, str(session.session_key)


def gunicorn(port: int, **env: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "3"],
        cwd=ROOT, env={**ENV, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(f"http://127.0.0.1:{port}/login/", process)
    return process


def nginx(port: int, upstream: int) -> subprocess.Popen:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in {"listen 80;": f"listen 127.0.0.1:{port};",
                     "server web:8000;": f"server 127.0.0.1:{upstream};",
                     "alias /data/media/;": f"alias {WORK / 'media'}/;",
                     "access_log /dev/stdout;": "access_log off;"}.items():  # fmt: skip
        conf = conf.replace(old, new)
    folder = WORK / f"nginx-{port}"
    folder.mkdir()
    (folder / "nginx.conf").write_text(("user root;\n" if os.geteuid() == 0 else "") + conf)
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx_bin, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                "-g", f"daemon off; pid {folder}/pid; error_log {folder}/err;"])  # fmt: skip
    wait_for(f"http://127.0.0.1:{port}/login/", process)
    return process


def fetch(url: str, session: str) -> tuple[int, float]:
    """One thumbnail as a browser gets it: bytes, and the seconds Django's answer took."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
    start = time.perf_counter()
    connection.request("GET", parsed.path, headers={"Cookie": f"sessionid={session}"})
    answer = connection.getresponse()
    body = answer.read()
    django_part = time.perf_counter() - start
    connection.close()
    if answer.status == 302:
        with urllib.request.urlopen(answer.getheader("Location") or "", timeout=30) as signed:
            body = signed.read()
    elif answer.status != 200:
        raise SystemExit(f"{url}: {answer.status}")
    if body[:3] != b"\xff\xd8\xff":
        raise SystemExit(f"{url}: not a JPEG")
    return len(body), django_part


def grid_load(base: str, ids: list[int], session: str) -> tuple[float, float, int]:
    urls = [f"{base}/collection/thumbs/{i}.jpg" for i in ids]
    start = time.perf_counter()
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        results = list(pool.map(lambda url: fetch(url, session), urls))
    return time.perf_counter() - start, sum(r[1] for r in results), sum(r[0] for r in results)


def measure(modes: dict[str, str], ids: list[int], session: str, rounds: int) -> None:
    """Round-robin over the modes, so a busy moment of the machine hits every mode alike."""
    times: dict[str, list[float]] = {name: [] for name in modes}
    django_parts: dict[str, list[float]] = {name: [] for name in modes}
    size = 0
    for base in modes.values():
        grid_load(base, ids, session)  # warm-up: workers loaded, database connections open
    for _ in range(rounds):
        for name, base in modes.items():
            total, django_part, size = grid_load(base, ids, session)
            times[name].append(total)
            django_parts[name].append(django_part)
    for name in modes:
        print(f"{name:14} grid of {len(ids)} ({size / 1024:.0f} KiB): "
              f"median {statistics.median(times[name]) * 1000:7.1f} ms, "
              f"min {min(times[name]) * 1000:7.1f} ms; first answers (Django, or nginx after "
              f"Django) {statistics.median(django_parts[name]) * 1000:7.1f} ms summed")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    ids, session = prepare()
    processes: list[subprocess.Popen] = []
    try:
        direct, accel, proxied, streamed_proxy = (free_port() for _ in range(4))
        processes.append(gunicorn(direct, MEDIA_ACCEL_REDIRECT="0"))
        processes.append(gunicorn(accel, MEDIA_ACCEL_REDIRECT="1"))
        processes.append(nginx(proxied, accel))
        processes.append(nginx(streamed_proxy, direct))
        modes = {
            "django": f"http://127.0.0.1:{direct}",
            "django+nginx": f"http://127.0.0.1:{streamed_proxy}",
            "nginx x-accel": f"http://127.0.0.1:{proxied}",
        }
        if args.no_s3:
            measure(modes, ids, session, args.rounds)
        else:
            from tests.storage.s3_server import S3Server

            with S3Server() as s3:
                client = s3.client()
                client.create_bucket(Bucket=ENV["AWS_STORAGE_BUCKET_NAME"])
                for path in (WORK / "media").rglob("*"):
                    if path.is_file():
                        key = str(path.relative_to(WORK / "media"))
                        client.upload_file(str(path), ENV["AWS_STORAGE_BUCKET_NAME"], key)
                port = free_port()
                processes.append(
                    gunicorn(port, MEDIA_STORAGE="s3", AWS_S3_ENDPOINT_URL=s3.endpoint_url)
                )
                modes["s3 presigned"] = f"http://127.0.0.1:{port}"
                measure(modes, ids, session, args.rounds)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
