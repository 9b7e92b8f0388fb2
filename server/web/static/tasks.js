// The tasks panel: filters, the list, add / complete / reopen / delete / restore,
// and live updates from the events stream.

import * as api from "./api.js";
import { $, formatWhen, h, newKey, setError, show, timeElement, toast } from "./ui.js";

const PAGE_SIZE = 50;
const PRIORITY_LABEL = { high: "High", medium: "Medium", low: "Low" };

const state = {
  filters: { status: "pending", priority: "", tag: "" },
  tasks: [],
  nextCursor: null,
  deleted: new Map(), // id -> task deleted during this visit, restorable from the panel
  highlight: new Set(), // ids changed by someone else: flash them once on the next render
  knownTags: new Set(),
  busy: new Set(), // ids with a complete / reopen request in flight
  loadSeq: 0,
  reloadTimer: null,
};

export function initTasks() {
  $("#task-add").addEventListener("submit", onAdd);
  for (const button of document.querySelectorAll("#task-filters [data-status]")) {
    button.addEventListener("click", () => {
      state.filters.status = button.dataset.status;
      for (const other of document.querySelectorAll("#task-filters [data-status]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      reload();
    });
  }
  $("#filter-priority").addEventListener("change", (event) => {
    state.filters.priority = event.target.value;
    reload();
  });
  let tagTimer;
  $("#filter-tag").addEventListener("input", (event) => {
    clearTimeout(tagTimer);
    tagTimer = setTimeout(() => {
      state.filters.tag = event.target.value.trim();
      reload();
    }, 250);
  });
  $("#task-filters").addEventListener("submit", (event) => event.preventDefault());
  $("#tasks-more").addEventListener("click", () => load({ append: true }));
}

export function resetTasks() {
  state.tasks = [];
  state.nextCursor = null;
  state.deleted.clear();
  state.highlight.clear();
  state.knownTags.clear();
  $("#task-list").replaceChildren();
  renderDeleted();
}

/** Reload the list soon; several changes in a burst cost one request. */
export function scheduleReload() {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => reload(), 150);
}

export function reload() {
  return load({ append: false });
}

/** A `task` event from GET /api/events: another client or the agent changed a task. */
export function onTaskEvent(data) {
  const task = data && data.task;
  if (!task) return;
  if (data.type === "task.deleted") state.deleted.set(task.id, task);
  if (data.type === "task.restored") state.deleted.delete(task.id);
  if (data.type !== "task.deleted") state.highlight.add(task.id);
  renderDeleted();
  scheduleReload();
}

function listQuery(cursor) {
  const { status, priority, tag } = state.filters;
  return api.query({
    status: status === "overdue" ? "pending" : status,
    overdue: status === "overdue" ? "true" : "",
    priority,
    tag,
    sort: "due",
    limit: PAGE_SIZE,
    cursor,
  });
}

async function load({ append }) {
  const seq = ++state.loadSeq;
  const list = $("#task-list");
  list.setAttribute("aria-busy", "true");
  try {
    const page = await api.get(`/api/tasks${listQuery(append ? state.nextCursor : null)}`);
    if (seq !== state.loadSeq) return; // a newer filter won
    state.tasks = append ? [...state.tasks, ...page.tasks] : page.tasks;
    state.nextCursor = page.next_cursor;
    setError($("#tasks-error"), "");
    render();
  } catch (error) {
    if (seq === state.loadSeq) setError($("#tasks-error"), error.message);
  } finally {
    if (seq === state.loadSeq) list.removeAttribute("aria-busy");
  }
}

function render() {
  const list = $("#task-list");
  const focusedRow = document.activeElement?.closest?.("#task-list .task");
  const focusedRole = document.activeElement?.dataset?.role;
  const focusedIndex = focusedRow ? [...list.children].indexOf(focusedRow) : -1;
  list.replaceChildren(...state.tasks.map(renderTask));
  state.highlight.clear();
  if (focusedRow) restoreFocus(list, focusedRow.dataset.id, focusedRole, focusedIndex);
  for (const task of state.tasks) for (const tag of task.tags || []) state.knownTags.add(tag);
  $("#known-tags").replaceChildren(...[...state.knownTags].sort().map((tag) => h("option", { value: tag })));
  show($("#tasks-empty"), state.tasks.length === 0);
  $("#tasks-empty").textContent = emptyText();
  show($("#tasks-more"), Boolean(state.nextCursor));
  const shown = state.tasks.length + (state.nextCursor ? "+" : "");
  const label = { pending: "pending", overdue: "overdue", completed: "completed", all: "in all" }[
    state.filters.status
  ];
  $("#tasks-count").textContent = `${shown} ${label}`;
}

/** Keep keyboard users where they were across a re-render, even when their row has gone. */
function restoreFocus(list, id, role, index) {
  const row = list.querySelector(`.task[data-id="${CSS.escape(id)}"]`);
  if (row) {
    row.querySelector(`[data-role="${role}"]`)?.focus();
    return;
  }
  const rows = list.children;
  const neighbour = rows[Math.min(index, rows.length - 1)];
  if (neighbour) neighbour.querySelector('[data-role="toggle"]').focus();
  else $("#task-add-title").focus();
}

function emptyText() {
  const filtered = state.filters.priority || state.filters.tag;
  if (filtered) return "No tasks match these filters.";
  return {
    pending: "Nothing pending. Add a task above or ask the assistant.",
    overdue: "Nothing overdue.",
    completed: "No completed tasks yet.",
    all: "No tasks yet. Add one above or ask the assistant.",
  }[state.filters.status];
}

function renderTask(task) {
  const checkboxId = `task-${task.id}-done`;
  const late = !task.completed && task.due && new Date(task.due) < new Date();
  const meta = [];
  if (task.due) {
    meta.push(
      h("span", { class: `meta-item due${late ? " late" : ""}` },
        late ? "Past due · " : "Due ",
        timeElement(task.due)),
    );
  }
  if (task.priority) {
    meta.push(h("span", { class: `priority priority-${task.priority}` }, PRIORITY_LABEL[task.priority] || task.priority));
  }
  if (task.recurrence) {
    meta.push(h("span", { class: "meta-item recurrence", title: `Repeats: ${task.recurrence}` },
      `↻ ${describeRecurrence(task.recurrence)}`));
  }
  for (const tag of task.tags || []) meta.push(h("span", { class: "tag" }, `#${tag}`));
  if (task.completed && task.completed_at) {
    meta.push(h("span", { class: "meta-item" }, "Done ", timeElement(task.completed_at)));
  }

  const classes = ["task"];
  if (task.completed) classes.push("completed");
  if (state.highlight.has(task.id)) classes.push("flash");

  return h("li", { class: classes.join(" "), dataset: { id: String(task.id) } },
    h("input", {
      type: "checkbox",
      id: checkboxId,
      checked: task.completed,
      "data-role": "toggle",
      onchange: (event) => toggle(task, event.target),
    }),
    h("div", { class: "task-body" },
      h("label", { for: checkboxId, class: "task-title" }, task.title),
      meta.length ? h("div", { class: "task-meta" }, meta) : null,
      task.description ? h("p", { class: "task-description" }, task.description) : null,
    ),
    h("button", {
      type: "button",
      class: "icon-button danger",
      "data-role": "delete",
      "aria-label": `Delete “${task.title}”`,
      title: "Delete",
      onclick: () => remove(task),
    }, trashIcon()),
  );
}

const UNITS = {
  DAILY: ["day", "days"],
  WEEKLY: ["week", "weeks"],
  MONTHLY: ["month", "months"],
  YEARLY: ["year", "years"],
};
const WEEKDAYS = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };

