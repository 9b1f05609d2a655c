// The drawing surface every annotator tool draws on: the photo and ordered layers (SVG for
// shapes, raster canvases for painted pixels) under one viewport (zoom and pan by wheel,
// keys, pinch and fit), one undo/redo stack, one keyboard map, pointer and touch input.
// A tool is one module of interactions on top of it (CVAT's canvas is the model): it
// receives pointer events already in image pixels and draws into the layers it asked for.
//
//   const surface = createSurface(container, { width, height, imageUrl, keymap,
//                                              layers: [["masks", "svg"], ["paint", "canvas"]] });
//   surface.use({ down(p, e), move(p, e), up(p, e), hover(p, e), cancel() });
//
// Coordinates: image pixels (x right, y down, origin at the top-left corner of the photo).
import { UndoStack } from "./history.js";
import * as T from "./transform.js";

const SVG = "http://www.w3.org/2000/svg";
const ZOOM_STEP = 1.25;
const PAN_STEP_PX = 60;

export function svgElement(name, attributes = {}) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

export function createSurface(container, options) {
  const { width, height } = options;
  const onView = options.onView || (() => {});
  container.classList.add("surface");
  container.dataset.testid = container.dataset.testid || "stage";
  if (!container.hasAttribute("tabindex")) container.tabIndex = 0;

  const photo = document.createElement("img");
  photo.className = "surface-photo surface-world";
  photo.dataset.testid = "photo";
  photo.alt = options.alt || "the photo";
  photo.draggable = false;
  photo.width = width;
  photo.height = height;
  if (options.imageUrl) photo.src = options.imageUrl;
  const children = [photo];
  const layers = {};
  const svgLayers = [];
  const rasters = [];
  let world = null; // the world group of the <svg> that consecutive vector layers share
  for (const [name, kind] of options.layers || []) {
    if (kind === "canvas") {
      const canvas = document.createElement("canvas");
      canvas.className = `surface-world layer-${name}`;
      canvas.width = width;
      canvas.height = height;
      canvas.dataset.layer = name;
      layers[name] = canvas;
      rasters.push(canvas);
      children.push(canvas);
      world = null;
    } else {
      // A full-size <svg> whose world group carries the transform, so strokes drawn with
      // vector-effect="non-scaling-stroke" keep their screen width at any zoom; vector
      // layers with no raster between them share one <svg> (fewer layers to composite).
      if (!world) {
        const svg = svgElement("svg", { class: "surface-svg", "aria-hidden": "true" });
        world = svgElement("g", { class: "surface-world-group" });
        svg.append(world);
        svgLayers.push(world);
        children.push(svg);
      }
      const group = svgElement("g", { class: `layer-${name}`, "data-layer": name, "data-testid": `layer-${name}` });
      world.append(group);
      layers[name] = group;
    }
  }
  container.replaceChildren(...children);

  const history = new UndoStack({ onChange: () => onView(surface) });
  let t = { scale: 1, fitScale: 1, tx: 0, ty: 0 };
  let tool = null;
  let drag = null; // {kind: "pan" | "tool" | "pinch", ...}
  const touches = new Map(); // pointerId -> {x, y} of active touch pointers
  let spaceHeld = false;

  function box() {
    return container.getBoundingClientRect();
  }

  function apply() {
    const css = T.cssTransform(t);
    photo.style.transform = css;
    for (const canvas of rasters) canvas.style.transform = css;
    const attr = `translate(${t.tx} ${t.ty}) scale(${t.scale})`;
    for (const world of svgLayers) world.setAttribute("transform", attr);
    container.dataset.zoom = T.zoomLevel(t).toFixed(3);
    // The view on the element, for tests and benchmarks: screen = world * scale + (tx, ty).
    container.dataset.scale = String(t.scale);
    container.dataset.tx = String(t.tx);
    container.dataset.ty = String(t.ty);
    onView(surface);
  }

  function toImage(clientX, clientY) {
    const b = box();
    return T.toWorld(t, clientX - b.left, clientY - b.top);
  }

  function clamp(p) {
    return { x: Math.min(width, Math.max(0, p.x)), y: Math.min(height, Math.max(0, p.y)) };
  }

  const view = {
    fit() {
      const b = box();
      t = T.fitTransform(b.width || width, b.height || height, width, height);
      apply();
    },
    zoomAt(factor, clientX, clientY) {
      const b = box();
      const sx = clientX === undefined ? b.width / 2 : clientX - b.left;
      const sy = clientY === undefined ? b.height / 2 : clientY - b.top;
      t = T.zoomAt(t, factor, sx, sy);
      apply();
    },
    zoomIn: () => view.zoomAt(ZOOM_STEP),
    zoomOut: () => view.zoomAt(1 / ZOOM_STEP),
    pan(dx, dy) {
      t = T.pan(t, dx, dy);
      apply();
    },
    // Keep an image point on screen (a keyboard cursor walking off the edge).
    reveal(p, margin = 30) {
      const b = box();
      const s = T.toScreen(t, p.x, p.y);
      let dx = 0;
      let dy = 0;
      if (s.x < margin) dx = margin - s.x;
      if (s.x > b.width - margin) dx = b.width - margin - s.x;
      if (s.y < margin) dy = margin - s.y;
      if (s.y > b.height - margin) dy = b.height - margin - s.y;
      if (dx || dy) view.pan(dx, dy);
    },
    get scale() {
      return t.scale;
    },
    get zoom() {
      return T.zoomLevel(t);
    },
    get transform() {
      return { ...t };
    },
  };

  // ---- pointer, touch and wheel ------------------------------------------------------------

  function pinchState() {
    const [a, b] = [...touches.values()];
    return { cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2, d: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
  }

  function onDown(event) {
    container.focus({ preventScroll: true });
    if (event.pointerType === "touch") {
      touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (touches.size === 2) {
        // A second finger: the gesture becomes pinch-zoom and pan; the tool's stroke stops.
        if (drag && drag.kind === "tool" && tool && tool.cancel) tool.cancel();
        drag = { kind: "pinch", ...pinchState() };
        return;
      }
    }
    if (event.button === 1 || (event.button === 0 && spaceHeld)) {
      drag = { kind: "pan", x: event.clientX, y: event.clientY };
      container.setPointerCapture?.(event.pointerId);
      event.preventDefault();
      return;
    }
    if (event.button !== 0 || !tool || !tool.down) return;
    event.preventDefault();
    container.setPointerCapture?.(event.pointerId);
    drag = { kind: "tool" };
    tool.down(toImage(event.clientX, event.clientY), event);
  }

  function onMove(event) {
    if (touches.has(event.pointerId)) touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (drag && drag.kind === "pinch") {
      if (touches.size < 2) return;
      const now = pinchState();
      view.pan(now.cx - drag.cx, now.cy - drag.cy);
      view.zoomAt(now.d / drag.d, now.cx, now.cy);
      Object.assign(drag, now);
      return;
    }
    if (drag && drag.kind === "pan") {
      view.pan(event.clientX - drag.x, event.clientY - drag.y);
      drag.x = event.clientX;
      drag.y = event.clientY;
      return;
    }
    if (!tool) return;
    const p = toImage(event.clientX, event.clientY);
    if (drag && drag.kind === "tool") {
      // Coalesced events: every sample of a fast stroke, not one per frame.
      const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      if (tool.move && samples.length > 1) for (const e of samples) tool.move(toImage(e.clientX, e.clientY), event);
      else if (tool.move) tool.move(p, event);
    } else if (tool.hover) tool.hover(p, event);
  }

  function onUp(event) {
    touches.delete(event.pointerId);
    if (container.hasPointerCapture?.(event.pointerId)) container.releasePointerCapture(event.pointerId);
    if (!drag) return;
    const kind = drag.kind;
    if (kind === "pinch" && touches.size > 0) return;
    drag = null;
    if (kind === "tool" && tool && tool.up) tool.up(toImage(event.clientX, event.clientY), event);
  }

  function onWheel(event) {
    event.preventDefault();
    view.zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX, event.clientY);
  }

  function onLeave(event) {
    if (!drag && tool && tool.leave) tool.leave(event);
  }

  container.addEventListener("pointerdown", onDown);
  container.addEventListener("pointermove", onMove);
  container.addEventListener("pointerup", onUp);
  container.addEventListener("pointercancel", onUp);
  container.addEventListener("pointerleave", onLeave);
  container.addEventListener("wheel", onWheel, { passive: false });
  container.addEventListener("contextmenu", (event) => {
    if (tool && tool.context) tool.context(toImage(event.clientX, event.clientY), event);
  });

  const onKeyUp = (event) => {
    if (event.key === " ") {
      spaceHeld = false;
      container.classList.remove("panning");
    }
  };
  document.addEventListener("keyup", onKeyUp);

  const resize = new ResizeObserver(() => {
    if (!drag && Math.abs(view.zoom - 1) < 1e-6) view.fit();
  });
  resize.observe(container);

  const surface = {
    container,
    photo,
    width,
    height,
    layers,
    history,
    view,
    toImage,
    clamp,
    // Whether a client point (a drop) is over the photo itself.
    overPhoto(clientX, clientY) {
      const b = box();
      if (clientX < b.left || clientX > b.right || clientY < b.top || clientY > b.bottom) return false;
      const p = toImage(clientX, clientY);
      return p.x >= 0 && p.y >= 0 && p.x <= width && p.y <= height;
    },
    toClient(p) {
      const b = box();
      const s = T.toScreen(t, p.x, p.y);
      return { x: b.left + s.x, y: b.top + s.y };
    },
    use(next) {
      tool = next;
    },
    // Space held: a drag pans instead of drawing (released on keyup).
    holdSpace() {
      spaceHeld = true;
      container.classList.add("panning");
    },
    destroy() {
      resize.disconnect();
      document.removeEventListener("keyup", onKeyUp);
      container.replaceChildren();
    },
  };
  view.fit();
  return surface;
}

