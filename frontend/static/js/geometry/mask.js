// Painted masks, pure (no DOM): a Uint8Array of width*height (row-major, 1 = painted) with
// a round brush, a polygon fill (lasso) and COCO's RLE. Each painting operation returns
// the rectangle it touched {x, y, width, height} (or null) so only that part is redrawn.

export function createMask(width, height) {
  return { width, height, data: new Uint8Array(width * height) };
}

function rect(x0, y0, x1, y1) {
  if (x1 < x0 || y1 < y0) return null;
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

export function unionRect(a, b) {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x, y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

// Set to `value` every pixel whose centre lies within `radius` of (cx, cy).
export function stamp(mask, cx, cy, radius, value) {
  const { width, height, data } = mask;
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(width - 1, Math.ceil(cx + radius));
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(height - 1, Math.ceil(cy + radius));
  const r2 = radius * radius;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy <= r2) data[y * width + x] = value;
    }
  }
  return rect(x0, y0, x1, y1);
}

// A stroke segment from a to b: stamps close enough that the disks overlap.
export function strokeSegment(mask, a, b, radius, value) {
  const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / Math.max(0.5, radius / 2)));
  let touched = null;
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    touched = unionRect(touched, stamp(mask, a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, radius, value));
  }
  return touched;
}

// Fill a polygon [{x, y}, ...] (even-odd rule, pixel centres) with `value`: a lasso.
export function fillPolygon(mask, points, value) {
  if (points.length < 3) return null;
  const { width, height, data } = mask;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of points) {
    minY = Math.min(minY, p.y);
    maxY = Math.max(maxY, p.y);
  }
  const y0 = Math.max(0, Math.floor(minY));
  const y1 = Math.min(height - 1, Math.ceil(maxY));
  let touched = null;
  const xs = [];
  for (let y = y0; y <= y1; y++) {
    const cy = y + 0.5;
    xs.length = 0;
    for (let i = 0; i < points.length; i++) {
      const a = points[i];
      const b = points[(i + 1) % points.length];
      if ((a.y <= cy && b.y > cy) || (b.y <= cy && a.y > cy)) xs.push(a.x + ((cy - a.y) / (b.y - a.y)) * (b.x - a.x));
    }
    xs.sort((p, q) => p - q);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixels whose centre x + 0.5 lies in [xs[k], xs[k+1]).
      const from = Math.max(0, Math.ceil(xs[k] - 0.5));
      const to = Math.min(width - 1, Math.ceil(xs[k + 1] - 0.5) - 1);
      if (to < from) continue;
      data.fill(value, y * width + from, y * width + to + 1);
      touched = unionRect(touched, rect(from, y, to, y));
    }
  }
  return touched;
}

export function countPainted(mask) {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}

// The pixels of a rectangle, copied (for undo) and put back.
export function copyRect(mask, r) {
  const out = new Uint8Array(r.width * r.height);
  for (let y = 0; y < r.height; y++) {
    const start = (r.y + y) * mask.width + r.x;
    out.set(mask.data.subarray(start, start + r.width), y * r.width);
  }
  return out;
}

export function pasteRect(mask, r, pixels) {
  for (let y = 0; y < r.height; y++) {
    mask.data.set(pixels.subarray(y * r.width, (y + 1) * r.width), (r.y + y) * mask.width + r.x);
  }
}

// COCO's uncompressed RLE: counts of alternating 0 and 1 runs in column-major order (down
// each column, then the next column), starting with a run of 0s (possibly empty).
export function encodeRle(mask) {
  const { width, height, data } = mask;
  const counts = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = data[y * width + x];
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run += 1;
    }
  }
  counts.push(run);
  return { size: [height, width], counts };
}

export function decodeRle(rle) {
  const [height, width] = rle.size;
  const mask = createMask(width, height);
  let i = 0;
  let value = 0;
  for (const count of rle.counts) {
    for (let k = 0; k < count; k++, i++) {
      if (value) mask.data[(i % height) * width + Math.floor(i / height)] = 1;
    }
    value = 1 - value;
  }
  return mask;
}
