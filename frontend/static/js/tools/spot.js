// Instance spotting tool (thesis §2.4.2, Fig. A.3b): a cross on every instance of one
// category, at most N; crosses can be moved and undone; a magnifying glass doubles the
// resolution around the pointer; a blinking icon shows the instance found by labeling.
// Positions are sent in image pixels (the API's image.width x image.height).
import { api, uuid } from "../api.js";

const root = document.getElementById("spotting-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const photo = $("photo");
const layer = $("crosses");
const lens = $("lens");
const ZOOM = 2;

let lease = null;
let maxSpots = 10;
let crosses = [];   // [{x, y}] in image pixels
let history = [];   // undo stack: {type: "add"} | {type: "move", index, from}
let magnifier = false;
let startedAt = 0;

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// ---- geometry: screen <-> image pixels ------------------------------------------------

function toImage(clientX, clientY) {
  const rect = photo.getBoundingClientRect();
  const { width, height } = lease.task.image;
  const x = Math.min(width, Math.max(0, ((clientX - rect.left) / rect.width) * width));
  const y = Math.min(height, Math.max(0, ((clientY - rect.top) / rect.height) * height));
  return { x: Math.round(x * 100) / 100, y: Math.round(y * 100) / 100 };
}

function percent(point) {
  const { width, height } = lease.task.image;
  return { left: `${(point.x / width) * 100}%`, top: `${(point.y / height) * 100}%` };
}

// ---- drawing --------------------------------------------------------------------------

function render() {
  for (const old of layer.querySelectorAll(".cross")) old.remove();
  crosses.forEach((point, index) => {
    const cross = document.createElement("div");
    cross.className = "cross";
    cross.dataset.index = index;
    cross.title = "drag to move";
    Object.assign(cross.style, percent(point));
    cross.addEventListener("pointerdown", (event) => startMove(event, index));
    layer.append(cross);
  });
  $("count").textContent = `${crosses.length} / ${maxSpots}`;
  $("submit").disabled = crosses.length === 0;
  $("none").disabled = crosses.length > 0;
  $("undo").disabled = history.length === 0;
}

function showPrimed(category) {
  const primed = lease.task.payload.primed || [];
  layer.replaceChildren();
  if (!primed.length) return;
  // Different workers see different labeling positions (one of them each, as in COCO).
  const where = primed[lease.id % primed.length];
  const marker = document.createElement("div");
  marker.className = "primed";
  marker.dataset.testid = "primed";
  Object.assign(marker.style, percent(where));
  if (category.url) {
    const img = document.createElement("img");
    img.src = category.url;
    img.alt = `${category.name} found here`;
    marker.append(img);
  } else {
    marker.textContent = category.chip;
  }
  layer.append(marker);
}

// ---- placing, moving, undoing ------------------------------------------------------------

function place(event) {
  if (event.button !== 0 || event.target.closest(".cross")) return;
  if (crosses.length >= maxSpots) {
    say(`At most ${maxSpots} crosses: move one instead, or undo.`, true);
    return;
  }
  crosses.push(toImage(event.clientX, event.clientY));
  history.push({ type: "add" });
  say(`${crosses.length} placed.`);
  render();
}

function startMove(event, index) {
  event.preventDefault();
  event.stopPropagation();
  const from = { ...crosses[index] };
  const cross = event.currentTarget;
  cross.setPointerCapture?.(event.pointerId);
  let moved = false;
  const move = (e) => {
    moved = true;
    crosses[index] = toImage(e.clientX, e.clientY);
    Object.assign(cross.style, percent(crosses[index]));
    updateLens(e);
  };
  const up = () => {
    cross.removeEventListener("pointermove", move);
    cross.removeEventListener("pointerup", up);
    if (moved) history.push({ type: "move", index, from });
    render();
  };
  cross.addEventListener("pointermove", move);
  cross.addEventListener("pointerup", up);
}

function undo() {
  const last = history.pop();
  if (!last) return;
  if (last.type === "add") crosses.pop();
  if (last.type === "move") crosses[last.index] = last.from;
  render();
}

// ---- magnifying glass: the photo at twice the displayed size around the pointer ----------

function setMagnifier(on) {
  magnifier = on;
  $("magnifier").setAttribute("aria-pressed", String(on));
  $("magnifier").classList.toggle("on", on);
  if (!on) lens.hidden = true;
}

function updateLens(event) {
  if (!magnifier) return;
  const rect = photo.getBoundingClientRect();
  const px = event.clientX - rect.left;
  const py = event.clientY - rect.top;
  if (px < 0 || py < 0 || px > rect.width || py > rect.height) {
    lens.hidden = true;
    return;
  }
  lens.hidden = false;
  const size = lens.offsetWidth || 160;
  lens.style.left = `${px}px`;
  lens.style.top = `${py}px`;
  lens.style.backgroundImage = `url("${photo.currentSrc || photo.src}")`;
  lens.style.backgroundSize = `${rect.width * ZOOM}px ${rect.height * ZOOM}px`;
  lens.style.backgroundPosition = `${size / 2 - px * ZOOM}px ${size / 2 - py * ZOOM}px`;
  lens.dataset.zoom = String(ZOOM);
}

// ---- task flow ------------------------------------------------------------------------------

async function loadNext() {
  $("work").hidden = true;
  say("Loading the next photo…");
  try {
    lease = await api(root.dataset.nextUrl, { stage: "spotting" });
  } catch (error) {
    say(error.message, true);
    return;
  }
  if (!lease) {
    say("No more photos to spot for now. Thank you!");
    return;
  }
  const task = lease.task;
  maxSpots = task.payload.max_spots || 10;
  crosses = [];
  history = [];
  const panel = await api(root.dataset.panelUrl.replace("{project}", task.project));
  const category =
    panel.supercategories.flatMap((g) => g.categories).find((c) => c.id === task.category.id) ||
    { name: task.category.name, chip: task.category.name.slice(0, 2), url: null };
  $("category").textContent = task.category.name;
  $("max").textContent = maxSpots;
  photo.src = task.image.url;
  photo.style.aspectRatio = `${task.image.width} / ${task.image.height}`;
  showPrimed(category);
  $("work").hidden = false;
  say(`Photo ${task.image.id}: click on every ${task.category.name}.`);
  startedAt = performance.now();
  render();
}

async function send(answer) {
  const body = {
    answer,
    idempotency_key: uuid(),
    time_spent_seconds: Math.round((performance.now() - startedAt) / 100) / 10,
  };
  try {
    await api(root.dataset.submitUrl.replace("{id}", lease.id), body);
  } catch (error) {
    say(`Not saved: ${error.message}`, true);
    return;
  }
  await loadNext();
  if (!lease) say("Saved. No more photos to spot for now. Thank you!");
}

layer.addEventListener("pointerdown", place);
root.querySelector(".photo-wrap").addEventListener("pointermove", updateLens);
root.querySelector(".photo-wrap").addEventListener("pointerleave", () => (lens.hidden = true));
$("undo").addEventListener("click", undo);
$("magnifier").addEventListener("click", () => setMagnifier(!magnifier));
$("submit").addEventListener("click", () => crosses.length && send({ spots: crosses }));
$("none").addEventListener("click", () => crosses.length === 0 && send({ none: true }));
document.addEventListener("keydown", (event) => {
  if (!lease || event.target.closest("input, textarea")) return;
  if (event.key === "z" && (event.ctrlKey || event.metaKey)) undo();
  else if (event.key === "u" && !event.ctrlKey) undo();
  else if (event.key === "m" && !event.ctrlKey) setMagnifier(!magnifier);
});

export const spotTool = { name: "spot", shortcut: "s", place, undo, answer: () => crosses };
loadNext();
