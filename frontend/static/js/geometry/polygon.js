// Pure polygon helpers for the editor (image pixels; no DOM). A part is [{x, y}, ...].

export function distance(a, b) {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

// The closest point to p on segment ab, and where along it (0..1).
export function closestOnSegment(p, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2));
  return { x: a.x + t * dx, y: a.y + t * dy, t };
}

// The edge of a part closest to p: {index (insert before index + 1), point, distance}.
export function nearestEdge(part, p, closed) {
  let best = null;
  const edges = closed ? part.length : part.length - 1;
  for (let i = 0; i < edges; i += 1) {
    const a = part[i];
    const b = part[(i + 1) % part.length];
    const q = closestOnSegment(p, a, b);
    const d = distance(p, q);
    if (best === null || d < best.distance) best = { index: i, point: { x: q.x, y: q.y }, distance: d };
  }
  return best;
}

// Shoelace area of one part (absolute), as the server and COCO compute it.
export function area(part) {
  let twice = 0;
  for (let i = 0; i < part.length; i += 1) {
    const a = part[i];
    const b = part[(i + 1) % part.length];
    twice += a.x * b.y - b.x * a.y;
  }
  return Math.abs(twice) / 2;
}

export function clampToImage(p, width, height) {
  return { x: Math.min(width, Math.max(0, p.x)), y: Math.min(height, Math.max(0, p.y)) };
}

export function round2(value) {
  return Math.round(value * 100) / 100;
}

// Parts -> COCO polygon lists [[x1, y1, x2, y2, ...], ...], keeping parts with 3+ points.
export function toCoco(parts) {
  return parts
    .filter((part) => part.length >= 3)
    .map((part) => part.flatMap((p) => [round2(p.x), round2(p.y)]));
}

// COCO polygon lists -> parts.
export function fromCoco(polygons) {
  return (polygons || []).map((flat) => {
    const part = [];
    for (let i = 0; i + 1 < flat.length; i += 2) part.push({ x: flat[i], y: flat[i + 1] });
    return part;
  });
}

// SVG "points" attribute of a part.
export function pointsAttribute(part) {
  return part.map((p) => `${p.x},${p.y}`).join(" ");
}
