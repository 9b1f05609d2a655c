// Instance spotting (thesis §2.4.2, Fig. A.3b): a cross on every instance of one category,
// at most N; crosses can be moved, removed, undone and redone; a magnifying glass doubles
// the resolution around the pointer; a blinking icon shows the instance found by labeling.
// Keyboard path: the cursor follows the pointer or moves with the arrows; X or Space puts
// a cross there. Positions are sent in image pixels (the API's image.width x height).
import { api, createLeaseLoop } from "../api.js";
import { Keymap } from "../canvas/keymap.js";
import { bindHistoryKeys, bindViewKeys, createSurface, svgElement } from "../canvas/surface.js";

const root = document.getElementById("spotting-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const lens = $("lens");
const ZOOM = 2;
const CROSS_PX = 11; // half the cross, screen pixels
const GRAB_PX = 12; // how close a press must be to a cross to move it
const STEP_PX = 12; // a cursor step, screen pixels
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

let surface = null;
let lease = null;
let category = null;
let maxSpots = 10;
let crosses = []; // [{x, y}] image pixels
let cursor = null; // keyboard cursor, image pixels
let magnifier = false;
let moving = null; // {index, from}
let suggestions = []; // [{x, y, score}] model proposal centres from the payload
let showSuggestions = true;

const round2 = (v) => Math.round(v * 100) / 100;
const point = (p) => ({ x: round2(p.x), y: round2(p.y) });

// ---- drawing --------------------------------------------------------------------------

function crossShape(p, s, attributes) {
  const r = CROSS_PX / s;
  const g = svgElement("g", attributes);
  g.append(
    svgElement("line", { x1: p.x - r, y1: p.y, x2: p.x + r, y2: p.y, "vector-effect": "non-scaling-stroke" }),
    svgElement("line", { x1: p.x, y1: p.y - r, x2: p.x, y2: p.y + r, "vector-effect": "non-scaling-stroke" }),
  );
  return g;
}

function drawCrosses() {
  if (!surface) return;
  const s = surface.view.scale;
  surface.layers.crosses.replaceChildren(
    ...crosses.map((p, index) => crossShape(p, s, { class: "cross", "data-index": index, "data-x": p.x, "data-y": p.y })),
  );
  surface.layers.cursor.replaceChildren(...(cursor ? [crossShape(cursor, s, { class: "cursor", "data-testid": "cursor" })] : []));
}

// Model suggestions: faint rings the worker may accept (click on one, or A) or ignore. A
// suggestion with a cross on it is accepted and no longer drawn; undo brings it back.
function openSuggestions() {
  if (!surface) return [];
  const reach = GRAB_PX / surface.view.scale;
  return suggestions.filter((q) => !crosses.some((c) => Math.hypot(c.x - q.x, c.y - q.y) <= reach));
}

function drawSuggestions() {
  if (!surface) return;
  const r = CROSS_PX / surface.view.scale;
  const shown = showSuggestions ? openSuggestions() : [];
  surface.layers.suggestions.replaceChildren(
    ...shown.map((q) => svgElement("circle", {
      cx: q.x, cy: q.y, r, class: "suggestion", "data-testid": "suggestion", "data-x": q.x, "data-y": q.y,
      "vector-effect": "non-scaling-stroke",
    })),
  );
  const box = $("suggestions");
  box.hidden = suggestions.length === 0;
  if (suggestions.length) {
    $("suggestion-count").textContent = `${openSuggestions().length} of ${suggestions.length}`;
    $("suggestions-toggle").textContent = showSuggestions ? "Hide suggestions" : "Show suggestions";
    $("suggestions-toggle").setAttribute("aria-pressed", String(!showSuggestions));
  }
}

function suggestionNear(p, anyDistance = false) {
  if (!showSuggestions) return null;
  const reach = anyDistance ? Infinity : GRAB_PX / surface.view.scale;
  let best = null;
  let bestD = Infinity;
  for (const q of openSuggestions()) {
    const d = Math.hypot(p.x - q.x, p.y - q.y);
    if (d <= reach && d < bestD) {
      best = q;
      bestD = d;
    }
  }
  return best;
}

function acceptSuggestion(p) {
  const q = suggestionNear(p || { x: surface.width / 2, y: surface.height / 2 }, true);
  if (!q) {
    loop.say("No suggestion left to accept.", true);
    return;
  }
  cursor = point(q);
  place(q);
}

function drawPrimed() {
  const layer = surface.layers.primed;
  layer.replaceChildren();
  const primed = lease.task.payload.primed || [];
  if (!primed.length) return;
  // Different workers see different labeling positions (one of them each, as in COCO).
  const where = primed[lease.id % primed.length];
  const size = 40 / surface.view.scale;
  const g = svgElement("g", { class: "primed", "data-testid": "primed" });
  if (category.url) {
    g.append(svgElement("image", { href: category.url, x: where.x - size / 2, y: where.y - size / 2, width: size, height: size }));
  } else {
    g.append(
      svgElement("circle", { cx: where.x, cy: where.y, r: size / 2, class: "chip-dot" }),
    );
    const text = svgElement("text", { x: where.x, y: where.y, "font-size": size / 2.5, "text-anchor": "middle", "dominant-baseline": "central" });
    text.textContent = category.chip || category.name.slice(0, 2);
    g.append(text);
  }
  layer.append(g);
}

function render() {
  drawCrosses();
  drawSuggestions();
  $("count").textContent = `${crosses.length} / ${maxSpots}`;
  $("submit").disabled = crosses.length === 0;
  $("none").disabled = crosses.length > 0;
  $("undo").disabled = !surface || !surface.history.canUndo;
  $("redo").disabled = !surface || !surface.history.canRedo;
  loop.saveDraft();
}

// ---- placing, moving, removing (each one command on the surface's undo stack) -------------

function nearest(p) {
  const reach = GRAB_PX / surface.view.scale;
  let best = -1;
  let bestD = Infinity;
  crosses.forEach((q, i) => {
    const d = Math.hypot(p.x - q.x, p.y - q.y);
    if (d <= reach && d < bestD) {
      best = i;
      bestD = d;
    }
  });
  return best;
}

function place(p) {
  if (crosses.length >= maxSpots) {
    loop.say(`At most ${maxSpots} crosses: move one instead, or undo.`, true);
    return;
  }
  const at = point(surface.clamp(p));
  crosses.push(at);
  surface.history.push({
    label: "add",
    undo: () => { crosses.pop(); render(); },
    redo: () => { crosses.push(at); render(); },
  });
  loop.say(`${crosses.length} placed.`);
  render();
}

function remove(index) {
  if (index < 0) return;
  const [gone] = crosses.splice(index, 1);
  surface.history.push({
    label: "remove",
    undo: () => { crosses.splice(index, 0, gone); render(); },
    redo: () => { crosses.splice(index, 1); render(); },
  });
  render();
}

const spotInteraction = {
  down(p, event) {
    const index = nearest(p);
    if (index >= 0 && event.altKey) remove(index);
    else if (index >= 0) moving = { index, from: crosses[index], moved: false };
    else place(suggestionNear(p) || p);
  },
  move(p, event) {
    if (!moving) return;
    moving.moved = true;
    crosses[moving.index] = point(surface.clamp(p));
    drawCrosses();
    updateLens(p, event);
  },
  up() {
    if (moving && moving.moved) {
      const { index, from } = moving;
      const to = crosses[index];
      surface.history.push({
        label: "move",
        undo: () => { crosses[index] = from; render(); },
        redo: () => { crosses[index] = to; render(); },
      });
    }
    moving = null;
    render();
  },
  context(p, event) {
    event.preventDefault();
    remove(nearest(p));
  },
  hover(p, event) {
    cursor = point(surface.clamp(p));
    drawCrosses();
    updateLens(p, event);
  },
  leave() {
    lens.hidden = true;
  },
};

// ---- magnifying glass: the photo at twice the displayed size around the pointer ----------

function setMagnifier(on) {
  magnifier = on;
  $("magnifier").setAttribute("aria-pressed", String(on));
  $("magnifier").classList.toggle("on", on);
  if (!on) lens.hidden = true;
}

function updateLens(p, event) {
  if (!magnifier || !surface) return;
  const wrap = lens.parentElement.getBoundingClientRect();
  const client = event ? { x: event.clientX, y: event.clientY } : surface.toClient(p);
  if (!surface.overPhoto(client.x, client.y)) {
    lens.hidden = true;
    return;
  }
  lens.hidden = false;
  const size = lens.offsetWidth || 160;
  const scale = surface.view.scale * ZOOM;
  lens.style.left = `${client.x - wrap.left}px`;
  lens.style.top = `${client.y - wrap.top}px`;
  lens.style.backgroundImage = `url("${surface.photo.currentSrc || surface.photo.src}")`;
  lens.style.backgroundSize = `${surface.width * scale}px ${surface.height * scale}px`;
  lens.style.backgroundPosition = `${size / 2 - p.x * scale}px ${size / 2 - p.y * scale}px`;
  lens.dataset.zoom = String(ZOOM);
}

function setSuggestionsShown(on) {
  showSuggestions = on;
  drawSuggestions();
}

// ---- the keyboard map ---------------------------------------------------------------------

function moveCursor(dx, dy) {
  if (!surface) return;
  const step = STEP_PX / surface.view.scale;
  const from = cursor || { x: surface.width / 2, y: surface.height / 2 };
  cursor = point(surface.clamp({ x: from.x + dx * step, y: from.y + dy * step }));
  surface.view.reveal(cursor);
  drawCrosses();
  if (magnifier) updateLens(cursor, null);
}

const keymap = new Keymap();
const has = () => Boolean(surface);
keymap
  .bind(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"], "move the cursor", (e) => moveCursor(...ARROWS[e.key]), { when: has })
  .bind(["X", "Space"], "put a cross at the cursor (it follows the pointer)", () => {
    if (!cursor) moveCursor(0, 0);
    place(cursor);
  }, { when: (e) => has() && !(e.target.closest && e.target.closest("button, a, summary")) })
  .bind(["Delete", "Backspace"], "remove the cross at the cursor", () => cursor && remove(nearest(cursor)), { when: has })
  .bind(["U"], "undo", () => surface.history.undo(), { when: has })
  .bind(["M"], "magnifying glass on/off", () => setMagnifier(!magnifier))
  .bind(["A"], "accept the suggestion nearest the cursor (a cross on it)", () => acceptSuggestion(cursor), {
    when: () => has() && suggestions.length > 0,
  })
  .bind(["H"], "hide / show the suggestions", () => setSuggestionsShown(!showSuggestions), {
    when: () => has() && suggestions.length > 0,
  })
  .bind(["Enter"], "submit", () => !$("submit").disabled && submit(), {
    when: (e) => has() && !(e.target.closest && e.target.closest("button, a, summary")),
  });
bindHistoryKeys(keymap, () => surface);
bindViewKeys(keymap, () => surface, { arrows: false, space: false });
keymap.renderInto($("shortcuts"), "Keys");
keymap.listen();

// ---- task flow ------------------------------------------------------------------------------

const panels = new Map();
async function categoryFor(task) {
  if (!panels.has(task.project)) panels.set(task.project, await api(root.dataset.panelUrl.replace("{project}", task.project)));
  const panel = panels.get(task.project);
  return (
    panel.supercategories.flatMap((g) => g.categories).find((c) => c.id === task.category.id) ||
    { name: task.category.name, chip: task.category.name.slice(0, 2), url: null }
  );
}

async function showTask(held) {
  lease = held;
  const task = lease.task;
  category = await categoryFor(task);
  maxSpots = task.payload.max_spots || 10;
  crosses = [];
  cursor = null;
  suggestions = (task.payload.suggestions || []).map((q) => ({ ...point(q), score: q.score }));
  showSuggestions = true;
  if (surface) surface.destroy();
  surface = null;
  $("work").hidden = false;
  surface = createSurface($("stage"), {
    width: task.image.width,
    height: task.image.height,
    imageUrl: task.image.url,
    alt: "the photo",
    layers: [["suggestions", "svg"], ["primed", "svg"], ["crosses", "svg"], ["cursor", "svg"]],
    onView: () => {
      if (!surface) return;
      drawCrosses();
      drawSuggestions();
      drawPrimed();
      $("undo").disabled = !surface.history.canUndo;
      $("redo").disabled = !surface.history.canRedo;
    },
  });
  surface.use(spotInteraction);
  $("category").textContent = task.category.name;
  $("max").textContent = maxSpots;
  drawPrimed();
  render();
  surface.container.focus({ preventScroll: true });
  loop.say(
    `Photo ${task.image.id}: put a cross on every ${task.category.name}.` +
      (suggestions.length ? " Faint rings are suggestions: accept those on a " + task.category.name + ", ignore the rest." : ""),
  );
}

const loop = createLeaseLoop({
  root,
  stage: "spotting",
  status: $("status"),
  nextUrl: root.dataset.nextUrl,
  submitUrl: root.dataset.submitUrl,
  emptyText: "No more photos to spot for now. Thank you!",
  onLease: showTask,
  onEmpty: () => {
    $("work").hidden = true;
    lease = null;
    if (surface) surface.destroy();
    surface = null;
  },
  getDraft: () => (crosses.length ? { crosses } : null),
  restoreDraft: (draft) => {
    crosses = (draft.crosses || []).slice(0, maxSpots).map(point);
    surface.history.clear();
    render();
  },
});

function submit() {
  if (crosses.length) loop.submit({ spots: crosses });
}

$("undo").addEventListener("click", () => surface && surface.history.undo());
$("redo").addEventListener("click", () => surface && surface.history.redo());
$("magnifier").addEventListener("click", () => setMagnifier(!magnifier));
$("suggestions-toggle").addEventListener("click", () => setSuggestionsShown(!showSuggestions));
$("zoom-in").addEventListener("click", () => surface && surface.view.zoomIn());
$("zoom-out").addEventListener("click", () => surface && surface.view.zoomOut());
$("fit").addEventListener("click", () => surface && surface.view.fit());
$("submit").addEventListener("click", submit);
$("none").addEventListener("click", () => crosses.length === 0 && loop.submit({ none: true }));

export const spotTool = { name: "spot", shortcut: "s", place, answer: () => crosses };
loop.next();
