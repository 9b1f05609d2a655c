// Polygon editing on the drawing surface (thesis §2.4.3, appendix A "Instance
// Segmentation"): click to add points, click the first point or press Enter to close, drag
// to move, click a line to insert, Alt+click / right-click / Delete to remove, N for another
// part of an object split by occlusion; zoom, pan, undo and redo come from the surface.
// It records the points placed and the edits made; coordinates are image pixels.
import { Keymap } from "../canvas/keymap.js";
import { snapshotCommand } from "../canvas/history.js";
import { bindHistoryKeys, bindViewKeys, createSurface, drawOutlines, svgElement } from "../canvas/surface.js";
import * as geo from "../geometry/polygon.js";

const HANDLE_PX = 5; // vertex handle radius on screen
const HIT_PX = 8; // how close (screen px) a click must be to a point or a line
const SPOT_PX = 7;

export function createPolygonEditor(container, options) {
  const { imageUrl, width, height } = options;
  const onChange = options.onChange || (() => {});
  let ready = false; // the surface reports its first fit before the editor below exists
  const surface = createSurface(container, {
    width,
    height,
    imageUrl,
    alt: "the photo to outline",
    layers: [["masks", "svg"], ["feedback", "svg"], ["spot", "svg"], ["editor", "svg"]],
    onView: () => ready && render(),
  });
  const { layers, view, history } = surface;

  // parts: [{points: [{x, y}], closed}]; the last part is being traced when not closed.
  let parts = [];
  let selected = null; // {part, index} of the last touched point
  let spot = options.spot || null;
  const stats = { vertices: 0, edits: 0 };
  let drag = null; // {before, part, index, moved}
  let hover = null; // image point under the pointer (rubber band)

  // ---- state and history --------------------------------------------------------------

  const snapshot = () => JSON.stringify(parts);
  function restore(json) {
    parts = JSON.parse(json);
    selected = null;
    stats.edits += 1;
    render();
  }
  function commit(before) {
    history.push(snapshotCommand(before, snapshot(), restore));
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
    if (part.points.length === 0 || (part.closed && part.points.length < 3)) parts.splice(partIndex, 1);
    selected = null;
    stats.edits += 1;
    commit(before);
  }

  function deleteSelected() {
    if (selected && parts[selected.part] && parts[selected.part].points[selected.index]) {
      deletePoint(selected.part, selected.index);
    } else if (openPart()) {
      deletePoint(parts.length - 1, openPart().points.length - 1);
    }
  }

  function dropOpenPart() {
    if (!openPart()) return;
    const before = snapshot();
    parts.pop();
    commit(before);
  }

  // ---- hit testing (in image pixels, tolerance in screen pixels) --------------------------

  function vertexAt(p) {
    const tolerance = HIT_PX / view.scale;
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
    const tolerance = HIT_PX / view.scale;
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

  // ---- the drawing interaction --------------------------------------------------------------

  const drawInteraction = {
    down(raw, event) {
      const p = geo.clampToImage(raw, width, height);
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
        drag = { before: snapshot(), ...selected, moved: false };
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
        drag = { before, ...selected, moved: true };
        render();
        return;
      }
      parts.push({ points: [p], closed: false });
      stats.vertices += 1;
      selected = { part: parts.length - 1, index: 0 };
      commit(before);
    },
    move(raw) {
      if (!drag) return;
      parts[drag.part].points[drag.index] = geo.clampToImage(raw, width, height);
      drag.moved = true;
      renderEditor();
    },
    up() {
      if (drag && drag.moved) {
        stats.edits += 1;
        commit(drag.before);
      }
      drag = null;
    },
    hover(raw) {
      hover = geo.clampToImage(raw, width, height);
      if (openPart()) renderEditor();
    },
    context(raw, event) {
      event.preventDefault();
      const vertex = vertexAt(raw);
      if (vertex) deletePoint(vertex.part, vertex.index);
    },
  };
  surface.use(drawInteraction);

  // ---- drawing -----------------------------------------------------------------------------

  function renderSpot() {
    layers.spot.replaceChildren(
      ...(spot
        ? [svgElement("circle", { cx: spot.x, cy: spot.y, r: SPOT_PX / view.scale, class: "spot", "data-testid": "spot", "vector-effect": "non-scaling-stroke" })]
        : []),
    );
  }

  function renderEditor() {
    const fragment = document.createDocumentFragment();
    const r = HANDLE_PX / view.scale;
    const open = openPart();
    parts.forEach((part, partIndex) => {
      fragment.appendChild(svgElement(part.closed ? "polygon" : "polyline", {
        points: geo.pointsAttribute(part.points),
        class: part.closed ? "part closed" : "part open",
        "vector-effect": "non-scaling-stroke",
      }));
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
    onChange(editor);
  }

  // ---- the facade --------------------------------------------------------------------------

  const editor = {
    surface,
    viewport: view,
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
    canUndo: () => history.canUndo,
    canRedo: () => history.canRedo,
    undo: () => history.undo(),
    redo: () => history.redo(),
    close: closeOpenPart,
    deleteSelected,
    dropOpenPart,
    zoomIn: () => view.zoomIn(),
    zoomOut: () => view.zoomOut(),
    fit: () => view.fit(),
    // Start from given polygons (a suggested mask, a draft) without counting them as placed.
    setPolygons(polygons) {
      parts = geo.fromCoco(polygons).filter((p) => p.length >= 3).map((points) => ({ points, closed: true }));
      history.clear();
      render();
    },
    // Load outlines to edit (a model suggestion, a click-to-mask answer) as one undoable step:
    // what was drawn before comes back with undo.
    loadPolygons(polygons) {
      const before = snapshot();
      parts = geo.fromCoco(polygons).filter((p) => p.length >= 3).map((points) => ({ points, closed: true }));
      selected = null;
      commit(before);
    },
    // Hand the pointer to another interaction (e.g. click-to-mask); drawing() takes it back.
    use(interaction) {
      surface.use(interaction);
    },
    drawing() {
      surface.use(drawInteraction);
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
      surface.destroy();
    },
  };

  ready = true;
  render();
  return editor;
}

// The editor's keys on the page's one keyboard map; `current` returns the editor on screen.
export function bindEditorKeys(keymap, current) {
  const on = (action) => () => current() && action(current());
  keymap
    .bind(["Enter", "C"], "close the outline", on((e) => e.close()), {
      when: (ev) => Boolean(current()) && !(ev.target.closest && ev.target.closest("button, a, summary")),
    })
    .bind(["N"], "new part (object split by occlusion)", on((e) => e.close()))
    .bind(["Delete", "Backspace"], "delete the selected point", on((e) => e.deleteSelected()))
    .bind(["Escape"], "drop the outline being traced", on((e) => e.dropOpenPart()));
  bindHistoryKeys(keymap, () => current() && current().surface);
  bindViewKeys(keymap, () => current() && current().surface);
  return keymap;
}

export { Keymap };
