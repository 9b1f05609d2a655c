// Crowd painting (thesis appendix A, Fig. A.3e): paint every remaining pixel of a category
// with a round brush, erase with the eraser, fill large areas with the lasso, zoom and pan,
// undo and redo, over the instances already outlined. The mask is one byte per photo pixel
// (geometry/mask.js), so what is shown is exactly what is submitted: a PNG of the photo's
// size, painted pixels opaque, the rest transparent. Only the rectangle a stroke touched
// is redrawn; zooming and panning move the layers without redrawing them.
import { api, createLeaseLoop } from "../api.js";
import { Keymap } from "../canvas/keymap.js";
import { bindHistoryKeys, bindViewKeys, createSurface, drawOutlines, svgElement } from "../canvas/surface.js";
import * as M from "../geometry/mask.js";

const root = document.getElementById("crowd-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const COLOUR = [230, 20, 60];

let surface = null;
let mask = null;
let pixels = null; // ImageData of the paint layer, kept between redraws
let context = null;
let mode = "brush"; // brush | eraser | lasso
let stroke = null; // {before: Uint8Array, touched: rect, last: point, lasso: [points]}
let painted = 0;
const sizes = { brush: 20, eraser: 20 }; // each keeps its own size, in photo pixels

const keymap = new Keymap();

function radius() {
  return Number($("size").value) / 2;
}

// Redraw only a rectangle of the paint layer from the mask.
function redraw(r) {
  if (!r || !mask) return;
  const { width, data } = mask;
  const out = pixels.data;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      const i = y * width + x;
      const o = i * 4;
      if (data[i]) {
        out[o] = COLOUR[0];
        out[o + 1] = COLOUR[1];
        out[o + 2] = COLOUR[2];
        out[o + 3] = 255;
      } else out[o + 3] = 0;
    }
  }
  context.putImageData(pixels, 0, 0, r.x, r.y, r.width, r.height);
}

function redrawAll() {
  redraw({ x: 0, y: 0, width: mask.width, height: mask.height });
}

function updateCount() {
  painted = mask ? M.countPainted(mask) : 0;
  root.dataset.painted = String(painted);
  $("count").textContent = `${painted} px painted`;
  $("submit").disabled = painted === 0 || loop.busy;
  $("undo").disabled = !surface || !surface.history.canUndo;
  $("redo").disabled = !surface || !surface.history.canRedo;
  loop.saveDraft();
}

function setMode(next) {
  mode = next;
  root.dataset.mode = next;
  if (next in sizes) setSize(sizes[next]);
  for (const name of ["brush", "eraser", "lasso"]) {
    $(name).classList.toggle("active", name === next);
    $(name).setAttribute("aria-pressed", String(name === next));
  }
  if (surface) surface.layers.cursor.replaceChildren();
}

function setSize(value) {
  const size = Math.max(1, Math.min(100, Math.round(value)));
  if (mode in sizes) sizes[mode] = size;
  $("size").value = String(size);
  $("size-value").textContent = String(size);
}

// ---- the painting interaction -------------------------------------------------------------

function showCursor(p) {
  if (mode === "lasso") return;
  surface.layers.cursor.replaceChildren(
    svgElement("circle", { cx: p.x, cy: p.y, r: radius(), class: `brush-cursor ${mode}`, "vector-effect": "non-scaling-stroke" }),
  );
}

function showLasso() {
  const points = stroke.lasso.map((p) => `${p.x},${p.y}`).join(" ");
  surface.layers.cursor.replaceChildren(
    svgElement("polygon", { points, class: "lasso", "vector-effect": "non-scaling-stroke", "data-testid": "lasso" }),
  );
}

function endStroke(commit) {
  if (!stroke) return;
  let touched = stroke.touched;
  if (commit && mode === "lasso" && stroke.lasso.length >= 3) {
    touched = M.unionRect(touched, M.fillPolygon(mask, stroke.lasso, 1));
    redraw(touched);
  }
  surface.layers.cursor.replaceChildren();
  if (touched) {
    const before = M.copyRect({ width: mask.width, data: stroke.before }, touched);
    const after = M.copyRect(mask, touched);
    const r = touched;
    surface.history.push({
      label: mode,
      undo: () => { M.pasteRect(mask, r, before); redraw(r); updateCount(); },
      redo: () => { M.pasteRect(mask, r, after); redraw(r); updateCount(); },
    });
  }
  stroke = null;
  updateCount();
}

const paintInteraction = {
  down(p) {
    if (!mask) return;
    stroke = { before: mask.data.slice(), touched: null, last: p, lasso: [p] };
    if (mode !== "lasso") {
      stroke.touched = M.stamp(mask, p.x, p.y, radius(), mode === "brush" ? 1 : 0);
      redraw(stroke.touched);
    }
  },
  move(p) {
    if (!stroke) return;
    if (mode === "lasso") {
      const last = stroke.lasso[stroke.lasso.length - 1];
      if (Math.hypot(p.x - last.x, p.y - last.y) * surface.view.scale >= 3) stroke.lasso.push(surface.clamp(p));
      showLasso();
      return;
    }
    const r = M.strokeSegment(mask, stroke.last, p, radius(), mode === "brush" ? 1 : 0);
    stroke.last = p;
    stroke.touched = M.unionRect(stroke.touched, r);
    redraw(r);
    showCursor(p);
  },
  up() {
    endStroke(true);
  },
  cancel() {
    // A pinch started: put the pixels back as they were.
    if (stroke && stroke.touched) {
      M.pasteRect(mask, stroke.touched, M.copyRect({ width: mask.width, data: stroke.before }, stroke.touched));
      redraw(stroke.touched);
    }
    stroke = null;
    surface.layers.cursor.replaceChildren();
  },
  hover(p) {
    showCursor(p);
  },
  leave() {
    surface.layers.cursor.replaceChildren();
  },
};

