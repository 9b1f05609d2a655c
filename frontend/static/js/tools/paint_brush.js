// Crowd painting (thesis appendix A, Fig. A.3e): paint every remaining pixel of a category
// with a round brush of adjustable size, erase with the eraser, see the instances already
// outlined. The mask lives in a Uint8Array at the photo's resolution (one byte per pixel, no
// anti-aliasing), so what is shown is exactly what is submitted: a PNG of the photo's size,
// painted pixels opaque, the rest transparent.
import { api, uuid } from "../api.js";

const root = document.getElementById("crowd-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const canvas = $("paint");
const context = canvas.getContext("2d");
let lease = null;
let mask = null; // Uint8Array width*height, 1 = painted
let width = 0;
let height = 0;
let mode = "brush";
let last = null; // last point of the stroke, image pixels
let startedAt = 0;
let busy = false;

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function brushRadius() {
  return Number($("size").value) / 2;
}

// Pure painting on the mask --------------------------------------------------------------------

// Set (value 1) or clear (0) every pixel whose centre lies within `radius` of (cx, cy).
function stamp(cx, cy, radius, value) {
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(width - 1, Math.ceil(cx + radius));
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(height - 1, Math.ceil(cy + radius));
  const r2 = radius * radius;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy <= r2) mask[y * width + x] = value;
    }
  }
}

// A stroke segment: stamps along the line, close enough that the disks overlap.
function strokeTo(point, value) {
  const radius = brushRadius();
  const from = last || point;
  const steps = Math.max(1, Math.ceil(Math.hypot(point.x - from.x, point.y - from.y) / Math.max(0.5, radius / 2)));
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    stamp(from.x + (point.x - from.x) * t, from.y + (point.y - from.y) * t, radius, value);
  }
  last = point;
}

function paintedPixels() {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

// Display ------------------------------------------------------------------------------------

function render() {
  const pixels = context.createImageData(width, height);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) {
      pixels.data[i * 4] = 230;
      pixels.data[i * 4 + 1] = 20;
      pixels.data[i * 4 + 2] = 60;
      pixels.data[i * 4 + 3] = 255;
    }
  }
  context.putImageData(pixels, 0, 0);
  const n = paintedPixels();
  root.dataset.painted = String(n);
  $("count").textContent = `${n} px painted`;
  $("submit").disabled = busy || n === 0;
}

function imagePoint(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * width) / box.width,
    y: ((event.clientY - box.top) * height) / box.height,
  };
}

function setMode(next) {
  mode = next;
  root.dataset.mode = next;
  $("brush").classList.toggle("active", next === "brush");
  $("eraser").classList.toggle("active", next === "eraser");
}

function setSize(value) {
  const size = Math.max(1, Math.min(100, value));
  $("size").value = String(size);
  $("size-value").textContent = String(size);
}

canvas.addEventListener("pointerdown", (event) => {
  if (!mask || event.button !== 0) return;
  canvas.setPointerCapture(event.pointerId);
  last = null;
  strokeTo(imagePoint(event), mode === "brush" ? 1 : 0);
  render();
});
canvas.addEventListener("pointermove", (event) => {
  if (!mask || last === null || !(event.buttons & 1)) return;
  strokeTo(imagePoint(event), mode === "brush" ? 1 : 0);
  render();
});
const endStroke = () => {
  last = null;
};
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

$("brush").addEventListener("click", () => setMode("brush"));
$("eraser").addEventListener("click", () => setMode("eraser"));
$("size").addEventListener("input", () => setSize(Number($("size").value)));
$("clear").addEventListener("click", () => {
  if (!mask) return;
  mask.fill(0);
  render();
});
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || !mask) return;
  if (event.key === "b") setMode("brush");
  else if (event.key === "e") setMode("eraser");
  else if (event.key === "[") setSize(Number($("size").value) - 2);
  else if (event.key === "]") setSize(Number($("size").value) + 2);
});

// Already segmented instances, outlined in blue under the painting.
async function showSegmented(task) {
  const svg = $("segmented");
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const data = await api(root.dataset.masksUrl.replace("{id}", task.image.id));
  for (const item of data.masks) {
    if (item.category_id !== task.category.id) continue;
    for (const part of item.polygons) {
      const shape = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
      const points = [];
      for (let i = 0; i + 1 < part.length; i += 2) points.push(`${part[i]},${part[i + 1]}`);
      shape.setAttribute("points", points.join(" "));
      shape.dataset.testid = "segmented-instance";
      svg.appendChild(shape);
    }
  }
}

async function loadNext() {
  lease = null;
  mask = null;
  $("work").hidden = true;
  try {
    lease = await api(root.dataset.nextUrl, { stage: "crowd" });
  } catch (error) {
    say(error.message, true);
    return;
  }
  if (!lease) {
    say("Nothing to paint right now. Thank you!");
    root.dataset.state = "empty";
    return;
  }
  const task = lease.task;
  width = task.image.width;
  height = task.image.height;
  canvas.width = width;
  canvas.height = height;
  mask = new Uint8Array(width * height);
  $("category").textContent = task.category.name;
  const photo = $("photo");
  photo.src = task.image.url || "";
  photo.width = width;
  photo.height = height;
  $("stage").style.width = `${Math.min(width, 900)}px`;
  await showSegmented(task).catch(() => undefined);
  render();
  startedAt = performance.now();
  $("work").hidden = false;
  root.dataset.state = "ready";
  say(`Paint the remaining ${task.category.name} pixels (${task.payload.segmented || 0} already outlined).`);
}

async function send(answer) {
  if (!lease || busy) return;
  busy = true;
  $("submit").disabled = true;
  try {
    await api(root.dataset.submitUrl.replace("{id}", lease.id), {
      answer,
      idempotency_key: uuid(),
      time_spent_seconds: (performance.now() - startedAt) / 1000,
    });
    root.dataset.submitted = String(Number(root.dataset.submitted || 0) + 1);
    say("Thanks, your painting was saved.");
    busy = false;
    await loadNext();
  } catch (error) {
    say(error.message, true);
  } finally {
    busy = false;
    if (mask) render();
  }
}

$("submit").addEventListener("click", () => {
  render(); // the canvas holds exactly the mask: opaque painted pixels, transparent rest
  send({ png: canvas.toDataURL("image/png") });
});
$("none-left").addEventListener("click", () => send({ none_left: true }));

// For tests and the curious: the painted pixel count.
window.paintTool = { paintedPixels: () => (mask ? paintedPixels() : 0) };
loadNext();
