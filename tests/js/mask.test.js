// Painted masks (frontend/static/js/geometry/mask.js): brush, lasso fill, undo rectangles
// and COCO's RLE (column-major counts starting with a run of 0s, as pycocotools writes).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as M from "../../frontend/static/js/geometry/mask.js";

test("a brush dab paints the pixels whose centres are inside the disk", () => {
  const mask = M.createMask(50, 50);
  const touched = M.stamp(mask, 25, 25, 10, 1);
  const n = M.countPainted(mask);
  assert.ok(Math.abs(n - Math.PI * 100) < 0.05 * Math.PI * 100, `${n} px`);
  assert.deepEqual(touched, { x: 15, y: 15, width: 21, height: 21 });
  M.stamp(mask, 25, 25, 10, 0);
  assert.equal(M.countPainted(mask), 0, "the eraser clears them again");
});

test("a stroke paints a capsule: a rectangle and two half disks", () => {
  const mask = M.createMask(200, 100);
  M.strokeSegment(mask, { x: 40, y: 50 }, { x: 140, y: 50 }, 10, 1);
  const capsule = 100 * 20 + Math.PI * 100;
  assert.ok(Math.abs(M.countPainted(mask) - capsule) < 0.05 * capsule);
});

test("the lasso fills a polygon's inside, pixel centres by the even-odd rule", () => {
  const mask = M.createMask(20, 20);
  const touched = M.fillPolygon(mask, [{ x: 2, y: 3 }, { x: 12, y: 3 }, { x: 12, y: 8 }, { x: 2, y: 8 }], 1);
  assert.equal(M.countPainted(mask), 10 * 5);
  assert.deepEqual(touched, { x: 2, y: 3, width: 10, height: 5 });
  const triangle = M.createMask(100, 100);
  M.fillPolygon(triangle, [{ x: 0, y: 0 }, { x: 100, y: 0 }, { x: 0, y: 100 }], 1);
  assert.ok(Math.abs(M.countPainted(triangle) - 5000) <= 100);
  assert.equal(M.fillPolygon(mask, [{ x: 0, y: 0 }, { x: 1, y: 1 }], 1), null, "two points fill nothing");
});

test("copying and pasting a rectangle puts pixels back exactly (undo of a stroke)", () => {
  const mask = M.createMask(30, 30);
  M.stamp(mask, 10, 10, 6, 1);
  const before = mask.data.slice();
  const r = M.stamp(mask, 14, 12, 5, 0);
  const saved = M.copyRect({ width: 30, data: before }, r);
  M.pasteRect(mask, r, saved);
  assert.deepEqual(mask.data, before);
});

test("RLE runs go down the columns, starting with 0s", () => {
  // 3 rows x 2 columns; column 0 = [0, 1, 1], column 1 = [1, 0, 0].
  const mask = M.createMask(2, 3);
  mask.data[1 * 2 + 0] = 1;
  mask.data[2 * 2 + 0] = 1;
  mask.data[0 * 2 + 1] = 1;
  assert.deepEqual(M.encodeRle(mask), { size: [3, 2], counts: [1, 3, 2] });
  const painted = M.createMask(2, 2);
  painted.data.fill(1);
  assert.deepEqual(M.encodeRle(painted).counts, [0, 4], "a first run of zero 0s");
});

test("RLE decodes back to the same mask", () => {
  const mask = M.createMask(37, 23);
  M.stamp(mask, 12, 9, 7, 1);
  M.fillPolygon(mask, [{ x: 20, y: 2 }, { x: 36, y: 5 }, { x: 30, y: 22 }], 1);
  const back = M.decodeRle(M.encodeRle(mask));
  assert.deepEqual(back.data, mask.data);
  assert.equal(back.width, 37);
});