// ---- keys and buttons ---------------------------------------------------------------------

keymap
  .bind(["B"], "brush", () => setMode("brush"))
  .bind(["E"], "eraser", () => setMode("eraser"))
  .bind(["L"], "lasso: draw around an area to fill it", () => setMode("lasso"))
  .bind(["["], "smaller brush", () => setSize(Number($("size").value) - 2))
  .bind(["]"], "larger brush", () => setSize(Number($("size").value) + 2));

for (const name of ["brush", "eraser", "lasso"]) $(name).addEventListener("click", () => setMode(name));
$("size").addEventListener("input", () => setSize(Number($("size").value)));
$("undo").addEventListener("click", () => surface && surface.history.undo());
$("redo").addEventListener("click", () => surface && surface.history.redo());
$("zoom-in").addEventListener("click", () => surface && surface.view.zoomIn());
$("zoom-out").addEventListener("click", () => surface && surface.view.zoomOut());
$("fit").addEventListener("click", () => surface && surface.view.fit());
$("clear").addEventListener("click", () => {
  if (!mask || !painted) return;
  const before = mask.data.slice();
  mask.data.fill(0);
  const after = mask.data.slice();
  surface.history.push({
    label: "clear",
    undo: () => { mask.data.set(before); redrawAll(); updateCount(); },
    redo: () => { mask.data.set(after); redrawAll(); updateCount(); },
  });
  redrawAll();
  updateCount();
});

// ---- the task ------------------------------------------------------------------------------

async function showTask(lease) {
  const task = lease.task;
  if (surface) surface.destroy();
  surface = null;
  $("work").hidden = false;
  $("category").textContent = task.category.name;
  surface = createSurface($("stage"), {
    width: task.image.width,
    height: task.image.height,
    imageUrl: task.image.url,
    alt: "photo to paint",
    layers: [["segmented", "svg"], ["paint", "canvas"], ["cursor", "svg"]],
    onView: () => updateButtons(),
  });
  surface.layers.paint.dataset.testid = "paint";
  surface.use(paintInteraction);
  mask = M.createMask(task.image.width, task.image.height);
  context = surface.layers.paint.getContext("2d");
  pixels = context.createImageData(mask.width, mask.height);
  updateCount();
  surface.container.focus({ preventScroll: true });
  const text = `Paint the remaining ${task.category.name} pixels (${task.payload.segmented || 0} already outlined).`;
  try {
    const data = await api(root.dataset.masksUrl.replace("{id}", task.image.id));
    showSegmented(data.masks.filter((m) => m.category_id === task.category.id));
    loop.say(text);
  } catch (error) {
    // The outlines are a help, not the task: paint on, knowing they are missing.
    loop.say(`${text} The blue outlines could not be loaded (${error.message}); reload the page to see them.`, true);
  }
}

function showSegmented(masks) {
  drawOutlines(surface.layers.segmented, masks.map((m) => ({ polygons: m.polygons, category: String(m.category_id) })), "segmented", "segmented-instance");
}

function updateButtons() {
  if (!surface) return;
  $("undo").disabled = !surface.history.canUndo;
  $("redo").disabled = !surface.history.canRedo;
  $("zoom").textContent = `${Math.round(surface.view.zoom * 100)} %`;
}

const loop = createLeaseLoop({
  root,
  stage: "crowd",
  status: $("status"),
  nextUrl: root.dataset.nextUrl,
  submitUrl: root.dataset.submitUrl,
  emptyText: "Nothing to paint right now. Thank you!",
  onLease: showTask,
  onEmpty: () => {
    $("work").hidden = true;
  },
  getDraft: () => (mask && painted ? M.encodeRle(mask) : null),
  restoreDraft: (rle) => {
    const restored = M.decodeRle(rle);
    if (restored.width !== mask.width || restored.height !== mask.height) return;
    const before = mask.data.slice();
    mask.data.set(restored.data);
    const after = mask.data.slice();
    surface.history.push({
      label: "restore",
      undo: () => { mask.data.set(before); redrawAll(); updateCount(); },
      redo: () => { mask.data.set(after); redrawAll(); updateCount(); },
    });
    redrawAll();
    updateCount();
  },
});

$("submit").addEventListener("click", () => {
  if (!mask || !painted) return;
  redrawAll(); // the layer holds exactly the mask: opaque painted pixels, transparent rest
  loop.submit({ png: surface.layers.paint.toDataURL("image/png") });
});
$("none-left").addEventListener("click", () => loop.submit({ none_left: true }));

// The one keyboard map: painting keys, then the view and history keys; shown on screen.
bindHistoryKeys(keymap, () => surface);
bindViewKeys(keymap, () => surface);
keymap.renderInto($("shortcuts"), "Keys");
keymap.listen();

window.paintTool = { paintedPixels: () => (mask ? M.countPainted(mask) : 0), surface: () => surface };
setMode("brush");
loop.next();
