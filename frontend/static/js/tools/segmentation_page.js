// The segmentation page: one polygon editor, three jobs (data-mode on the root):
//   task      segment the instance under the spot (generic /tasks/next/ and submit)
//   training  outline an instance with a known expert outline; feedback after each try
//   expert    author a reference outline for training
// It records the time spent, the points placed and the edits made.

import { bindEditorKeys, createPolygonEditor } from "./polygon_editor.js";
import { api, createLeaseLoop } from "../api.js";
import { Keymap } from "../canvas/keymap.js";

const root = document.getElementById("segmentation-tool");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const mode = root.dataset.mode;
const stage = $("stage");

let editor = null;
let lease = null; // task mode: the leased assignment
let training = null; // training mode: the reference being tried
let busy = false;
let fromSuggestion = false; // the outline was started from the model's suggestion
let clickMode = false;

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function showIcon(category) {
  const box = $("icon");
  box.replaceChildren();
  if (category.url) {
    const img = document.createElement("img");
    img.src = category.url;
    img.alt = category.name;
    box.appendChild(img);
  } else {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = category.chip || category.name.slice(0, 2);
    box.appendChild(chip);
  }
  const name = document.createElement("div");
  name.textContent = category.name;
  box.appendChild(name);
}

function updateControls() {
  if (!editor) return;
  if (loop) loop.saveDraft();
  const points = editor.pointCount();
  const parts = editor.partCount();
  $("count").textContent = points ? `${points} point${points === 1 ? "" : "s"}, ${parts} part${parts === 1 ? "" : "s"}` : "";
  $("undo").disabled = !editor.canUndo();
  $("redo").disabled = !editor.canRedo();
  $("submit").disabled = busy || editor.polygons().length === 0;
  root.dataset.vertices = editor.stats.vertices;
  root.dataset.edits = editor.stats.edits;
}

function openEditor({ url, width, height, spot, category }) {
  if (editor) editor.destroy();
  $("work").hidden = false;
  $("feedback").hidden = true;
  $("category").textContent = category.name;
  showIcon(category);
  editor = createPolygonEditor(stage, { imageUrl: url, width, height, spot, onChange: updateControls });
  window.cocoforgeEditor = editor; // for the benchmark and debugging in the console
  stage.focus({ preventScroll: true });
  updateControls();
}

// ---- task mode -------------------------------------------------------------------------------

async function categoryWithIcon(task) {
  const data = await api(`${root.dataset.masksUrl.replace("{id}", task.image.id)}?category=${task.category.id}`);
  return data;
}

async function showTask(held) {
  lease = held;
  const task = lease.task;
  const context = await categoryWithIcon(task);
  openEditor({
    url: task.image.url,
    width: task.image.width,
    height: task.image.height,
    spot: task.payload.spot,
    category: context.category || task.category,
  });
  editor.showMasks(context.masks);
  fromSuggestion = false;
  setClickMode(false);
  if (task.payload.suggested) editor.setPolygons(task.payload.suggested);
  const suggestion = task.payload.suggestion;
  $("start-suggestion").hidden = !(suggestion && suggestion.polygon && suggestion.polygon.length >= 6);
  loop.say(
    `Outline the ${task.category.name} under the red spot.` +
      ($("start-suggestion").hidden ? "" : " A suggested outline exists: \"Start from suggestion\" (S) loads it for you to correct."),
  );
}

function showNoTask() {
  lease = null;
  $("work").hidden = true;
  if (editor) editor.destroy();
  editor = null;
  const link = document.createElement("a");
  link.href = root.dataset.trainingListUrl;
  link.textContent = " Train for another category";
  link.dataset.testid = "training-link";
  $("status").appendChild(link);
}

const loop =
  mode === "task"
    ? createLeaseLoop({
        root,
        stage: "segmentation",
        status: $("status"),
        nextUrl: root.dataset.nextUrl,
        submitUrl: root.dataset.submitUrl,
        emptyText: "No more objects to outline for now. Thank you!",
        onLease: showTask,
        onEmpty: showNoTask,
        getDraft: () => (editor && editor.pointCount() ? { polygons: editor.polygons() } : null),
        restoreDraft: (draft) => editor && editor.setPolygons(draft.polygons || []),
      })
    : null;

async function submitTask(answer) {
  if (!lease || loop.busy) return;
  const effort = editor ? { vertices: editor.stats.vertices, edits: editor.stats.edits } : {};
  await loop.submit({ ...answer, ...effort });
  if (root.dataset.state === "empty") showNoTask();
}

// ---- pre-annotation: start from the model's suggestion, click-to-mask ------------------------

