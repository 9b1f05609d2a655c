// Category labeling (thesis §2.4.1, Fig. A.3a): answer each super-category yes/no and put
// the icon of every present category onto one instance of it: drag it from the panel, or
// with keys choose it (Tab/arrows, Enter), move the cursor with the arrows and press Enter.
// Positions are sent in image pixels (the API's image.width x image.height).
import { api, createLeaseLoop } from "../api.js";
import { Keymap } from "../canvas/keymap.js";
import { autoScroll, bindViewKeys, createSurface, svgElement } from "../canvas/surface.js";

const root = document.getElementById("labeling-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const ICON_PX = 36;
const GRAB_PX = 20;
const STEP_PX = 12;
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

let surface = null;
let lease = null;
let groups = []; // [{name, categories: [{id, name, url, chip}]}]
let answers = new Map(); // super-category -> true | false
let placed = new Map(); // category id -> {x, y}
let carrying = null; // category picked with the keyboard, waiting to be placed
let cursor = null; // keyboard cursor on the photo, image pixels
let moving = null; // placed icon being dragged {category, moved}

const round2 = (v) => Math.round(v * 100) / 100;

const panels = new Map(); // project id -> groups
async function panelFor(project) {
  if (!panels.has(project)) {
    const url = root.dataset.panelUrl.replace("{project}", project);
    panels.set(project, (await api(url)).supercategories);
  }
  return panels.get(project);
}

function categoryById(id) {
  for (const group of groups) {
    const found = group.categories.find((c) => c.id === id);
    if (found) return { ...found, group: group.name };
  }
  return null;
}

// An icon file when the category has one, else a readable chip: initials and the name in
// plain text, which renders on any machine (custom categories, missing icons).
export function iconElement(category) {
  if (category.url) {
    const img = document.createElement("img");
    img.src = category.url;
    img.alt = "";
    img.draggable = false;
    return img;
  }
  const chip = document.createElement("span");
  chip.className = "chip";
  const b = document.createElement("b");
  b.textContent = category.chip;
  chip.append(b);
  return chip;
}

// ---- state -> page ------------------------------------------------------------------

function currentGroup() {
  return groups.find((g) => !answers.has(g.name)) || null;
}

function canSubmit() {
  return groups.every((g) => {
    if (!answers.has(g.name)) return false;
    return !answers.get(g.name) || g.categories.some((c) => placed.has(c.id));
  });
}

function drawPlaced() {
  if (!surface) return;
  const size = ICON_PX / surface.view.scale;
  const shapes = [];
  for (const [id, where] of placed) {
    const category = categoryById(id);
    const g = svgElement("g", { class: "placed-icon", "data-category-id": id, "data-x": where.x, "data-y": where.y });
    const title = svgElement("title");
    title.textContent = category.name;
    g.append(title);
    if (category.url) {
      g.append(svgElement("image", { href: category.url, x: where.x - size / 2, y: where.y - size / 2, width: size, height: size }));
    } else {
      g.append(svgElement("circle", { cx: where.x, cy: where.y, r: size / 2, class: "chip-dot" }));
      const text = svgElement("text", { x: where.x, y: where.y, "font-size": size / 2.6, "text-anchor": "middle", "dominant-baseline": "central" });
      text.textContent = category.chip;
      g.append(text);
    }
    shapes.push(g);
  }
  surface.layers.icons.replaceChildren(...shapes);
  const r = 10 / surface.view.scale;
  surface.layers.cursor.replaceChildren(
    ...(carrying && cursor
      ? [svgElement("circle", { cx: cursor.x, cy: cursor.y, r, class: "key-cursor", "data-testid": "cursor", "vector-effect": "non-scaling-stroke" })]
      : []),
  );
}

function render() {
  const current = currentGroup();
  const steps = $("steps");
  steps.replaceChildren();
  for (const group of groups) {
    const li = document.createElement("li");
    const state = answers.has(group.name) ? (answers.get(group.name) ? "yes" : "no") : "open";
    li.dataset.super = group.name;
    li.dataset.state = state;
    li.className = group === current ? "current" : "";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = `${group.name}${state === "open" ? "" : state === "yes" ? " ✓" : " ✗"}`;
    button.addEventListener("click", () => focusGroup(group.name));
    li.append(button);
    steps.append(li);
  }
  const question = $("question");
  if (carrying) {
    question.textContent = `Placing ${carrying.name}: move with the arrows (or point), Enter or click to put it, Escape to cancel.`;
  } else if (current) {
    question.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = current.name;
    question.append("Is there any ", strong, " in the photo? ");
    for (const [label, value, cls] of [["Yes (Y)", true, ""], ["No (N)", false, "secondary"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.dataset.answer = value ? "yes" : "no";
      b.textContent = label;
      b.onclick = () => answer(current.name, value);
      question.append(b);
    }
  } else {
    question.textContent = canSubmit()
      ? "All groups answered: submit (Enter), or keep adjusting."
      : "Every group answered 'yes' needs at least one icon on the photo.";
  }
  for (const section of $("panel").querySelectorAll(".group")) {
    const name = section.dataset.super;
    section.classList.toggle("current", current !== null && name === current.name);
    section.dataset.state = answers.has(name) ? (answers.get(name) ? "yes" : "no") : "open";
  }
  for (const icon of $("panel").querySelectorAll(".icon")) {
    const id = Number(icon.dataset.categoryId);
    icon.classList.toggle("used", placed.has(id));
    icon.setAttribute("aria-pressed", String(Boolean(carrying && carrying.id === id)));
  }
  drawPlaced();
  $("submit").disabled = !canSubmit();
  loop.saveDraft();
}

function buildPanel() {
  const panel = $("panel");
  panel.replaceChildren();
  for (const group of groups) {
    const section = document.createElement("section");
    section.className = "group";
    section.dataset.super = group.name;
    const heading = document.createElement("h2");
    heading.textContent = group.name;
    const toggle = document.createElement("span");
    toggle.className = "toggle";
    for (const [label, value] of [["yes", true], ["no", false]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small";
      button.dataset.answer = label;
      button.textContent = label;
      button.setAttribute("aria-label", `${label}: ${group.name}`);
      button.onclick = () => answer(group.name, value);
      toggle.append(button);
    }
    heading.append(toggle);
    const grid = document.createElement("div");
    grid.className = "icons";
    for (const category of group.categories) {
      const icon = document.createElement("button");
      icon.type = "button";
      icon.className = "icon";
      icon.dataset.categoryId = category.id;
      icon.title = `${category.name}: drag onto one ${category.name} in the photo, or press Enter and place it with the arrows`;
      icon.append(iconElement(category));
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = category.name;
      icon.append(name);
      const full = { ...category, group: group.name };
      icon.addEventListener("pointerdown", (event) => dragFromPanel(event, full));
      icon.addEventListener("keydown", (event) => {
        if (carrying) return; // Enter puts down the icon being carried (the page's key map)
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          event.stopPropagation();
          pickUp(full);
        } else if (event.key === "Delete" || event.key === "Backspace") {
          event.preventDefault();
          event.stopPropagation();
          placed.delete(full.id);
          render();
        }
      });
      grid.append(icon);
    }
    section.append(heading, grid);
    panel.append(section);
  }
}

function answer(groupName, present) {
  answers.set(groupName, present);
  if (!present) {
    const group = groups.find((g) => g.name === groupName);
    for (const c of group.categories) placed.delete(c.id);
  }
  render();
  const next = currentGroup();
  if (next) focusGroup(next.name, false);
}

function focusGroup(name, reopen = true) {
  if (reopen && answers.has(name) && answers.get(name) === false) answers.delete(name);
  render();
  const section = $("panel").querySelector(`.group[data-super="${CSS.escape(name)}"]`);
  if (section) section.scrollIntoView({ block: "nearest" });
}

function put(category, p) {
  placed.set(category.id, { x: round2(p.x), y: round2(p.y) });
  answers.set(category.group, true);
}

// ---- keyboard placing ------------------------------------------------------------------

function pickUp(category) {
  carrying = category;
  cursor = placed.get(category.id) || cursor || { x: surface.width / 2, y: surface.height / 2 };
  surface.view.reveal(cursor);
  render();
}

function moveCursor(dx, dy) {
  const step = STEP_PX / surface.view.scale;
  cursor = surface.clamp({ x: cursor.x + dx * step, y: cursor.y + dy * step });
  surface.view.reveal(cursor);
  drawPlaced();
}

function drop() {
  const category = carrying;
  put(category, cursor);
  carrying = null;
  render();
  const icon = $("panel").querySelector(`.icon[data-category-id="${category.id}"]`);
  if (icon) icon.focus({ preventScroll: true });
}

// ---- dragging (pointer events: mouse, pen and touch alike) ---------------------------

function dragFromPanel(event, category) {
  if (event.button !== 0) return;
  event.preventDefault();
  const target = event.currentTarget;
  const ghost = document.createElement("div");
  ghost.className = "drag-ghost";
  ghost.append(iconElement(category));
  document.body.append(ghost);
  const move = (e) => {
    ghost.style.left = `${e.clientX}px`;
    ghost.style.top = `${e.clientY}px`;
    autoScroll(e.clientY);
  };
  move(event);
  target.setPointerCapture?.(event.pointerId);
  const up = (e) => {
    target.removeEventListener("pointermove", move);
    target.removeEventListener("pointerup", up);
    target.removeEventListener("pointercancel", up);
    ghost.remove();
    if (e.type === "pointerup" && surface && surface.overPhoto(e.clientX, e.clientY)) {
      put(category, surface.toImage(e.clientX, e.clientY));
    }
    render();
  };
  target.addEventListener("pointermove", move);
  target.addEventListener("pointerup", up);
  target.addEventListener("pointercancel", up);
}

function placedAt(p) {
  const reach = GRAB_PX / surface.view.scale;
  let best = null;
  let bestD = Infinity;
  for (const [id, q] of placed) {
    const d = Math.hypot(p.x - q.x, p.y - q.y);
    if (d <= reach && d < bestD) {
      best = id;
      bestD = d;
    }
  }
  return best;
}

const iconInteraction = {
  down(p) {
    if (carrying) {
      cursor = surface.clamp(p);
      drop();
      return;
    }
    const id = placedAt(p);
    if (id !== null) moving = { category: categoryById(id), moved: false };
  },
  move(p, event) {
    if (!moving) return;
    moving.moved = true;
    placed.set(moving.category.id, { x: round2(p.x), y: round2(p.y) });
    drawPlaced();
    autoScroll(event.clientY);
  },
  up(p, event) {
    if (!moving) return;
    if (!surface.overPhoto(event.clientX, event.clientY)) placed.delete(moving.category.id); // dragged off
    else put(moving.category, p);
    moving = null;
    render();
  },
  hover(p) {
    if (!carrying) return;
    cursor = surface.clamp(p);
    drawPlaced();
  },
};

// ---- the keyboard map -----------------------------------------------------------------

const keymap = new Keymap();
const isCarrying = () => Boolean(carrying && surface);
const free = (e) => Boolean(lease) && !carrying && !(e.target.closest && e.target.closest("input, textarea"));
keymap
  .bind(["Y"], "yes: the highlighted group is in the photo", () => currentGroup() && answer(currentGroup().name, true), { when: free })
  .bind(["N"], "no: it is not", () => currentGroup() && answer(currentGroup().name, false), { when: free })
  .bind(["Tab"], "choose an icon; Enter picks it up", () => {}, { when: () => false })
  .bind(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"], "move the picked-up icon", (e) => moveCursor(...ARROWS[e.key]), { when: isCarrying })
  .bind(["Enter", "Space"], "put the picked-up icon there", () => drop(), { when: isCarrying })
  .bind(["Escape"], "cancel placing", () => { carrying = null; render(); }, { when: isCarrying })
  .bind(["Delete"], "remove the chosen icon from the photo", () => {}, { when: () => false })
  .bind(["Enter"], "submit", () => submit(), {
    when: (e) => free(e) && canSubmit() && !(e.target.closest && e.target.closest("button, a, summary")),
  });
bindViewKeys(keymap, () => surface, { arrows: false, space: false });
keymap.renderInto($("shortcuts"), "Keys");
keymap.listen();

// ---- task flow ------------------------------------------------------------------------

async function showTask(held) {
  lease = held;
  groups = await panelFor(lease.task.project);
  answers = new Map();
  placed = new Map();
  carrying = null;
  buildPanel();
  const { image } = lease.task;
  if (surface) surface.destroy();
  surface = null;
  $("work").hidden = false;
  surface = createSurface($("stage"), {
    width: image.width,
    height: image.height,
    imageUrl: image.url,
    alt: "the photo to label",
    layers: [["icons", "svg"], ["cursor", "svg"]],
    onView: () => drawPlaced(),
  });
  surface.layers.icons.parentElement.dataset.testid = "placed";
  surface.use(iconInteraction);
  render();
  loop.say(`Photo ${image.id}: answer each group, put one icon per kind of object on the photo.`);
}

const loop = createLeaseLoop({
  root,
  stage: "labeling",
  status: $("status"),
  nextUrl: root.dataset.nextUrl,
  submitUrl: root.dataset.submitUrl,
  emptyText: "No more photos to label for now. Thank you!",
  onLease: showTask,
  onEmpty: () => {
    $("work").hidden = true;
    lease = null;
  },
  getDraft: () =>
    answers.size || placed.size ? { answers: [...answers], placed: [...placed] } : null,
  restoreDraft: (draft) => {
    const names = new Set(groups.map((g) => g.name));
    answers = new Map((draft.answers || []).filter(([name]) => names.has(name)));
    placed = new Map((draft.placed || []).filter(([id]) => categoryById(id)));
    render();
  },
});

function submit() {
  if (!canSubmit() || !lease) return;
  loop.submit({
    supercategories: Object.fromEntries(groups.map((g) => [g.name, answers.get(g.name)])),
    categories: [...placed].map(([id, where]) => ({ id, x: where.x, y: where.y })),
  });
}

$("submit").addEventListener("click", submit);
$("rest-no").addEventListener("click", () => {
  for (const group of groups) if (!answers.has(group.name)) answers.set(group.name, false);
  render();
});
$("zoom-in").addEventListener("click", () => surface && surface.view.zoomIn());
$("zoom-out").addEventListener("click", () => surface && surface.view.zoomOut());
$("fit").addEventListener("click", () => surface && surface.view.fit());

export const labelIconsTool = { name: "label_icons", pickUp, submit };
loop.next();
