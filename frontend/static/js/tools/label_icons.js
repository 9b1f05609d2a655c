// Category labeling tool (thesis §2.4.1, Fig. A.3a): answer each super-category yes/no and
// drag the icon of every present category onto one instance of it.
// Positions are sent in image pixels (the API's image.width x image.height).
import { api, uuid } from "../api.js";

const root = document.getElementById("labeling-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const photo = $("photo");
const overlay = $("placed");

let lease = null;         // the assignment from /tasks/next/
let groups = [];          // [{name, categories: [{id, name, url, chip}]}]
let answers = new Map();  // super-category -> true | false
let placed = new Map();   // category id -> {x, y}
let startedAt = 0;

function key() {
  return uuid();
}

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

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

export function iconElement(category) {
  // An icon file when the category has one, else a labelled chip (custom categories).
  if (category.url) {
    const img = document.createElement("img");
    img.src = category.url;
    img.alt = category.name;
    img.draggable = false;
    return img;
  }
  const chip = document.createElement("span");
  chip.className = "chip";
  chip.innerHTML = `<b></b><small></small>`;
  chip.querySelector("b").textContent = category.chip;
  chip.querySelector("small").textContent = category.name;
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
    li.textContent = `${group.name}${state === "open" ? "" : state === "yes" ? " ✓" : " ✗"}`;
    li.addEventListener("click", () => focusGroup(group.name));
    steps.append(li);
  }
  const question = $("question");
  if (current) {
    question.innerHTML = `Is there any <strong></strong> in the photo?
      <button type="button" data-answer="yes">Yes (Y)</button>
      <button type="button" data-answer="no" class="secondary">No (N)</button>`;
    question.querySelector("strong").textContent = current.name;
    question.querySelector("[data-answer=yes]").onclick = () => answer(current.name, true);
    question.querySelector("[data-answer=no]").onclick = () => answer(current.name, false);
  } else {
    question.textContent = canSubmit()
      ? "All groups answered: submit, or keep adjusting."
      : "Every group answered 'yes' needs at least one icon on the photo.";
  }
  for (const section of $("panel").querySelectorAll(".group")) {
    const name = section.dataset.super;
    section.classList.toggle("current", current !== null && name === current.name);
    section.dataset.state = answers.has(name) ? (answers.get(name) ? "yes" : "no") : "open";
  }
  for (const icon of $("panel").querySelectorAll(".icon")) {
    icon.classList.toggle("used", placed.has(Number(icon.dataset.categoryId)));
  }
  overlay.replaceChildren();
  for (const [id, where] of placed) {
    const category = categoryById(id);
    const marker = document.createElement("div");
    marker.className = "placed-icon";
    marker.dataset.categoryId = id;
    marker.title = `${category.name}: drag to move, drag off the photo to remove`;
    marker.style.left = `${(where.x / lease.task.image.width) * 100}%`;
    marker.style.top = `${(where.y / lease.task.image.height) * 100}%`;
    marker.append(iconElement(category));
    marker.addEventListener("pointerdown", (event) => startDrag(event, category, marker));
    overlay.append(marker);
  }
  $("submit").disabled = !canSubmit();
}

