// A task's details, opened under its row: its reminders (add, remove) and its comments
// (read, add). Comments are fetched when the details open and again on `comment` events.

import * as api from "./api.js";
import { formatWhen, h, timeElement, toast } from "./ui.js";

const comments = new Map(); // task id -> comments, for the open details
const open = new Set(); // task ids whose details are open
// What the user has typed, by field and task: a live update re-renders the list meanwhile.
const drafts = new Map();
let onChanged = () => {};

export function initDetails({ onTaskChanged }) {
  onChanged = onTaskChanged;
}

export function resetDetails() {
  comments.clear();
  open.clear();
  drafts.clear();
}

/** An input that keeps what is typed in it across re-renders, under `key`. */
function drafted(tag, key, attrs) {
  const node = h(tag, { ...attrs, oninput: (event) => drafts.set(key, event.target.value) });
  node.value = drafts.get(key) || "";
  return node;
}

export const isOpen = (taskId) => open.has(taskId);

export function toggleDetails(taskId) {
  if (open.has(taskId)) {
    open.delete(taskId);
  } else {
    open.add(taskId);
    loadComments(taskId);
  }
}

/** A `comment` event: refresh that task's comments if its details are open. */
export function onCommentEvent(data) {
  const taskId = data?.comment?.task_id;
  if (open.has(taskId)) loadComments(taskId);
}

async function loadComments(taskId) {
  try {
    const found = await api.get(`/api/tasks/${taskId}/comments`);
    comments.set(taskId, found.comments);
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  const node = document.querySelector(`.task-details[data-task="${taskId}"] .comments`);
  if (node) node.replaceWith(renderComments(taskId));
}

/** The details block of `task` (reminders and comments). */
export function renderDetails(task) {
  return h("div", { class: "task-details", dataset: { task: String(task.id) } },
    renderReminders(task),
    renderComments(task.id));
}

function reminderSpec(reminder) {
  return reminder.at ? { at: reminder.at } : { before_minutes: reminder.before_minutes };
}

function describeReminder(reminder) {
  const when = reminder.at
    ? `At ${formatWhen(reminder.at)}`
    : `${reminder.before_minutes} min before due`;
  if (reminder.fired) return `${when} (sent)`;
  if (!reminder.fires_at) return `${when} (once it has a due time)`;
  return reminder.at ? when : `${when}: ${formatWhen(reminder.fires_at)}`;
}

function renderReminders(task) {
  const items = task.reminders.map((reminder) =>
    h("li", {},
      h("span", {}, describeReminder(reminder)),
      h("button", {
        type: "button",
        class: "icon-button",
        "aria-label": `Remove reminder “${describeReminder(reminder)}”`,
        onclick: () => saveReminders(task, task.reminders.filter((r) => r !== reminder).map(reminderSpec)),
      }, "×")));
  const draftKey = `reminder:${task.id}`;
  const input = drafted("input", draftKey, {
    type: "text",
    name: "when",
    placeholder: "30 (minutes before) or friday 8am",
    "aria-label": `New reminder for “${task.title}”`,
    autocomplete: "off",
  });
  const form = h("form", {
    class: "inline-form",
    onsubmit: (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const added = /^\d+$/.test(text) ? { before_minutes: Number(text) } : { at: text };
      drafts.delete(draftKey);
      saveReminders(task, [...task.reminders.map(reminderSpec), added]);
    },
  }, input, h("button", { type: "submit", class: "subtle small" }, "Add reminder"));
  return h("section", { class: "reminders", "aria-label": `Reminders of “${task.title}”` },
    h("h3", {}, "Reminders"),
    items.length ? h("ul", { class: "detail-list" }, items) : h("p", { class: "muted small" }, "No reminders."),
    task.reminders.length < 5 ? form : null);
}

async function saveReminders(task, reminders) {
  try {
    await api.patch(`/api/tasks/${task.id}`, { reminders });
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  onChanged();
}

function renderComments(taskId) {
  const found = comments.get(taskId);
  const list = found === undefined
    ? h("p", { class: "muted small" }, "Loading…")
    : found.length
      ? h("ul", { class: "detail-list comment-list" }, found.map((comment) =>
        h("li", {}, h("span", { class: "comment-text" }, comment.text), timeElement(comment.created_at, "muted small"))))
      : h("p", { class: "muted small" }, "No comments yet.");
  const draftKey = `comment:${taskId}`;
  const text = drafted("textarea", draftKey, {
    rows: "2",
    maxlength: "10000",
    "aria-label": "New comment",
    required: true,
  });
  const form = h("form", {
    class: "inline-form",
    onsubmit: async (event) => {
      event.preventDefault();
      const typed = drafts.get(draftKey) || text.value;
      if (!typed.trim()) return;
      try {
        await api.post(`/api/tasks/${taskId}/comments`, { text: typed });
        drafts.delete(draftKey);
        text.value = "";
        await loadComments(taskId);
      } catch (error) {
        toast(error.message, { kind: "error" });
      }
    },
  }, text, h("button", { type: "submit", class: "subtle small" }, "Comment"));
  return h("section", { class: "comments", "aria-label": "Comments" }, h("h3", {}, "Comments"), list, form);
}