/** "FREQ=WEEKLY;BYDAY=MO" -> "Every week on Mon"; anything unusual is shown as written. */
function describeRecurrence(rule) {
  const simple = { daily: "DAILY", weekly: "WEEKLY", monthly: "MONTHLY", yearly: "YEARLY" };
  const parts = {};
  if (simple[rule.toLowerCase()]) {
    parts.FREQ = simple[rule.toLowerCase()];
  } else {
    for (const part of rule.replace(/^RRULE:/i, "").split(";")) {
      const [key, value] = part.split("=");
      if (key && value) parts[key.toUpperCase()] = value.toUpperCase();
    }
  }
  const unit = UNITS[parts.FREQ];
  if (!unit) return rule;
  const interval = Number(parts.INTERVAL || 1);
  let text = interval === 1 ? `Every ${unit[0]}` : `Every ${interval} ${unit[1]}`;
  if (parts.BYDAY) {
    const days = parts.BYDAY.split(",").map((day) => WEEKDAYS[day] || day);
    text += ` on ${days.join(", ")}`;
  }
  return text;
}

function trashIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M9 3h6l1 2h4v2H4V5h4l1-2Zm-3 6h12l-1 12H7L6 9Zm4 2v8h2v-8h-2Zm4 0v8h2v-8h-2Z");
  svg.append(path);
  return svg;
}

