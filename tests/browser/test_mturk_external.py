"""The MTurk ExternalQuestion page walked in Chromium, framed the way MTurk frames it.

A loopback "MTurk" (an HTTP server this test runs) serves a page with the HIT in an iframe
and records what is posted to its /mturk/externalSubmit; MTURK_SUBMIT_HOSTS and
MTURK_FRAME_ANCESTORS name it for the test. Preview first (nothing taken), then an accepted
HIT worked through one labeling task, then an adversary's edited address."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from annotation.models import Assignment, Task
from annotation.models.marketplace import MTurkAssignment, MTurkWorker
from annotation.stages.labeling import labeling_tasks_post
from tests.browser.conftest import serious_accessibility_findings
from tests.browser.test_labeling import stored_photo
from tests.marketplace.test_worker_entry import ASSIGNMENT, WORKER, external, publish


class FakeMTurk:
    """MTurk as far as the page meets it: a page that frames the HIT, and externalSubmit."""

    def __init__(self) -> None:
        self.posts: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

            def _send(self, html: str) -> None:
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
                self._send(
                    "<!doctype html><title>MTurk</title><h1>HIT</h1>"
                    f'<iframe title="the HIT" src="{escape(src)}" width="1340" height="690">'
                    "</iframe>"
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if urlsplit(self.path).path == "/mturk/externalSubmit":
                    fake.posts.append(form)
                self._send("<!doctype html><title>MTurk</title><p>HIT submitted</p>")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # localhost, as the live server: the same site, so the session cookie (SameSite=Lax)
        # reaches the framed page as SameSite=None does on a real MTurk deployment.
        self.url = f"http://localhost:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def frame(self, src: str) -> str:
        return f"{self.url}/frame?src={quote(src, safe='')}"

    def wait_for_post(self, timeout: float = 10) -> dict[str, list[str]]:
        end = time.monotonic() + timeout
        while not self.posts and time.monotonic() < end:
            time.sleep(0.05)
        assert self.posts, "MTurk's externalSubmit got nothing"
        return self.posts[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mturk(settings) -> Iterator[FakeMTurk]:  # type: ignore[no-untyped-def]
    fake = FakeMTurk()
    settings.MTURK_SUBMIT_HOSTS = [fake.url]
    settings.MTURK_FRAME_ANCESTORS = [fake.url]
    yield fake
    fake.close()


def a_labeling_hit(project):  # type: ignore[no-untyped-def]
    project.stage_settings = {"labeling_answers_per_image": 1}
    project.save()
    (task,) = labeling_tasks_post(project=project, images=[stored_photo(project)])
    return publish(task)


@pytest.mark.django_db(transaction=True)
def test_preview_then_an_accepted_hit_worked_and_sent_to_mturk(
    page, live_server, mturk, coco_project
):  # type: ignore[no-untyped-def]
    hit = a_labeling_hit(coco_project)

    # Preview: the worker has not accepted; the page says so and takes nothing.
    preview = external(assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId=hit.hit_id)
    page.goto(mturk.frame(live_server.url + preview))
    frame = page.frame_locator("iframe")
    frame.get_by_test_id("accept-first").wait_for()
    assert "Accept the HIT to start" in frame.get_by_test_id("accept-first").inner_text()
    assert frame.locator("img").count() == 0, "no photo before accepting"
    assert not [c for c in page.context.cookies() if c["name"] == "sessionid"]
    assert not MTurkWorker.objects.exists() and not MTurkAssignment.objects.exists()
    assert serious_accessibility_findings(page.frames[1]) == []

    # Accepted: MTurk reloads the frame with the assignment, the worker and turkSubmitTo.
    accepted = external(
        assignmentId=ASSIGNMENT, hitId=hit.hit_id, workerId=WORKER, turkSubmitTo=mturk.url
    )
    page.goto(mturk.frame(live_server.url + accepted))
    frame = page.frame_locator("iframe")
    frame.get_by_test_id("work").wait_for(state="visible")
    tool = page.frames[1]
    tool.wait_for_function("document.querySelector('[data-testid=photo]').naturalWidth > 0")
    assert frame.locator("#labeling-tool").get_attribute("data-marketplace") == "mturk"
    assert frame.get_by_test_id("who").inner_text() == f"mturk-{WORKER}"
    assert frame.get_by_test_id("role-nav").count() == 0

    frame.get_by_test_id("rest-no").click()
    frame.get_by_test_id("submit").click()
    posted = mturk.wait_for_post()
    frame.get_by_text("HIT submitted").wait_for()

    slot = Assignment.objects.get(task=hit.task, status=Assignment.Status.SUBMITTED)
    assert posted == {"assignmentId": [ASSIGNMENT], "cocoforgeAnswer": [str(slot.id)]}
    assert slot.worker == MTurkWorker.objects.get(worker_id=WORKER).user
    assert slot.answer["categories"] == [] and not any(slot.answer["supercategories"].values())
    linked = MTurkAssignment.objects.get(assignment_id=ASSIGNMENT)
    assert linked.status == MTurkAssignment.Status.SUBMITTED
    assert linked.answer_slot == slot and linked.submitted_at is not None
    assert Task.objects.get(id=hit.task_id).status == Task.Status.COMPLETE


@pytest.mark.django_db(transaction=True)
def test_an_edited_turk_submit_to_gets_a_refusal_not_a_form(page, live_server, mturk, coco_project):  # type: ignore[no-untyped-def]
    hit = a_labeling_hit(coco_project)
    edited = external(
        assignmentId=ASSIGNMENT, hitId=hit.hit_id, workerId=WORKER,
        turkSubmitTo="https://evil.example",
    )  # fmt: skip
    page.goto(mturk.frame(live_server.url + edited))
    frame = page.frame_locator("iframe")
    frame.get_by_test_id("mturk-problem").wait_for()
    assert serious_accessibility_findings(page.frames[1]) == []
    assert "is not an MTurk site" in frame.get_by_test_id("reason").inner_text()
    assert frame.locator("form[action*='evil.example']").count() == 0
    assert not MTurkAssignment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_site_that_is_not_mturk_cannot_frame_the_hit(page, live_server, settings, coco_project):  # type: ignore[no-untyped-def]
    other = FakeMTurk()
    try:
        hit = a_labeling_hit(coco_project)
        preview = other.frame(
            live_server.url + external(assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId=hit.hit_id)
        )
        settings.MTURK_FRAME_ANCESTORS = [other.url]  # named: the frame shows the HIT
        page.goto(preview)
        page.frame_locator("iframe").get_by_test_id("accept-first").wait_for()
        settings.MTURK_FRAME_ANCESTORS = ["https://www.mturk.com"]  # not named: refused
        page.goto(preview)
        page.wait_for_timeout(1000)
        assert page.frame_locator("iframe").get_by_test_id("accept-first").count() == 0
        assert page.frames[1].url.startswith("chrome-error://"), page.frames[1].url
    finally:
        other.close()
