// The verification grid (thesis appendix A, Fig. A.3d): a grid of masks, each cell the
// object's region of the photo with its mask outlined; the worker clicks the poor ones.
// Cells are identified only by opaque ids from the task payload.
import { api, uuid } from "../api.js";

const root = document.getElementById("verify-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
let lease = null;
let startedAt = 0;
let busy = false;

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function poorCells() {
  return [...$("grid").querySelectorAll('.verify-cell[aria-pressed="true"]')].map((c) => c.dataset.cellId);
}

function updateCount() {
  const n = poorCells().length;
  $("count").textContent = `${n} marked poor`;
}

function toggle(cell) {
  cell.setAttribute("aria-pressed", cell.getAttribute("aria-pressed") === "true" ? "false" : "true");
  updateCount();
}

function showGrid(task) {
  const grid = $("grid");
  grid.replaceChildren();
  for (const cell of task.payload.cells) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "verify-cell";
    button.dataset.cellId = cell.id;
    button.dataset.testid = "cell";
    button.setAttribute("aria-pressed", "false");
    const img = document.createElement("img");
    img.src = root.dataset.pictureUrl.replace("{id}", encodeURIComponent(cell.id));
    img.alt = `${cell.category} segmentation`;
    img.loading = "lazy";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = cell.category;
    button.append(img, label);
    button.addEventListener("click", () => toggle(button));
    grid.appendChild(button);
  }
  updateCount();
}

async function loadNext() {
  lease = null;
  $("work").hidden = true;
  try {
    lease = await api(root.dataset.nextUrl, { stage: "verification" });
  } catch (error) {
    say(error.message, true);
    return;
  }
  if (!lease) {
    say("No grids to verify right now. Thank you!");
    root.dataset.state = "empty";
    return;
  }
  showGrid(lease.task);
  startedAt = performance.now();
  $("work").hidden = false;
  root.dataset.state = "ready";
  say(`Grid of ${lease.task.payload.cells.length} segmentations.`);
}

async function submit() {
  if (!lease || busy) return;
  busy = true;
  $("submit").disabled = true;
  try {
    await api(root.dataset.submitUrl.replace("{id}", lease.id), {
      answer: { poor: poorCells() },
      idempotency_key: uuid(),
      time_spent_seconds: (performance.now() - startedAt) / 1000,
    });
    root.dataset.submitted = String(Number(root.dataset.submitted || 0) + 1);
    say("Thanks, your grid was saved.");
    await loadNext();
  } catch (error) {
    say(error.message, true);
  } finally {
    busy = false;
    $("submit").disabled = false;
  }
}

$("submit").addEventListener("click", submit);
loadNext();