function startFromSuggestion() {
  const suggestion = lease && lease.task.payload.suggestion;
  if (!editor || !suggestion) return;
  setClickMode(false);
  editor.loadPolygons([suggestion.polygon]);
  fromSuggestion = true;
  loop.say("Suggested outline loaded: drag its points onto the object's border, add or delete points, then submit. Undo takes it away.");
}

const clickInteraction = {
  async down(p) {
    if (!lease || !editor) return;
    const imageId = lease.task.image.id;
    setClickMode(false);
    loop.say("Looking for an outline around your click…");
    let answer;
    try {
      answer = await api(root.dataset.clickUrl.replace("{id}", imageId), { x: p.x, y: p.y, limit: 3 });
    } catch (error) {
      loop.say(`Click-to-mask failed: ${error.message}. Trace the outline by hand.`, true);
      return;
    }
    if (!lease || lease.task.image.id !== imageId || !editor) return;
    if (answer.source === "none" || !answer.masks.length) {
      loop.say("No outline found around that click: click elsewhere inside the object (K), or trace it by hand.", true);
      return;
    }
    editor.loadPolygons([answer.masks[0].polygon]);
    const where = answer.source === "model" ? "the model" : "a colour-based cut (no model yet)";
    loop.say(`Outline from ${where} loaded: correct it until it follows the border, then submit. Undo takes it away.`);
  },
};

function setClickMode(on) {
  clickMode = Boolean(on && editor && lease);
  const button = $("click-mask");
  if (button) {
    button.setAttribute("aria-pressed", String(clickMode));
    button.classList.toggle("on", clickMode);
  }
  if (!editor) return;
  if (clickMode) {
    editor.use(clickInteraction);
    loop.say("Click-to-mask: click inside the object (Esc: back to drawing).");
  } else {
    editor.drawing();
  }
}

// ---- confirmations: answers that end the task without an outline ------------------------------

const CONFIRMED_KEY = "cocoforge:confirmed:";