async function toggle(task, checkbox) {
  // Not `disabled`: that would drop keyboard focus. A second toggle mid-request is undone.
  if (state.busy.has(task.id)) {
    checkbox.checked = !checkbox.checked;
    return;
  }
  state.busy.add(task.id);
  checkbox.setAttribute("aria-busy", "true");
  try {
    if (checkbox.checked) {
      const result = await api.post(`/api/tasks/${task.id}/complete`);
      const next = result.next_occurrence;
      toast(next && next.due
        ? `Completed “${task.title}”. Next one is due ${formatWhen(next.due)}.`
        : `Completed “${task.title}”.`,
      { action: { label: "Undo", run: () => reopen(task) } });
    } else {
      await reopen(task);
    }
  } catch (error) {
    checkbox.checked = !checkbox.checked;
    toast(error.message, { kind: "error" });
  } finally {
    state.busy.delete(task.id);
    checkbox.removeAttribute("aria-busy");
    scheduleReload();
  }
}

async function reopen(task) {
  try {
    await api.post(`/api/tasks/${task.id}/reopen`);
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  scheduleReload();
}

async function remove(task) {
  try {
    const deleted = await api.del(`/api/tasks/${task.id}`);
    state.deleted.set(task.id, deleted || task);
    renderDeleted();
    toast(`Deleted “${task.title}”.`, { action: { label: "Undo", run: () => restore(task) } });
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  scheduleReload();
}

async function restore(task) {
  try {
    await api.post(`/api/tasks/${task.id}/restore`);
    state.deleted.delete(task.id);
    renderDeleted();
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  scheduleReload();
}

function renderDeleted() {
  const tasks = [...state.deleted.values()].reverse();
  $("#deleted-count").textContent = String(tasks.length);
  show($("#deleted"), tasks.length > 0);
  $("#deleted-list").replaceChildren(...tasks.map((task) =>
    h("li", {},
      h("span", { class: "deleted-title" }, task.title),
      h("button", {
        type: "button",
        class: "subtle small",
        "aria-label": `Restore “${task.title}”`,
        onclick: () => restore(task),
      }, "Restore"),
    )));
}

async function onAdd(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const fields = form.elements;
  const error = $("#task-add-error");
  const title = fields.title.value.trim();
  if (!title) {
    setError(error, "Give the task a title.");
    fields.title.focus();
    return;
  }
  const body = { title };
  const due = fields.due.value.trim();
  if (due) body.due = due;
  if (fields.priority.value) body.priority = fields.priority.value;
  const tags = fields.tags.value.split(",").map((tag) => tag.trim()).filter(Boolean);
  if (tags.length) body.tags = tags;

  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const task = await api.post("/api/tasks", body, { "Idempotency-Key": newKey() });
    setError(error, "");
    form.reset();
    state.highlight.add(task.id);
    fields.title.focus();
  } catch (failure) {
    setError(error, failure.message);
  } finally {
    submit.disabled = false;
    scheduleReload();
  }
}