// The view's keys and the history keys, added to the page's one keyboard map; `current`
// returns the surface of the task on screen (a new one per task). With arrows: false a
// tool keeps the plain arrows for itself (a cursor) and the view pans with Shift+arrows.
export function bindViewKeys(keymap, current, { arrows = true, space = true } = {}) {
  const prefix = arrows ? "" : "Shift+";
  const on = (action) => (event) => {
    const surface = current();
    if (surface) action(surface, event);
  };
  const steps = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  keymap
    .bind(["+", "="], "zoom in", on((s) => s.view.zoomIn()))
    .bind(["-", "_"], "zoom out", on((s) => s.view.zoomOut()))
    .bind(["0"], "whole photo (fit)", on((s) => s.view.fit()))
    .bind(Object.keys(steps).map((k) => prefix + k), "pan", on((s, e) => {
      s.view.pan(steps[e.key][0] * PAN_STEP_PX, steps[e.key][1] * PAN_STEP_PX);
    }));
  if (space) {
    keymap.bind(["Space"], "hold and drag: pan", on((s) => s.holdSpace()), {
      when: (e) => Boolean(current()) && !(e.target.closest && e.target.closest("button, a, summary")),
    });
  }
  return keymap;
}

export function bindHistoryKeys(keymap, current) {
  keymap
    .bind(["Ctrl+Z"], "undo", () => current() && current().history.undo())
    .bind(["Ctrl+Shift+Z", "Ctrl+Y"], "redo", () => current() && current().history.redo());
  return keymap;
}

// Outlines of instances (COCO polygon lists), drawn once per change into an SVG layer;
// strokes keep their screen width whatever the zoom, so zooming never redraws them.
export function drawOutlines(layer, outlines, className, testid) {
  const fragment = document.createDocumentFragment();
  for (const outline of outlines) {
    const group = svgElement("g", { class: className, "data-category": outline.category || "" });
    for (const flat of outline.polygons) {
      const points = [];
      for (let i = 0; i + 1 < flat.length; i += 2) points.push(`${flat[i]},${flat[i + 1]}`);
      const attributes = { points: points.join(" "), "vector-effect": "non-scaling-stroke" };
      if (testid) attributes["data-testid"] = testid;
      group.appendChild(svgElement("polygon", attributes));
    }
    fragment.appendChild(group);
  }
  layer.replaceChildren(fragment);
}

// While something is dragged near the top or bottom of the window, scroll the page so the
// drop target comes into view (pointer capture keeps the drag alive while scrolling).
export function autoScroll(clientY, edge = 48, step = 18) {
  if (clientY < edge) window.scrollBy(0, -step);
  else if (clientY > window.innerHeight - edge) window.scrollBy(0, step);
}
