"""deploy/nginx.conf in front of Django (issue 18): nginx sends a stored photo after Django
allowed it (X-Accel-Redirect), refuses what Django refuses, and its internal location cannot
be reached directly. Runs the committed config with only the ports and paths substituted;
skipped where nginx is not installed (`apt-get install nginx`)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError, URLError

import pytest
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test import Client

from annotation.models import Image
from annotation.services.projects import project_create
from config.wsgi import application
from tests.conftest import jpeg_bytes
from tests.storage.s3_server import free_port

CONF = Path(__file__).parents[2] / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def configured(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


@contextmanager
def django_server() -> Iterator[str]:
    """The site's WSGI application (what gunicorn runs) on a free port, in a thread. Not
    pytest-django's live_server: that one answers MEDIA_URL itself, without any check."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(application)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def nginx(settings, tmp_path):  # type: ignore[no-untyped-def]
    with django_server() as web:
        yield from nginx_in_front_of(web, settings, tmp_path)


def nginx_in_front_of(web: str, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ACCEL_REDIRECT = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    port = free_port()
    conf = configured(CONF.read_text(), {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "server web:8000;": f"server {web};",
        "alias /data/media/;": f"alias {settings.MEDIA_ROOT}/;",
        "access_log /dev/stdout;": f"access_log {tmp_path}/access.log;",
    })  # fmt: skip
    if os.geteuid() == 0:
        conf = "user root;\n" + conf  # workers read the test's private temp folder
    (tmp_path / "nginx.conf").write_text(conf)
    globals_ = f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"
    command = [str(NGINX), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    checked = subprocess.run([*command, "-t", "-g", globals_], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", f"daemon off; {globals_}"])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(base + "/protected-media/x", timeout=1)
        except HTTPError:
            break  # nginx answers
        except (URLError, OSError):
            assert process.poll() is None and time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    yield base
    process.terminate()
    process.wait(timeout=10)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # the 302 itself is the answer under test


OPENER = urllib.request.build_opener(NoRedirect)


def get(url: str, session: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(
        url, headers={"Cookie": f"sessionid={session}"} if session else {}
    )
    try:
        with OPENER.open(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True)
def test_nginx_sends_a_photo_django_allowed_and_nothing_else(nginx, make_worker, tmp_path):
    project = project_create(name="Served", categories=[{"name": "dog"}])
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes(40, 30))
    call_command("import_images", "--project", project.slug, "--folder", str(folder),
                 "--no-progress", stdout=io.StringIO())  # fmt: skip
    name = Image.objects.get(project=project).file.name
    member, outsider = Client(), Client()
    member.force_login(make_worker())
    outsider.force_login(make_worker(member=False))

    status, headers, body = get(f"{nginx}/media/{name}", member.cookies["sessionid"].value)
    assert status == 200 and body == (folder / "a.jpg").read_bytes()
    assert headers["Content-Type"] == "image/jpeg" and "X-Accel-Redirect" not in headers

    status, headers, body = get(f"{nginx}/media/{name}", outsider.cookies["sessionid"].value)
    assert status == 404 and body != (folder / "a.jpg").read_bytes()
    assert get(f"{nginx}/media/{name}")[0] == 302  # signed out: to the sign-in page
    assert get(f"{nginx}/protected-media/{name}", member.cookies["sessionid"].value)[0] == 404
