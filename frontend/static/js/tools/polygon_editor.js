// SVG polygon editor (thesis §2.4.3, appendix A "Instance Segmentation"): click to add
// points, click the first point or press Enter to close, drag to move, click a line to
// insert, Alt+click / right-click / Delete to remove, N for another part of an object split
// by occlusion, wheel and keys to zoom and pan, undo and redo. It records the points placed
// and the edits made; coordinates are image pixels.
//
// The editor is the facade over the drawing surface (canvas/layers.js), the viewport
// (canvas/viewport.js) and the pure geometry (geometry/polygon.js).

import { createSurface, drawOutlines, svgElement } from "../canvas/layers.js";
import { Viewport } from "../canvas/viewport.js";
import * as geo from "../geometry/polygon.js";

const HANDLE_PX = 5; // vertex handle radius on screen
const HIT_PX = 8; // how close (screen px) a click must be to a point or a line
const SPOT_PX = 7;
const PAN_STEP_PX = 60;
const ZOOM_STEP = 1.25;

export function createPolygonEditor(container, options) {
  const { imageUrl, width, height } = options;
  const onChange = options.onChange || (() => {});
  const surface = createSurface(container);
  const { svg, layers } = surface;
  const photo = svgElement("image", { href: imageUrl, width, height, preserveAspectRatio: "none", "data-testid": "photo" });
  layers.photo.appendChild(photo);

  // parts: [{points: [{x, y}], closed}]; the last part is being traced when not closed.
  let parts = [];
  let history = [];
  let future = [];
  let selected = null; // {part, index} of the last touched point
  let spot = options.spot || null;
  const stats = { vertices: 0, edits: 0 };
  let drag = null; // {kind: "vertex" | "pan", ...}
  let hover = null; // image point under the pointer (rubber band)
  let spaceHeld = false;

  const viewport = new Viewport(svg, surface.world, () => render());

  // ---- state and history --------------------------------------------------------------

  const snapshot = () => JSON.stringify(parts);
  function commit(before) {
    history.push(before);
    future = [];
    render();
  }
  function restore(json) {
    parts = JSON.parse(json);
    selected = null;
    render();
  }
  function undo() {
    if (!history.length) return;
    future.push(snapshot());
    restore(history.pop());
    stats.edits += 1;
    render();
  }
  function redo() {
    if (!future.length) return;
    history.push(snapshot());
    restore(future.pop());
    stats.edits += 1;
    render();
  }

  const openPart = () => {
    const last = parts[parts.length - 1];
    return last && !last.closed ? last : null;
  };

  function closeOpenPart() {
    const part = openPart();
    if (!part || part.points.length < 3) return false;
    const before = snapshot();
    part.closed = true;
    commit(before);
    return true;
  }

  function deletePoint(partIndex, index) {
    const before = snapshot();
    const part = parts[partIndex];
    part.points.splice(index, 1);
    if (part.points.length === 0 || (part.closed && part.points.length < 3)) {
      parts.splice(partIndex, 1);
    }
    selected = null;
    stats.edits += 1;
    commit(before);
  }

  // ---- hit testing (in image pixels, tolerance in screen pixels) --------------------------

  function vertexAt(p) {
    const tolerance = HIT_PX / viewport.scale;
    let best = null;
    parts.forEach((part, partIndex) => {
      part.points.forEach((q, index) => {
        const d = geo.distance(p, q);
        if (d <= tolerance && (best === null || d < best.distance)) best = { part: partIndex, index, distance: d };
      });
    });
    return best;
  }

  function edgeAt(p) {
    const tolerance = HIT_PX / viewport.scale;
    let best = null;
    parts.forEach((part, partIndex) => {
      if (!part.closed || part.points.length < 2) return;
      const edge = geo.nearestEdge(part.points, p, true);
      if (edge && edge.distance <= tolerance && (best === null || edge.distance < best.distance)) {
        best = { part: partIndex, ...edge };
      }
    });
    return best;
  }

  // ---- pointer ----------------------------------------------------------------------------

  function onPointerDown(event) {
    container.focus({ preventScroll: true });
    if (event.button === 1 || (event.button === 0 && spaceHeld)) {
      drag = { kind: "pan", x: event.clientX, y: event.clientY };
      svg.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (event.button !== 0) return;
    event.preventDefault();
    const p = geo.clampToImage(viewport.toImage(event.clientX, event.clientY), width, height);
    const vertex = vertexAt(p);
    const open = openPart();
    if (vertex) {
      if (event.altKey) {
        deletePoint(vertex.part, vertex.index);
        return;
      }
      const part = parts[vertex.part];
      if (part === open && vertex.index === 0 && part.points.length >= 3) {
        closeOpenPart();
        return;
      }
      selected = { part: vertex.part, index: vertex.index };
      drag = { kind: "vertex", before: snapshot(), ...selected, moved: false };
      svg.setPointerCapture(event.pointerId);
      render();
      return;
    }
    const before = snapshot();
    if (open) {
      open.points.push(p);
      stats.vertices += 1;
      selected = { part: parts.length - 1, index: open.points.length - 1 };
      commit(before);
      return;
    }
    const edge = edgeAt(p);
    if (edge) {
      // Insert on the line and keep dragging the new point.
      parts[edge.part].points.splice(edge.index + 1, 0, edge.point);
      stats.vertices += 1;
      stats.edits += 1;
      selected = { part: edge.part, index: edge.index + 1 };
      drag = { kind: "vertex", before, ...selected, moved: true };
      svg.setPointerCapture(event.pointerId);
      render();
      return;
    }
    parts.push({ points: [p], closed: false });
    stats.vertices += 1;
    selected = { part: parts.length - 1, index: 0 };
    commit(before);
  }

  function onPointerMove(event) {
    if (drag && drag.kind === "pan") {
      viewport.pan(event.clientX - drag.x, event.clientY - drag.y);
      drag.x = event.clientX;
      drag.y = event.clientY;
      return;
    }
    const p = geo.clampToImage(viewport.toImage(event.clientX, event.clientY), width, height);
    if (drag && drag.kind === "vertex") {
      parts[drag.part].points[drag.index] = p;
      drag.moved = true;
      render();
      return;
    }
    hover = p;
    if (openPart()) renderEditor();
  }

  function onPointerUp(event) {
    if (!drag) return;
    if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
    if (drag.kind === "vertex" && drag.moved) {
      stats.edits += 1;
      commit(drag.before);
    }
    drag = null;
  }

  function onWheel(event) {
    event.preventDefault();
    viewport.zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX, event.clientY);
  }

  function onContextMenu(event) {
    event.preventDefault();
    const vertex = vertexAt(viewport.toImage(event.clientX, event.clientY));
    if (vertex) deletePoint(vertex.part, vertex.index);
  }

  // ---- keys --------------------------------------------------------------------------------

  function onKeyDown(event) {
    if (event.target.closest && event.target.closest("input, textarea, select")) return;
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    let handled = true;
    if (ctrl && (key === "z" || key === "Z")) {
      if (event.shiftKey) redo();
      else undo();
    } else if (ctrl && (key === "y" || key === "Y")) redo();
    else if (ctrl) handled = false;
    else if (key === "Enter" || key === "c") closeOpenPart();
    else if (key === "n" || key === "N") closeOpenPart();
    else if (key === "Delete" || key === "Backspace") {
      if (selected && parts[selected.part] && parts[selected.part].points[selected.index]) {
        deletePoint(selected.part, selected.index);
      } else if (openPart()) {
        deletePoint(parts.length - 1, openPart().points.length - 1);
      }
    } else if (key === "Escape") {
      const open = openPart();
      if (open) {
        const before = snapshot();
        parts.pop();
        commit(before);
      }
    } else if (key === "+" || key === "=") viewport.zoomAt(ZOOM_STEP);
    else if (key === "-" || key === "_") viewport.zoomAt(1 / ZOOM_STEP);
    else if (key === "0") viewport.fit(width, height);
    else if (key === "ArrowLeft") viewport.pan(PAN_STEP_PX, 0);
    else if (key === "ArrowRight") viewport.pan(-PAN_STEP_PX, 0);
    else if (key === "ArrowUp") viewport.pan(0, PAN_STEP_PX);
    else if (key === "ArrowDown") viewport.pan(0, -PAN_STEP_PX);
    else if (key === " ") {
      spaceHeld = true;
      container.classList.add("panning");
    } else handled = false;
    if (handled) event.preventDefault();
  }

  function onKeyUp(event) {
    if (event.key === " ") {
      spaceHeld = false;
      container.classList.remove("panning");
    }
  }

  svg.addEventListener("pointerdown", onPointerDown);
  svg.addEventListener("pointermove", onPointerMove);
  svg.addEventListener("pointerup", onPointerUp);
  svg.addEventListener("pointercancel", onPointerUp);
  svg.addEventListener("wheel", onWheel, { passive: false });
  svg.addEventListener("contextmenu", onContextMenu);
  // Keys work wherever the focus is on the page (after a button click too), except in fields.
  document.addEventListener("keydown", onKeyDown);
  document.addEventListener("keyup", onKeyUp);

  // ---- drawing -----------------------------------------------------------------------------

  function renderSpot() {
    if (!spot) {
      layers.spot.replaceChildren();
      return;
    }
    layers.spot.replaceChildren(
      svgElement("circle", {
        cx: spot.x, cy: spot.y, r: SPOT_PX / viewport.scale, class: "spot", "data-testid": "spot",
        "vector-effect": "non-scaling-stroke",
      }),
    );
  }

  function renderEditor() {
    const fragment = document.createDocumentFragment();
    const r = HANDLE_PX / viewport.scale;
    const open = openPart();
    parts.forEach((part, partIndex) => {
      const shape = svgElement(part.closed ? "polygon" : "polyline", {
        points: geo.pointsAttribute(part.points),
        class: part.closed ? "part closed" : "part open",
        "vector-effect": "non-scaling-stroke",
      });
      fragment.appendChild(shape);
      if (part === open && hover && part.points.length) {
        const last = part.points[part.points.length - 1];
        fragment.appendChild(svgElement("line", {
          x1: last.x, y1: last.y, x2: hover.x, y2: hover.y, class: "rubber", "vector-effect": "non-scaling-stroke",
        }));
      }
      part.points.forEach((q, index) => {
        const classes = ["vertex"];
        if (part === open && index === 0) classes.push("first");
        if (selected && selected.part === partIndex && selected.index === index) classes.push("selected");
        fragment.appendChild(svgElement("circle", {
          cx: q.x, cy: q.y, r, class: classes.join(" "), "data-part": partIndex, "data-index": index,
          "vector-effect": "non-scaling-stroke",
        }));
      });
    });
    layers.editor.replaceChildren(fragment);
  }

  function render() {
    renderSpot();
    renderEditor();
    container.dataset.zoom = viewport.zoom.toFixed(3);
    onChange(api);
  }

  // ---- the facade --------------------------------------------------------------------------

  const api = {
    viewport,
    stats,
    // Closed and open parts with 3+ points, as COCO polygon lists.
    polygons() {
      return geo.toCoco(parts.map((part) => part.points));
    },
    pointCount() {
      return parts.reduce((sum, part) => sum + part.points.length, 0);
    },
    partCount() {
      return parts.length;
    },
    hasOpenPart() {
      return openPart() !== null;
    },
    canUndo() {
      return history.length > 0;
    },
    canRedo() {
      return future.length > 0;
    },
    undo,
    redo,
    close: closeOpenPart,
    zoomIn: () => viewport.zoomAt(ZOOM_STEP),
    zoomOut: () => viewport.zoomAt(1 / ZOOM_STEP),
    fit: () => viewport.fit(width, height),
    // Start from given polygons (a suggested mask) without counting them as placed.
    setPolygons(polygons) {
      parts = geo.fromCoco(polygons).filter((p) => p.length >= 3).map((points) => ({ points, closed: true }));
      history = [];
      future = [];
      render();
    },
    setSpot(point) {
      spot = point;
      render();
    },
    showMasks(masks) {
      drawOutlines(layers.masks, masks, "mask");
    },
    showFeedback(yours, reference) {
      drawOutlines(layers.feedback, [
        { polygons: reference, category: "reference" },
        { polygons: yours, category: "yours" },
      ], "feedback");
      const groups = layers.feedback.children;
      if (groups[0]) groups[0].classList.add("reference");
      if (groups[1]) groups[1].classList.add("yours");
    },
    clearFeedback() {
      layers.feedback.replaceChildren();
    },
    render,
    destroy() {
      document.removeEventListener("keydown", onKeyDown);
      document.removeEventListener("keyup", onKeyUp);
      container.replaceChildren();
    },
  };

  viewport.fit(width, height);
  return api;
}
