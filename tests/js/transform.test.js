// Viewport transforms of the drawing surface (frontend/static/js/canvas/transform.js).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../frontend/static/js/canvas/transform.js";

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test("fit shows the whole photo centred, letterboxed on the long side", () => {
  const t = T.fitTransform(800, 600, 640, 240);
  close(t.scale, 1.25);
  close(t.tx, 0);
  close(t.ty, (600 - 240 * 1.25) / 2);
  assert.equal(T.zoomLevel(t), 1);
});

test("screen and world coordinates are inverse of each other", () => {
  const t = { scale: 2.5, fitScale: 1, tx: -37, ty: 12 };
  const s = T.toScreen(t, 100, 50);
  const w = T.toWorld(t, s.x, s.y);
  close(w.x, 100);
  close(w.y, 50);
});

test("zooming keeps the point under the pointer in place", () => {
  const t0 = T.fitTransform(800, 600, 640, 480);
  const before = T.toWorld(t0, 300, 200);
  const t1 = T.zoomAt(t0, 3, 300, 200);
  const after = T.toWorld(t1, 300, 200);
  close(after.x, before.x);
  close(after.y, before.y);
  close(T.zoomLevel(t1), 3);
});

test("zoom is limited: never below half the fit, never past the maximum", () => {
  const t0 = T.fitTransform(800, 600, 640, 480);
  close(T.zoomLevel(T.zoomAt(t0, 0.01, 0, 0)), T.MIN_ZOOM);
  assert.equal(T.zoomAt(t0, 1e6, 0, 0).scale, T.MAX_SCALE);
});

test("pan moves the view by screen pixels at any zoom", () => {
  const t = T.pan({ scale: 4, fitScale: 1, tx: 10, ty: 20 }, -30, 5);
  assert.deepEqual([t.tx, t.ty, t.scale], [-20, 25, 4]);
});

test("the visible world rectangle is clipped to the image", () => {
  const t = T.zoomAt(T.fitTransform(640, 480, 640, 480), 2, 0, 0);
  assert.deepEqual(T.visibleWorldRect(t, 640, 480, 640, 480), { x: 0, y: 0, width: 320, height: 240 });
  const out = T.pan(t, 10000, 0);
  assert.equal(T.visibleWorldRect(out, 640, 480, 640, 480).width, 0);
});
