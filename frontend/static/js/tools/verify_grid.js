// The verification grid (thesis appendix A, Fig. A.3d): a grid of masks, each cell the
// object's region of the photo with its mask outlined; the worker marks the poor ones with
// a click, or with the arrows and Space, and submits with Enter. E enlarges a cell.
// Cells are identified only by opaque ids from the task payload; each cell's picture URL
// comes from the payload too (`picture`): the tool never builds one.
import { createLeaseLoop } from "../api.js";
import { Keymap, gridMove } from "../canvas/keymap.js";
import { createPreview } from "../canvas/preview.js";

const root = document.getElementById("verify-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const preview = createPreview($("preview-host"));
let focus = 0;

function cells() {
  return [...$("grid").querySelectorAll(".verify-cell")];
}

function poorCells() {
  return cells().filter((c) => c.getAttribute("aria-pressed") === "true").map((c) => c.dataset.cellId);
}

function updateCount() {
  $("count").textContent = `${poorCells().length} marked poor`;
  loop.saveDraft();
}

function toggle(cell) {
  if (!cell) return;
  cell.setAttribute("aria-pressed", cell.getAttribute("aria-pressed") === "true" ? "false" : "true");
  updateCount();
}

function columns() {
  const all = cells();
  if (all.length < 2) return 1;
  const top = all[0].offsetTop;
  const i = all.findIndex((c) => c.offsetTop !== top);
  return i === -1 ? all.length : i;
}

function focusCell(index) {
  const all = cells();
  if (!all.length) return;
  focus = Math.max(0, Math.min(all.length - 1, index));
  all.forEach((c, i) => (c.tabIndex = i === focus ? 0 : -1));
  all[focus].focus();
  if (preview.isOpen()) enlarge(false);
}

function enlarge(toggleIt = true) {
  const cell = cells()[focus];
  if (!cell) return;
  const img = cell.querySelector("img");
  if (toggleIt) preview.toggle(img.src, img.alt);
  else preview.open(img.src, img.alt);
}

function showGrid(lease) {
  const grid = $("grid");
  grid.replaceChildren();
  preview.hide();
  lease.task.payload.cells.forEach((cell, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "verify-cell";
    button.dataset.cellId = cell.id;
    button.dataset.testid = "cell";
    button.setAttribute("aria-pressed", "false");
    button.tabIndex = index === 0 ? 0 : -1;
    const img = document.createElement("img");
    img.src = cell.picture;
    img.alt = `${cell.category} segmentation`;
    img.loading = "lazy";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = cell.category;
    button.append(img, label);
    button.addEventListener("click", () => {
      focus = index;
      toggle(button);
    });
    preview.hoverable(button, img.src, img.alt);
    grid.appendChild(button);
  });
  focus = 0;
  $("work").hidden = false;
  updateCount();
  loop.say(`Grid of ${lease.task.payload.cells.length} segmentations.`);
  focusCell(0);
}

const loop = createLeaseLoop({
  root,
  stage: "verification",
  status: $("status"),
  nextUrl: root.dataset.nextUrl,
  submitUrl: root.dataset.submitUrl,
  emptyText: "No grids to verify right now. Thank you!",
  onLease: async (lease) => showGrid(lease),
  onEmpty: () => {
    $("work").hidden = true;
    preview.hide();
  },
  getDraft: () => {
    const poor = poorCells();
    return poor.length ? { poor } : null;
  },
  restoreDraft: (draft) => {
    const poor = new Set(draft.poor || []);
    for (const cell of cells()) cell.setAttribute("aria-pressed", String(poor.has(cell.dataset.cellId)));
    updateCount();
  },
});

function submit() {
  if (loop.lease) loop.submit({ poor: poorCells() });
}

const inGrid = (e) => Boolean(loop.lease) && Boolean(e.target.closest && e.target.closest("[data-testid=grid]"));
const keymap = new Keymap();
keymap
  .bind(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"], "move between cells", (e) => {
    focusCell(gridMove(focus, e.key, columns(), cells().length));
  }, { when: inGrid })
  .bind(["Space", "X"], "mark or unmark as poor", () => toggle(cells()[focus]), { when: inGrid })
  .bind(["E"], "enlarge the cell (again: close)", () => enlarge(), { when: inGrid })
  .bind(["Escape"], "close the enlarged cell", () => preview.hide(), { when: () => preview.isOpen() })
  .bind(["Enter"], "submit the grid", () => submit(), { when: inGrid });
keymap.renderInto($("shortcuts"), "Keys");
keymap.listen();

$("grid").addEventListener("focusin", (event) => {
  const index = cells().indexOf(event.target.closest(".verify-cell"));
  if (index >= 0) focus = index;
});
$("submit").addEventListener("click", submit);

export const verifyGridTool = { name: "verify-grid", shortcut: "v", submit };
loop.next();
