// Polygon helpers of the editor (frontend/static/js/geometry/polygon.js).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as geo from "../../frontend/static/js/geometry/polygon.js";

test("area is the shoelace area, whatever the winding", () => {
  const square = [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 10 }];
  assert.equal(geo.area(square), 100);
  assert.equal(geo.area([...square].reverse()), 100);
});

test("the nearest edge and the point on it (for inserting a vertex)", () => {
  const square = [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 10 }];
  const edge = geo.nearestEdge(square, { x: 5, y: 11 }, true);
  assert.equal(edge.index, 2);
  assert.deepEqual(edge.point, { x: 5, y: 10 });
  assert.equal(edge.distance, 1);
  const open = geo.nearestEdge(square, { x: -1, y: 5 }, false);
  assert.notEqual(open.index, 3, "an open polyline has no closing edge");
});

test("closest point on a segment is clamped to its ends", () => {
  assert.deepEqual(geo.closestOnSegment({ x: -5, y: 3 }, { x: 0, y: 0 }, { x: 10, y: 0 }), { x: 0, y: 0, t: 0 });
});

test("COCO polygon lists round-trip, parts under 3 points are dropped, rounded to 0.01", () => {
  const parts = [[{ x: 1.234, y: 2 }, { x: 5, y: 6.789 }, { x: 7, y: 1 }], [{ x: 0, y: 0 }, { x: 1, y: 1 }]];
  const coco = geo.toCoco(parts);
  assert.deepEqual(coco, [[1.23, 2, 5, 6.79, 7, 1]]);
  assert.deepEqual(geo.fromCoco(coco)[0][1], { x: 5, y: 6.79 });
});

test("points are clamped to the image", () => {
  assert.deepEqual(geo.clampToImage({ x: -3, y: 700 }, 640, 480), { x: 0, y: 480 });
});
