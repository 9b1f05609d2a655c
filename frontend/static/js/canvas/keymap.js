// One keyboard map per page: each binding names its keys, what it does (shown on screen in
// the shortcuts table) and the action. Key names: "Ctrl+Z", "Ctrl+Shift+Z", "Space",
// "ArrowLeft", "[", "+"... Ctrl also means Cmd on a Mac.

// The name of a keyboard event as bindings spell it (pure; takes any {key, ctrlKey,...}).
export function keyName(event) {
  let key = event.key;
  if (key === " " || key === "Spacebar") key = "Space";
  else if (key.length === 1) key = key.toUpperCase();
  const parts = [];
  if (event.ctrlKey || event.metaKey) parts.push("Ctrl");
  if (event.altKey) parts.push("Alt");
  // Shift is part of the name only for keys whose character it does not already change.
  if (event.shiftKey && (key.length > 1 || /[A-Z]/.test(key))) parts.push("Shift");
  parts.push(key);
  return parts.join("+");
}

const SHOWN = { ArrowLeft: "←", ArrowRight: "→", ArrowUp: "↑", ArrowDown: "↓", Delete: "Del" };

export function keyLabel(name) {
  return name
    .split("+")
    .map((part) => SHOWN[part] || part)
    .join("+");
}

export class Keymap {
  constructor() {
    this.bindings = [];
    this.byKey = new Map();
  }

  // bind(["Ctrl+Z"], "undo", () => ..., {when: () => bool, show: true, keyup})
  bind(keys, label, action, options = {}) {
    const binding = { keys, label, action, when: options.when || (() => true), show: options.show !== false };
    this.bindings.push(binding);
    for (const key of keys) {
      if (!this.byKey.has(key)) this.byKey.set(key, []);
      this.byKey.get(key).push(binding);
    }
    return this;
  }

  // Run the first enabled binding of this event; true when one ran (the caller then
  // prevents the browser's default, e.g. Space scrolling the page).
  handle(event) {
    const found = this.byKey.get(keyName(event)) || [];
    for (const binding of found) {
      if (binding.when(event)) {
        binding.action(event);
        return true;
      }
    }
    return false;
  }

  // Rows [{keys, label}] of what the page shows.
  rows() {
    return this.bindings.filter((b) => b.show).map((b) => ({ keys: b.keys.map(keyLabel), label: b.label }));
  }

  // Fill a <table> with the shortcuts, so the map on screen is the map in force.
  renderInto(table, caption = "Keys") {
    const body = document.createElement("tbody");
    for (const row of this.rows()) {
      const tr = document.createElement("tr");
      const keys = document.createElement("td");
      row.keys.forEach((k, i) => {
        if (i) keys.append(" ");
        const kbd = document.createElement("kbd");
        kbd.textContent = k;
        keys.append(kbd);
      });
      const what = document.createElement("td");
      what.textContent = row.label;
      tr.append(keys, what);
      body.append(tr);
    }
    const cap = document.createElement("caption");
    cap.textContent = caption;
    table.replaceChildren(cap, body);
  }

  // Listen on the document; keys typed into fields, or pressed in an open dialog (a
  // confirmation), stay there.
  listen(target = document) {
    const onKey = (event) => {
      const t = event.target;
      if (t && t.closest && t.closest("input:not([type=range]), textarea, select, [contenteditable], dialog[open]")) return;
      if (this.handle(event)) event.preventDefault();
    };
    target.addEventListener("keydown", onKey);
    return () => target.removeEventListener("keydown", onKey);
  }
}

// Moving a focus through a grid of `count` cells, `columns` wide (pure).
export function gridMove(index, key, columns, count) {
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns, Home: -index, End: count - 1 - index };
  if (!(key in moves) || count === 0) return index;
  return Math.max(0, Math.min(count - 1, index + moves[key]));
}
