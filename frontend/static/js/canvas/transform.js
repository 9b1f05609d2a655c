// Viewport transforms, pure (no DOM): world coordinates are image pixels; a screen point is
// world * scale + (tx, ty) in CSS pixels of the drawing surface's box.
// A transform is a plain object {scale, tx, ty, fitScale}; every function returns a new one.

export const MIN_ZOOM = 0.5; // relative to "fit": half the whole-photo size
export const MAX_SCALE = 32; // image pixels drawn at most 32 screen pixels wide

// The whole image visible and centred in a view of viewWidth x viewHeight.
export function fitTransform(viewWidth, viewHeight, imageWidth, imageHeight) {
  const scale = Math.min(viewWidth / imageWidth, viewHeight / imageHeight);
  return {
    scale,
    fitScale: scale,
    tx: (viewWidth - imageWidth * scale) / 2,
    ty: (viewHeight - imageHeight * scale) / 2,
  };
}

export function toWorld(t, sx, sy) {
  return { x: (sx - t.tx) / t.scale, y: (sy - t.ty) / t.scale };
}

export function toScreen(t, x, y) {
  return { x: x * t.scale + t.tx, y: y * t.scale + t.ty };
}

// Zoom by `factor` keeping the screen point (sx, sy) over the same world point; the scale
// stays within [fitScale * MIN_ZOOM, MAX_SCALE] (a bigger max when the photo is tiny).
export function zoomAt(t, factor, sx, sy) {
  const low = t.fitScale * MIN_ZOOM;
  const high = Math.max(MAX_SCALE, t.fitScale * 4);
  const scale = Math.min(high, Math.max(low, t.scale * factor));
  const real = scale / t.scale;
  return { ...t, scale, tx: sx - (sx - t.tx) * real, ty: sy - (sy - t.ty) * real };
}

export function pan(t, dx, dy) {
  return { ...t, tx: t.tx + dx, ty: t.ty + dy };
}

// Zoom relative to the whole photo (1 = fit).
export function zoomLevel(t) {
  return t.scale / t.fitScale;
}

// The world rectangle {x, y, width, height} visible in a view of the given size, clipped to
// the image: what a raster layer needs to redraw after the view moved.
export function visibleWorldRect(t, viewWidth, viewHeight, imageWidth, imageHeight) {
  const a = toWorld(t, 0, 0);
  const b = toWorld(t, viewWidth, viewHeight);
  const x0 = Math.max(0, Math.floor(a.x));
  const y0 = Math.max(0, Math.floor(a.y));
  const x1 = Math.min(imageWidth, Math.ceil(b.x));
  const y1 = Math.min(imageHeight, Math.ceil(b.y));
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

// CSS transform of an element whose box is the image at 1:1 with transform-origin 0 0.
export function cssTransform(t) {
  return `translate(${t.tx}px, ${t.ty}px) scale(${t.scale})`;
}
