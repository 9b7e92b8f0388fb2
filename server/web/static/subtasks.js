// Subtasks on the page: the list's order with each subtask under its parent, and the field
// that adds a subtask.

import * as api from "./api.js";
import { h, newKey, toast } from "./ui.js";

export const DEPTH_MAX = 4;

/** [task, depth] in display order: each subtask right under its parent (when its parent is
 * listed too), the others in the list's own order. */
export function tree(tasks) {
  const listed = new Set(tasks.map((task) => task.id));
  const children = new Map();
  for (const task of tasks) {
    if (task.parent_id !== null && listed.has(task.parent_id)) {
      if (!children.has(task.parent_id)) children.set(task.parent_id, []);
      children.get(task.parent_id).push(task);
    }
  }
  const ordered = [];
  const visit = (task, depth) => {
    ordered.push([task, depth]);
    for (const child of children.get(task.id) || []) visit(child, depth + 1);
  };
  for (const task of tasks) {
    if (task.parent_id === null || !listed.has(task.parent_id)) visit(task, 1);
  }
  return ordered;
}

/** The field that adds a subtask under `parent`; `onAdded(task)` or `onCancel()` after. */
export function renderSubtaskForm(parent, depth, { onAdded, onCancel }) {
  const input = h("input", {
    id: `subtask-of-${parent.id}`,
    type: "text",
    maxlength: "500",
    placeholder: "Subtask…",
    autocomplete: "off",
    "aria-label": `New subtask of “${parent.title}”`,
    onkeydown: (event) => {
      if (event.key === "Escape") onCancel();
    },
  });
  return h("li", { class: `subtask-add depth-${Math.min(depth + 1, DEPTH_MAX)}` },
    h("form", {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const title = input.value.trim();
        if (!title) return;
        try {
          const task = await api.post("/api/tasks", { title, parent_id: parent.id },
            { "Idempotency-Key": newKey() });
          onAdded(task);
        } catch (error) {
          toast(error.message, { kind: "error" });
        }
      },
    }, input, h("button", { type: "submit", class: "subtle small" }, "Add")));
}
