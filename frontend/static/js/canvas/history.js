// One undo/redo stack for a drawing surface, pure (no DOM). Each entry is a command with
// undo() and redo() (redo re-applies it); the tool has already applied it when it pushes.
// A new command after undoing forgets the undone ones, as every editor does.

export class UndoStack {
  constructor({ limit = 500, onChange = () => {} } = {}) {
    this.limit = limit;
    this.onChange = onChange;
    this.done = [];
    this.undone = [];
  }

  push(command) {
    this.done.push(command);
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
    this.onChange(this);
  }

  undo() {
    const command = this.done.pop();
    if (!command) return false;
    command.undo();
    this.undone.push(command);
    this.onChange(this);
    return true;
  }

  redo() {
    const command = this.undone.pop();
    if (!command) return false;
    command.redo();
    this.done.push(command);
    this.onChange(this);
    return true;
  }

  get canUndo() {
    return this.done.length > 0;
  }

  get canRedo() {
    return this.undone.length > 0;
  }

  clear() {
    this.done = [];
    this.undone = [];
    this.onChange(this);
  }
}

// A command that swaps whole snapshots of a state (fine for small states like a polygon).
export function snapshotCommand(before, after, restore, label = "edit") {
  return { label, undo: () => restore(before), redo: () => restore(after) };
}
