// The iconic-filtering grid (stage 1, thesis appendix A, Fig. A.1): mark the iconic or
// invalid photos of a grid of candidates, submit, get the next grid.
// Talks only to the generic task API: POST /api/v1/tasks/next/ and .../submit/.
import { api, uuid } from "../api.js";

const post = (url, body) => api(url, body ?? {});

const root = document.querySelector("[data-iconic-grid]");
const gridEl = root.querySelector("[data-testid=grid]");
const statusEl = root.querySelector("[data-testid=grid-status]");
const nameEl = root.querySelector("[data-testid=grid-name]");
const countEl = root.querySelector("[data-testid=marked-count]");
const submitEl = root.querySelector("[data-testid=submit-grid]");
const thumbUrl = (id) => root.dataset.thumbUrl.replace(/0\.jpg$/, `${id}.jpg`);

const state = { assignment: null, ids: [], marked: new Set(), focus: 0, startedAt: 0, key: "", busy: false };

function showStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle("error", isError);
}

function cells() {
  return [...gridEl.querySelectorAll("button.cell")];
}

function columns() {
  const all = cells();
  if (all.length < 2) return 1;
  const top = all[0].offsetTop;
  const firstOfRow2 = all.findIndex((c) => c.offsetTop !== top);
  return firstOfRow2 === -1 ? all.length : firstOfRow2;
}

function toggle(index) {
  const cell = cells()[index];
  if (!cell) return;
  const id = Number(cell.dataset.candidateId);
  if (state.marked.has(id)) state.marked.delete(id);
  else state.marked.add(id);
  cell.setAttribute("aria-pressed", String(state.marked.has(id)));
  cell.classList.toggle("marked", state.marked.has(id));
  countEl.textContent = String(state.marked.size);
}

function focusCell(index) {
  const all = cells();
  if (!all.length) return;
  state.focus = Math.max(0, Math.min(all.length - 1, index));
  all[state.focus].focus();
}

function render(assignment) {
  state.assignment = assignment;
  state.ids = assignment.task.payload.candidate_ids || [];
  state.marked = new Set();
  state.focus = 0;
  state.key = uuid();
  state.startedAt = performance.now();
  gridEl.replaceChildren(
    ...state.ids.map((id, index) => {
      const item = document.createElement("li");
      const cell = document.createElement("button");
      cell.type = "button";
      cell.className = "cell";
      cell.dataset.candidateId = String(id);
      cell.setAttribute("data-testid", "cell");
      cell.setAttribute("aria-pressed", "false");
      cell.tabIndex = index === 0 ? 0 : -1;
      const img = document.createElement("img");
      img.src = thumbUrl(id);
      img.alt = `candidate ${id}`;
      img.decoding = "async";
      img.width = Number(root.dataset.thumbPx);
      img.height = Number(root.dataset.thumbPx);
      cell.append(img);
      cell.addEventListener("click", () => {
        state.focus = index;
        toggle(index);
      });
      item.append(cell);
      return item;
    }),
  );
  nameEl.textContent = `Grid ${assignment.task.id}`;
  nameEl.dataset.taskId = String(assignment.task.id);
  countEl.textContent = "0";
  submitEl.disabled = false;
  showStatus(`${state.ids.length} photos: mark the iconic or invalid ones, then submit.`);
  focusCell(0);
}

async function loadNext() {
  submitEl.disabled = true;
  try {
    const assignment = await post("/api/v1/tasks/next/", { stage: "collection" });
    if (!assignment) {
      gridEl.replaceChildren();
      nameEl.textContent = "";
      state.assignment = null;
      showStatus("No more grids for you now. Thank you!");
      root.dataset.state = "empty";
      return;
    }
    root.dataset.state = "ready";
    render(assignment);
  } catch (error) {
    showStatus(`Could not load a grid: ${error.message}`, true);
  }
}

function answer() {
  return { marked: [...state.marked].sort((a, b) => a - b) };
}

async function submit() {
  if (!state.assignment || state.busy) return;
  state.busy = true;
  submitEl.disabled = true;
  try {
    // The same key on a retry: the server counts this answer once.
    await post(`/api/v1/assignments/${state.assignment.id}/submit/`, {
      answer: answer(),
      idempotency_key: state.key,
      time_spent_seconds: (performance.now() - state.startedAt) / 1000,
    });
    await loadNext();
  } catch (error) {
    submitEl.disabled = false;
    showStatus(`Not submitted: ${error.message}`, true);
  } finally {
    state.busy = false;
  }
}

function onKey(event) {
  if (!state.assignment) return;
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(), ArrowDown: columns() };
  if (event.key in moves) {
    event.preventDefault();
    focusCell(state.focus + moves[event.key]);
  } else if (event.key === " " || event.key === "x" || event.key === "X") {
    event.preventDefault();
    toggle(state.focus);
  } else if (event.key === "Enter") {
    event.preventDefault();
    submit();
  }
}

gridEl.addEventListener("keydown", onKey);
gridEl.addEventListener("focusin", (event) => {
  const index = cells().indexOf(event.target.closest("button.cell"));
  if (index >= 0) state.focus = index;
});
submitEl.addEventListener("click", submit);

// Each tool exposes the same small surface.
export const iconicGridTool = { name: "iconic-grid", shortcut: "x", onKey, answer };

loadNext();
