"""Benchmark the segmentation polygon editor's frame time in Chromium with 200 masks shown.

    .venv/bin/python benchmarks/bench_polygon_editor.py                 # 200 masks
    .venv/bin/python benchmarks/bench_polygon_editor.py --masks 500 --frames 240

The real ES modules (frontend/static/js) are served by a throw-away HTTP server; a page
creates the editor over a 640x480 photo with N other instances' masks (24-point outlines)
and the outline being traced (60 points). Measured with performance.now():
- draw masks: `showMasks` of all N masks plus a forced layout (done once per task);
- editor render: one `render()` (editor layer, spot) plus a forced layout: what every click,
  drag step or zoom step costs in script and layout;
- frame time: requestAnimationFrame intervals while zooming in and out one step per frame,
  with Chromium's frame-rate limit off, so the interval is script + style + layout + paint
  of a frame rather than the display's 16.7 ms;
- frame time while dragging a point (a pointermove per frame).
Chromium: Debian's /usr/bin/chromium (COCOFORGE_CHROMIUM), headless, software rendering.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import statistics
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("COCOFORGE_CHROMIUM", "/usr/bin/chromium")

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="css/segmentation.css"><link rel="stylesheet" href="css/surface.css">
<style>:root{--accent:#06c;--line:#ddd;--muted:#666}</style></head>
<body><div class="seg-stage" id="stage" tabindex="0" style="width:1000px;height:700px"></div>
<script type="module">
import { createPolygonEditor } from "./js/tools/polygon_editor.js";
const N = %(masks)d, FRAMES = %(frames)d;
const canvas = document.createElement("canvas");
canvas.width = 640; canvas.height = 480;
const g = canvas.getContext("2d");
for (let i = 0; i < 40; i += 1) { g.fillStyle = `hsl(${i * 37},60%%,50%%)`; g.fillRect((i * 53) %% 640, (i * 31) %% 480, 90, 70); }
let seed = 7;
const random = () => { seed = (seed * 16807) %% 2147483647; return seed / 2147483647; };
function ellipse(cx, cy, rx, ry, n) {
  const flat = [];
  for (let k = 0; k < n; k += 1) { const a = (2 * Math.PI * k) / n; flat.push(cx + rx * Math.cos(a), cy + ry * Math.sin(a)); }
  return flat;
}
const masks = [];
for (let i = 0; i < N; i += 1) {
  masks.push({ category: "person", polygons: [ellipse(20 + random() * 600, 20 + random() * 440, 8 + random() * 40, 8 + random() * 40, 24)] });
}
const stage = document.getElementById("stage");
const editor = createPolygonEditor(stage, { imageUrl: canvas.toDataURL(), width: 640, height: 480, spot: { x: 320, y: 240 } });
editor.setPolygons([ellipse(320, 240, 120, 90, 60)]);
const layout = () => stage.getBoundingClientRect() && document.body.offsetHeight;
const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

const drawMasks = [];
for (let i = 0; i < 10; i += 1) { const t = performance.now(); editor.showMasks(masks); layout(); drawMasks.push(performance.now() - t); await nextFrame(); }
const render = [];
for (let i = 0; i < 100; i += 1) { const t = performance.now(); editor.render(); layout(); render.push(performance.now() - t); }

async function frames(step) {
  const intervals = [];
  let last = await nextFrame();
  for (let i = 0; i < FRAMES; i += 1) {
    step(i);
    const now = await nextFrame();
    intervals.push(now - last);
    last = now;
  }
  return intervals;
}
const zoom = await frames((i) => (i %% 20 < 10 ? editor.zoomIn() : editor.zoomOut()));
editor.fit();
await nextFrame();
// Drag the first point of the outline around with real pointer events.
const svg = stage; // the drawing surface takes the pointer events for every layer
const box = svg.getBoundingClientRect();
const vertex = stage.querySelector(".vertex").getBoundingClientRect();
const start = { x: vertex.x + vertex.width / 2, y: vertex.y + vertex.height / 2 };
const fire = (type, x, y) => svg.dispatchEvent(new PointerEvent(type, { bubbles: true, clientX: x, clientY: y, button: 0, buttons: 1, pointerId: 1, isPrimary: true }));
svg.setPointerCapture = () => {}; svg.releasePointerCapture = () => {}; svg.hasPointerCapture = () => false;
fire("pointerdown", start.x, start.y);
const drag = await frames((i) => fire("pointermove", start.x + (i %% 40), start.y + (i %% 30)));
fire("pointerup", start.x, start.y);
window.result = { masks: N, drawMasks, render, zoom, drag, box: [box.width, box.height] };
</script></body></html>
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def summary(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms   (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=200)
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(ROOT / "frontend/static/js", Path(folder) / "js")
        shutil.copytree(ROOT / "frontend/static/css", Path(folder) / "css")
        (Path(folder) / "bench.html").write_text(
            PAGE % {"masks": args.masks, "frames": args.frames}
        )
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
                page = browser.new_page(viewport={"width": 1100, "height": 800})
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/bench.html")
                page.wait_for_function("window.result !== undefined", timeout=120_000)
                result = page.evaluate("window.result")
                version = browser.version
                browser.close()
        finally:
            server.shutdown()
    print(f"Chromium {version}, {result['masks']} masks, surface {result['box']}")
    print(f"draw masks (once per task):     {summary(result['drawMasks'])}")
    print(f"editor render + layout:         {summary(result['render'])}")
    print(f"frame time, zooming:            {summary(result['zoom'])}")
    print(f"frame time, dragging a point:   {summary(result['drag'])}")
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
