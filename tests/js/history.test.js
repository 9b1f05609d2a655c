// The surface's one undo/redo stack (frontend/static/js/canvas/history.js).
import assert from "node:assert/strict";
import { test } from "node:test";
import { UndoStack, snapshotCommand } from "../../frontend/static/js/canvas/history.js";

function counter() {
  const state = { value: 0 };
  const add = (stack, n) => {
    state.value += n;
    stack.push({ undo: () => (state.value -= n), redo: () => (state.value += n) });
  };
  return { state, add };
}

test("undo reverts commands in reverse order and redo re-applies them", () => {
  const stack = new UndoStack();
  const { state, add } = counter();
  add(stack, 1);
  add(stack, 10);
  assert.equal(state.value, 11);
  assert.ok(stack.undo());
  assert.equal(state.value, 1);
  assert.ok(stack.undo());
  assert.equal(state.value, 0);
  assert.equal(stack.undo(), false, "nothing left to undo");
  assert.ok(stack.redo());
  assert.ok(stack.redo());
  assert.equal(state.value, 11);
  assert.equal(stack.redo(), false);
});

test("a new command after undoing forgets what was undone", () => {
  const stack = new UndoStack();
  const { state, add } = counter();
  add(stack, 1);
  add(stack, 2);
  stack.undo();
  add(stack, 5);
  assert.equal(stack.canRedo, false);
  assert.equal(state.value, 6);
  stack.undo();
  stack.undo();
  assert.equal(state.value, 0);
});

test("the stack keeps at most `limit` commands and reports changes", () => {
  let changes = 0;
  const stack = new UndoStack({ limit: 3, onChange: () => (changes += 1) });
  const { state, add } = counter();
  for (let i = 0; i < 5; i++) add(stack, 1);
  while (stack.undo());
  assert.equal(state.value, 2, "the two oldest commands can no longer be undone");
  assert.equal(changes, 5 + 3);
});

test("snapshot commands swap whole states", () => {
  let state = "a";
  const stack = new UndoStack();
  state = "b";
  stack.push(snapshotCommand("a", "b", (s) => (state = s)));
  stack.undo();
  assert.equal(state, "a");
  stack.redo();
  assert.equal(state, "b");
});
