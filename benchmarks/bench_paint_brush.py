"""Benchmark crowd painting in Chromium: frame time while painting, zooming and panning a
640x480 photo with 200 instance outlines shown, before and after the one drawing surface.

    .venv/bin/python benchmarks/bench_paint_brush.py              # after, and before (git)
    .venv/bin/python benchmarks/bench_paint_brush.py --before REV # another "before" commit

The real page (frontend/templates/frontend/crowd.html's body) and the real ES modules are
served by a throw-away HTTP server; `fetch` is answered in the page with one crowd lease
(a 640x480 photo) and 200 masks of its category (24-point outlines), so the tool runs its
whole lease -> draw path without Django. "Before" is the same page and modules at the
commit before issue 16 (git archive), which had no zoom or pan.

Measured with performance.now(), Chromium's frame-rate limit off (so an interval is script
+ style + layout + paint of a frame, not the display's 16.7 ms):
- pointermove handling: the synchronous cost of one brush step (20 px) of a stroke;
- frame time while painting: one pointermove per frame across the photo;
- frame time while zooming in and out one step per frame, and while panning 5 px per frame
  (after only: before had neither);
- frame time while painting zoomed in 4x (after only).
Chromium: Debian's /usr/bin/chromium (COCOFORGE_CHROMIUM), headless, software rendering.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path

from bench_polygon_editor import QuietHandler, summary

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("COCOFORGE_CHROMIUM", "/usr/bin/chromium")
BEFORE = "41ce8d5"  # the commit before issue 16's drawing surface

FAKE_SERVER = """<script>
const W = 640, H = 480, N = %(masks)d;
const photo = document.createElement("canvas");
photo.width = W; photo.height = H;
const g = photo.getContext("2d");
for (let i = 0; i < 40; i += 1) { g.fillStyle = `hsl(${i * 37},60%%,50%%)`; g.fillRect((i * 53) %% W, (i * 31) %% H, 90, 70); }
let seed = 7;
const random = () => { seed = (seed * 16807) %% 2147483647; return seed / 2147483647; };
function ellipse(cx, cy, rx, ry, n) {
  const flat = [];
  for (let k = 0; k < n; k += 1) { const a = (2 * Math.PI * k) / n; flat.push(cx + rx * Math.cos(a), cy + ry * Math.sin(a)); }
  return flat;
}
const masks = [];
for (let i = 0; i < N; i += 1) masks.push({ category_id: 1, polygons: [ellipse(20 + random() * 600, 20 + random() * 440, 8 + random() * 40, 8 + random() * 40, 24)] });
const lease = { id: 1, task: { id: 1, project: 1, image: { id: 1, url: photo.toDataURL(), width: W, height: H },
  category: { id: 1, name: "person" }, payload: { segmented: N } } };
