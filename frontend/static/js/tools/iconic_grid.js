// The iconic-filtering grid (stage 1, thesis appendix A, Fig. A.1): mark the iconic or
// invalid photos of a grid of candidates, submit, get the next grid. Each photo is shown
// whole (letterboxed: the decision is about its composition) and can be enlarged by
// resting the pointer on it or pressing E.
import { createLeaseLoop } from "../api.js";
import { Keymap, gridMove } from "../canvas/keymap.js";
import { createPreview } from "../canvas/preview.js";

const root = document.querySelector("[data-iconic-grid]");
const gridEl = root.querySelector("[data-testid=grid]");
const nameEl = root.querySelector("[data-testid=grid-name]");
const countEl = root.querySelector("[data-testid=marked-count]");
const submitEl = root.querySelector("[data-testid=submit-grid]");
const preview = createPreview(root.querySelector("[data-testid=preview-host]"));

// The picture of a candidate: its URL from the task payload when the server sends one,
// else the page's thumbnail route.
function thumbUrl(task, id) {
  const urls = task.payload.thumbnail_urls || {};
  return urls[id] || root.dataset.thumbUrl.replace(/0\.jpg$/, `${id}.jpg`);
}

const state = { ids: [], marked: new Set(), focus: 0 };

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

function showMarks() {
  for (const cell of cells()) {
    const on = state.marked.has(Number(cell.dataset.candidateId));
    cell.setAttribute("aria-pressed", String(on));
    cell.classList.toggle("marked", on);
  }
  countEl.textContent = String(state.marked.size);
  loop.saveDraft();
}

function toggle(index) {
  const cell = cells()[index];
  if (!cell) return;
  const id = Number(cell.dataset.candidateId);
  if (state.marked.has(id)) state.marked.delete(id);
  else state.marked.add(id);
  showMarks();
}

function focusCell(index) {
  const all = cells();
  if (!all.length) return;
  state.focus = Math.max(0, Math.min(all.length - 1, index));
  all.forEach((c, i) => (c.tabIndex = i === state.focus ? 0 : -1));
  all[state.focus].focus();
  if (preview.isOpen()) enlarge(false);
}

function enlarge(toggleIt = true) {
  const cell = cells()[state.focus];
  if (!cell) return;
  const img = cell.querySelector("img");
  if (toggleIt) preview.toggle(img.src, img.alt);
  else preview.open(img.src, img.alt);
}

function render(lease) {
  const task = lease.task;
  state.ids = task.payload.candidate_ids || [];
  state.marked = new Set();
  state.focus = 0;
  preview.hide();
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
      img.src = thumbUrl(task, id);
      img.alt = `candidate ${id}`;
      img.decoding = "async";
      img.width = Number(root.dataset.thumbPx);
      img.height = Number(root.dataset.thumbPx);
      cell.append(img);
      cell.addEventListener("click", () => {
        state.focus = index;
        toggle(index);
      });
      preview.hoverable(cell, img.src, img.alt);
      item.append(cell);
      return item;
    }),
  );
  nameEl.textContent = `Grid ${task.id}`;
  nameEl.dataset.taskId = String(task.id);
  countEl.textContent = "0";
  submitEl.disabled = false;
  loop.say(`${state.ids.length} photos: mark the iconic or invalid ones, then submit.`);
  focusCell(0);
}

function answer() {
  return { marked: [...state.marked].sort((a, b) => a - b) };
}

const loop = createLeaseLoop({
  root,
  stage: "collection",
  status: root.querySelector("[data-testid=grid-status]"),
  nextUrl: "/api/v1/tasks/next/",
  submitUrl: "/api/v1/assignments/{id}/submit/",
  emptyText: "No more grids for you now. Thank you!",
  onLease: async (lease) => {
    submitEl.disabled = true;
    render(lease);
  },
  onEmpty: () => {
    gridEl.replaceChildren();
    nameEl.textContent = "";
    submitEl.disabled = true;
    preview.hide();
  },
  getDraft: () => (state.marked.size ? answer() : null),
  restoreDraft: (draft) => {
    state.marked = new Set((draft.marked || []).filter((id) => state.ids.includes(id)));
    showMarks();
  },
});

async function submit() {
  if (!loop.lease || loop.busy) return;
  submitEl.disabled = true;
  const ok = await loop.submit(answer());
  if (!ok && loop.lease) submitEl.disabled = false;
}

const inGrid = (e) => Boolean(loop.lease) && Boolean(e.target.closest && e.target.closest("[data-testid=grid]"));
const keymap = new Keymap();
keymap
  .bind(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"], "move between photos", (e) => {
    focusCell(gridMove(state.focus, e.key, columns(), cells().length));
  }, { when: inGrid })
  .bind(["Space", "X"], "mark or unmark the photo", () => toggle(state.focus), { when: inGrid })
  .bind(["E"], "enlarge the photo (again: close)", () => enlarge(), { when: inGrid })
  .bind(["Escape"], "close the enlarged photo", () => preview.hide(), { when: () => preview.isOpen() })
  .bind(["Enter"], "submit the grid", () => submit(), { when: inGrid });
keymap.renderInto(root.querySelector("[data-testid=shortcuts]"), "Keys");
keymap.listen();

gridEl.addEventListener("focusin", (event) => {
  const index = cells().indexOf(event.target.closest("button.cell"));
  if (index >= 0) state.focus = index;
});
submitEl.addEventListener("click", submit);

// Each tool exposes the same small surface.
export const iconicGridTool = { name: "iconic-grid", shortcut: "x", answer };

loop.next();