function confirmFirstTime(kind, question) {
  return new Promise((resolve) => {
    let stored = null;
    try {
      stored = window.localStorage.getItem(CONFIRMED_KEY + kind);
    } catch (error) {
      stored = null;
    }
    if (stored) {
      resolve(true);
      return;
    }
    const dialog = $("confirm");
    $("confirm-text").textContent = question;
    const done = (yes) => {
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      if (yes) {
        try {
          window.localStorage.setItem(CONFIRMED_KEY + kind, "1");
        } catch (error) {
          // private mode: ask again next time
        }
      }
      resolve(yes);
    };
    const onClose = () => done(dialog.returnValue === "yes");
    dialog.returnValue = "";
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

// ---- training mode ----------------------------------------------------------------------------

async function loadTraining() {
  say("Loading a training photo…");
  try {
    training = await api(root.dataset.trainingNextUrl, { category: Number(root.dataset.category) });
  } catch (error) {
    say(error.message, true);
    return;
  }
  openEditor({ ...training.image, spot: training.spot, category: training.category });
  say(`Outline the ${training.category.name} under the red spot as exactly as you can.`);
}

async function submitTraining() {
  busy = true;
  updateControls();
  let feedback;
  try {
    feedback = await api(root.dataset.attemptUrl.replace("{id}", training.reference), {
      polygons: editor.polygons(),
    });
  } catch (error) {
    say(error.message, true);
    busy = false;
    updateControls();
    return;
  }
  busy = false;
  // The server never sends the reference's outline: only areas and a coarse picture.
  editor.showFeedback(feedback.yours, []);
  const box = $("feedback");
  box.hidden = false;
  box.replaceChildren();
  const percent = (v) => `${Math.round(v * 100)} %`;
  const text = document.createElement("p");
  text.dataset.testid = "verdict";
  text.className = feedback.passed ? "passed" : "failed";
  text.textContent = feedback.passed
    ? `Passed: your outline overlaps the reference by ${percent(feedback.iou)} (needed ${percent(feedback.threshold)}). You can now outline ${feedback.category} objects.`
    : `Not yet: your outline overlaps the reference by ${percent(feedback.iou)}, ${percent(feedback.threshold)} is needed. You left out ${percent(feedback.missed_share)} of the object (red blocks) and ${percent(feedback.added_share)} of your outline lies off it (blue blocks): follow the border more closely. The next try is another object.`;
  box.appendChild(text);
  if (feedback.feedback_picture) {
    const picture = document.createElement("img");
    picture.src = feedback.feedback_picture;
    picture.alt = "your outline in yellow; red blocks: parts of the object left out; blue blocks: outline off the object";
    picture.dataset.testid = "feedback-picture";
    box.appendChild(picture);
  }
  if (!feedback.passed && feedback.cooldown_until) {
    const wait = document.createElement("p");
    wait.textContent = `That was your last try for now: training opens again at ${new Date(feedback.cooldown_until).toLocaleString()}.`;
    box.appendChild(wait);
  }
  const next = document.createElement("a");
  if (feedback.passed) {
    next.href = "/segmentation/";
    next.textContent = "Start outlining";
    next.dataset.testid = "start";
  } else {
    next.href = "#";
    next.textContent = "Try again";
    next.dataset.testid = "retry";
    next.addEventListener("click", (event) => {
      event.preventDefault();
      loadTraining();
    });
  }
  box.appendChild(next);
  say(feedback.passed ? "Training passed." : "Training not passed yet.", !feedback.passed);
  $("submit").disabled = true;
}

// ---- expert mode ------------------------------------------------------------------------------

function loadExpert() {
  const d = root.dataset;
  const spot = d.spotX ? { x: Number(d.spotX), y: Number(d.spotY) } : null;
  openEditor({
    url: d.imageUrl,
    width: Number(d.imageWidth),
    height: Number(d.imageHeight),
    spot,
    category: { name: d.categoryName },
  });
  say(`Outline the ${d.categoryName} as the reference for training.`);
}

async function submitExpert() {
  const d = root.dataset;
  const body = { image: Number(d.image), category: Number(d.category), polygons: editor.polygons() };
  if (d.spotX) body.spot = { x: Number(d.spotX), y: Number(d.spotY) };
  try {
    const saved = await api(d.referenceUrl, body);
    say(`Reference ${saved.id} saved (${Math.round(saved.area)} px²).`);
  } catch (error) {
    say(`Not saved: ${error.message}`, true);
  }
}

// ---- buttons ------------------------------------------------------------------------------------

$("undo").addEventListener("click", () => editor && editor.undo());
$("redo").addEventListener("click", () => editor && editor.redo());
$("zoom-in").addEventListener("click", () => editor && editor.zoomIn());
$("zoom-out").addEventListener("click", () => editor && editor.zoomOut());
$("fit").addEventListener("click", () => editor && editor.fit());
$("submit").addEventListener("click", () => {
  if (!editor || busy) return;
  editor.close();
  if (mode === "task") {
    const suggested = Boolean(lease.task.payload.suggested) || fromSuggestion;
    submitTask({ polygons: editor.polygons(), from_suggestion: suggested });
  }
  else if (mode === "training") submitTraining();
  else submitExpert();
});
const keymap = new Keymap();
if (mode === "task") {
  keymap
    .bind(["S"], "start from the suggested outline", startFromSuggestion, {
      when: () => Boolean(editor && lease && !$("start-suggestion").hidden),
    })
    .bind(["K"], "click-to-mask: the next click on the photo asks for an outline", () => setClickMode(!clickMode), {
      when: () => Boolean(editor && lease),
    });
}
keymap.bind(["Escape"], "leave click-to-mask", () => setClickMode(false), { when: () => clickMode });
bindEditorKeys(keymap, () => editor);
keymap.renderInto($("shortcuts"), "Keys");
keymap.listen();

if (mode === "task") {
  $("start-suggestion").addEventListener("click", startFromSuggestion);
  $("click-mask").addEventListener("click", () => setClickMode(!clickMode));
  $("no-object").addEventListener("click", async () => {
    const sure = await confirmFirstTime("no_such_object",
      "Send \"There is no such object here\"? This ends the task without an outline: use it only when nothing of this category is under the red spot.");
    if (sure) submitTask({ no_such_object: true });
  });
  $("already-outlined").addEventListener("click", async () => {
    const sure = await confirmFirstTime("already_outlined",
      "Send \"This object is already outlined\"? Use it when the red spot sits on (or just beside) an object that is shaded already: nobody outlines it twice.");
    if (sure) submitTask({ already_outlined: true });
  });
  $("crowd").addEventListener("click", async () => {
    const sure = await confirmFirstTime("crowd",
      "Send \"These are a crowd\"? Use it when the red spot is on a crowd of this category (a stand of spectators, a pile of fruit) that nobody could outline one by one: the other objects are still outlined, then someone paints the crowd.");
    if (sure) submitTask({ crowd: true });
  });
  $("all-done").addEventListener("click", async () => {
    const sure = await confirmFirstTime("all_segmented",
      "Send \"All instances are already segmented\"? This stops outlining this category in the photo for everyone.");
    if (sure) submitTask({ all_segmented: true });
  });
  loop.next();
} else if (mode === "training") {
  loadTraining();
} else {
  loadExpert();
}