const json = (body) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
window.fetch = async (url) => (String(url).includes("/masks/") ? json({ masks }) : json(lease));
Element.prototype.setPointerCapture = () => {};
Element.prototype.releasePointerCapture = () => {};
Element.prototype.hasPointerCapture = () => false;
</script>"""

MEASURE = """
const FRAMES = %(frames)d;
const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
const root = document.getElementById("crowd-tool");
const work = root.querySelector("[data-testid=work]");
while (work.hidden) await nextFrame();
for (let i = 0; i < 10; i += 1) await nextFrame();
const paint = root.querySelector("[data-testid=paint]");
async function frames(step) {
  const intervals = [];
  let last = await nextFrame();
  for (let i = 0; i < FRAMES; i += 1) { step(i); const now = await nextFrame(); intervals.push(now - last); last = now; }
  return intervals;
}
function fire(type, x, y) {
  const target = document.elementFromPoint(x, y) || paint;
  target.dispatchEvent(new PointerEvent(type, { bubbles: true, clientX: x, clientY: y, button: 0, buttons: type === "pointerup" ? 0 : 1, pointerId: 1, isPrimary: true, pointerType: "mouse" }));
}
function stroke() {
  // Across the part of the photo on screen (zoomed in, the photo overflows the stage).
  const a = paint.getBoundingClientRect();
  const b = root.querySelector("[data-testid=stage]").getBoundingClientRect();
  const x0 = Math.max(a.left, b.left), y0 = Math.max(a.top, b.top);
  const box = { x: x0, y: y0, width: Math.min(a.right, b.right) - x0, height: Math.min(a.bottom, b.bottom) - y0 };
  const at = (i) => ({ x: box.x + box.width * (0.1 + 0.8 * ((i %% 60) / 60)), y: box.y + box.height * (0.2 + 0.6 * ((Math.floor(i / 60) %% 10) / 10)) });
  return at;
}
const surface = window.paintTool.surface ? window.paintTool.surface() : null;
const result = { version: surface ? "after" : "before", masks: %(masks)d };
let at = stroke();
fire("pointerdown", at(0).x, at(0).y);
const handling = [];
for (let i = 1; i < 200; i += 1) { const t = performance.now(); fire("pointermove", at(i).x, at(i).y); handling.push(performance.now() - t); }
fire("pointerup", at(199).x, at(199).y);
result.handling = handling;
at = stroke();
fire("pointerdown", at(0).x, at(0).y);
result.painting = await frames((i) => fire("pointermove", at(i + 1).x, at(i + 1).y));
fire("pointerup", at(0).x, at(0).y);
if (surface) {
  result.zooming = await frames((i) => (i %% 20 < 10 ? surface.view.zoomIn() : surface.view.zoomOut()));
  surface.view.fit();
  surface.view.zoomAt(2);
  result.panning = await frames((i) => surface.view.pan(i %% 40 < 20 ? 5 : -5, 0));
  surface.view.fit();
  surface.view.zoomAt(4);
  at = stroke();
  fire("pointerdown", at(0).x, at(0).y);
  result.paintingZoomed = await frames((i) => fire("pointermove", at(i + 1).x, at(i + 1).y));
  fire("pointerup", at(0).x, at(0).y);
}
result.painted = window.paintTool.paintedPixels();
window.result = result;
"""


def page_body(template: str) -> str:
    """crowd.html's content block with the Django tags resolved for the fake server."""
    body = template.split("{% block content %}", 1)[1].split("{% endblock %}", 1)[0]
    body = re.sub(r"{% static '([^']+)' %}", r"\1", body)
    body = re.sub(r"{% url '[^']+' %}", "/next/", body)
    body = re.sub(r"<script type=\"module\" src=\"([^\"]+)\"></script>", "", body)
    return re.sub(r"{%[^%]*%}", "", body)


def build(folder: Path, rev: str | None, masks: int, frames: int) -> None:
    """Write the page and the frontend/static tree of `rev` (None: the work tree)."""
    if rev is None:
        for sub in ("js", "css", "icons"):
            subprocess.run(["cp", "-r", ROOT / "frontend/static" / sub, folder / sub], check=True)
        template = (ROOT / "frontend/templates/frontend/crowd.html").read_text()
    else:
        archive = subprocess.run(
            ["git", "-C", ROOT, "archive", rev, "frontend/static", "frontend/templates/frontend/crowd.html"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder / "tree", filter="data")
        for sub in ("js", "css"):
            (folder / "tree/frontend/static" / sub).rename(folder / sub)
        template = (folder / "tree/frontend/templates/frontend/crowd.html").read_text()
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<link rel="stylesheet" href="css/cocoforge.css">'
        + FAKE_SERVER % {"masks": masks}
        + "</head><body><main>"
        + page_body(template)
        + '</main><script type="module">import "./js/tools/paint_brush.js";'
        + MEASURE % {"masks": masks, "frames": frames}
        + "</script></body></html>"
    )
    (folder / "bench.html").write_text(page)


def run(rev: str | None, masks: int, frames: int) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        build(folder, rev, masks, frames)
        handler = functools.partial(QuietHandler, directory=folder)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu-vsync", "--disable-frame-rate-limit"],
                )
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/bench.html")
                page.wait_for_function("window.result !== undefined", timeout=180_000)
                result = page.evaluate("window.result")
                result["chromium"] = browser.version
                browser.close()
        finally:
            server.shutdown()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=200)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--before", default=BEFORE, help="git revision of 'before' ('' to skip)")
    args = parser.parse_args()
    results = [run(None, args.masks, args.frames)]
    if args.before:
        results.append(run(args.before, args.masks, args.frames))
    print(
        f"Chromium {results[0]['chromium']}, 640x480 photo, {args.masks} outlines shown, 1366x768"
    )
    for r in results:
        print(f"[{r['version']}] painted {r['painted']} px")
        print(f"  pointermove handling (20 px brush): {summary(r['handling'])}")
        print(f"  frame time, painting:               {summary(r['painting'])}")
        for key, label in (
            ("zooming", "zooming"),
            ("panning", "panning"),
            ("paintingZoomed", "painting at 4x zoom"),
        ):
            if key in r:
                print(f"  frame time, {label + ':':24s}{summary(r[key])}")
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
