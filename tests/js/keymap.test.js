// The one keyboard map (frontend/static/js/canvas/keymap.js), without a DOM.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Keymap, gridMove, keyLabel, keyName } from "../../frontend/static/js/canvas/keymap.js";

const key = (k, mods = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });

test("key names: Ctrl (or Cmd), Shift for letters, symbols as typed", () => {
  assert.equal(keyName(key("z", { ctrlKey: true })), "Ctrl+Z");
  assert.equal(keyName(key("Z", { metaKey: true, shiftKey: true })), "Ctrl+Shift+Z");
  assert.equal(keyName(key(" ")), "Space");
  assert.equal(keyName(key("+", { shiftKey: true })), "+", "Shift already made the +");
  assert.equal(keyName(key("ArrowLeft", { shiftKey: true })), "Shift+ArrowLeft");
  assert.equal(keyLabel("Shift+ArrowLeft"), "Shift+←");
});

test("the first enabled binding runs; disabled ones let the key through", () => {
  const ran = [];
  const map = new Keymap()
    .bind(["Enter"], "place", () => ran.push("place"), { when: () => false })
    .bind(["Enter"], "submit", () => ran.push("submit"))
    .bind(["Ctrl+Z"], "undo", () => ran.push("undo"));
  assert.ok(map.handle(key("Enter")));
  assert.ok(map.handle(key("z", { ctrlKey: true })));
  assert.equal(map.handle(key("q")), false);
  assert.deepEqual(ran, ["submit", "undo"]);
});

test("rows list what is shown on screen, hidden bindings left out", () => {
  const map = new Keymap().bind(["B"], "brush", () => {}).bind(["ArrowUp"], "", () => {}, { show: false });
  assert.deepEqual(map.rows(), [{ keys: ["B"], label: "brush" }]);
});

test("moving through a grid stays inside it", () => {
  assert.equal(gridMove(0, "ArrowLeft", 4, 10), 0);
  assert.equal(gridMove(1, "ArrowDown", 4, 10), 5);
  assert.equal(gridMove(8, "ArrowDown", 4, 10), 9);
  assert.equal(gridMove(5, "Home", 4, 10), 0);
  assert.equal(gridMove(5, "End", 4, 10), 9);
  assert.equal(gridMove(5, "q", 4, 10), 5);
});