function buildPanel() {
  const panel = $("panel");
  panel.replaceChildren();
  for (const group of groups) {
    const section = document.createElement("section");
    section.className = "group";
    section.dataset.super = group.name;
    const heading = document.createElement("h3");
    heading.textContent = group.name;
    const toggle = document.createElement("span");
    toggle.className = "toggle";
    for (const [label, value] of [["yes", true], ["no", false]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small";
      button.dataset.answer = label;
      button.textContent = label;
      button.onclick = () => answer(group.name, value);
      toggle.append(button);
    }
    heading.append(toggle);
    const grid = document.createElement("div");
    grid.className = "icons";
    for (const category of group.categories) {
      const icon = document.createElement("div");
      icon.className = "icon";
      icon.dataset.categoryId = category.id;
      icon.title = `${category.name}: drag onto one ${category.name} in the photo`;
      icon.append(iconElement(category));
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = category.name;
      icon.append(name);
      icon.addEventListener("pointerdown", (event) => startDrag(event, { ...category, group: group.name }, null));
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

// ---- dragging (pointer events: mouse, pen and touch alike) ---------------------------

function imagePoint(clientX, clientY) {
  const rect = photo.getBoundingClientRect();
  if (clientX < rect.left || clientX > rect.right || clientY < rect.top || clientY > rect.bottom) {
    return null;
  }
  const { width, height } = lease.task.image;
  const x = Math.min(width, Math.max(0, ((clientX - rect.left) / rect.width) * width));
  const y = Math.min(height, Math.max(0, ((clientY - rect.top) / rect.height) * height));
  return { x: Math.round(x * 100) / 100, y: Math.round(y * 100) / 100 };
}

function startDrag(event, category, marker) {
  event.preventDefault();
  const ghost = document.createElement("div");
  ghost.className = "drag-ghost";
  ghost.append(iconElement(category));
  document.body.append(ghost);
  const move = (e) => {
    ghost.style.left = `${e.clientX}px`;
    ghost.style.top = `${e.clientY}px`;
  };
  move(event);
  if (marker) marker.classList.add("dragging");
  const target = event.currentTarget;
  target.setPointerCapture?.(event.pointerId);
  const up = (e) => {
    target.removeEventListener("pointermove", move);
    target.removeEventListener("pointerup", up);
    ghost.remove();
    const point = imagePoint(e.clientX, e.clientY);
    if (point) {
      placed.set(category.id, point);
      answers.set(category.group, true);
    } else if (marker) {
      placed.delete(category.id); // dragged off the photo: removed
    }
    render();
  };
  target.addEventListener("pointermove", move);
  target.addEventListener("pointerup", up);
}

// ---- task flow ------------------------------------------------------------------------

async function loadNext() {
  $("work").hidden = true;
  say("Loading the next photo…");
  try {
    lease = await api(root.dataset.nextUrl, { stage: "labeling" });
  } catch (error) {
    say(error.message, true);
    return;
  }
  if (!lease) {
    say("No more photos to label for now. Thank you!");
    return;
  }
  groups = await panelFor(lease.task.project);
  answers = new Map();
  placed = new Map();
  buildPanel();
  photo.src = lease.task.image.url;
  photo.style.aspectRatio = `${lease.task.image.width} / ${lease.task.image.height}`;
  $("work").hidden = false;
  say(`Photo ${lease.task.image.id}: answer each group, drag one icon per kind of object.`);
  startedAt = performance.now();
  render();
}

async function submit() {
  if (!canSubmit()) return;
  const body = {
    answer: {
      supercategories: Object.fromEntries(groups.map((g) => [g.name, answers.get(g.name)])),
      categories: [...placed].map(([id, where]) => ({ id, x: where.x, y: where.y })),
    },
    idempotency_key: key(),
    time_spent_seconds: Math.round((performance.now() - startedAt) / 100) / 10,
  };
  $("submit").disabled = true;
  try {
    await api(root.dataset.submitUrl.replace("{id}", lease.id), body);
  } catch (error) {
    say(`Not saved: ${error.message}`, true);
    $("submit").disabled = false;
    return;
  }
  await loadNext();
  if (!lease) say("Saved. No more photos to label for now. Thank you!");
}

$("submit").addEventListener("click", submit);
$("rest-no").addEventListener("click", () => {
  for (const group of groups) if (!answers.has(group.name)) answers.set(group.name, false);
  render();
});
document.addEventListener("keydown", (event) => {
  if (!lease || event.target.closest("input, textarea") || event.ctrlKey || event.metaKey) return;
  const current = currentGroup();
  if (!current) return;
  if (event.key === "y") answer(current.name, true);
  if (event.key === "n") answer(current.name, false);
});

export const labelIconsTool = { name: "label_icons", loadNext, submit };
loadNext();
