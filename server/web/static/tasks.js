// The tasks panel: filters, the list (subtasks indented under their parent), add / add a
// subtask / complete / reopen / delete / restore, a task's details, and live updates from
// the events stream.

import * as api from "./api.js";
import { isOpen, renderDetails, toggleDetails } from "./details.js";
import { projectName, selectedProject } from "./projects.js";
import { DEPTH_MAX, renderSubtaskForm, tree } from "./subtasks.js";
import {
  $,
  describeRecurrence,
  formatWhen,
  h,
  newKey,
  setError,
  show,
  timeElement,
  toast,
  trashIcon,
} from "./ui.js";

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
  addingSubtaskTo: null, // id of the task whose "add a subtask" field is open
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
  state.addingSubtaskTo = null;
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
    project: selectedProject() ?? "",
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
  list.replaceChildren(...tree(state.tasks).flatMap(([task, depth]) => renderRows(task, depth)));
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

function renderRows(task, depth) {
  const rows = [renderTask(task, depth)];
  if (state.addingSubtaskTo === task.id) {
    rows.push(renderSubtaskForm(task, depth, {
      onAdded: (added) => {
        state.highlight.add(added.id);
        state.addingSubtaskTo = null;
        scheduleReload();
      },
      onCancel: () => {
        state.addingSubtaskTo = null;
        render();
      },
    }));
  }
  return rows;
}

function renderTask(task, depth) {
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
  if (task.open_subtasks) {
    const count = task.open_subtasks;
    meta.push(h("span", { class: "meta-item" }, `${count} open subtask${count === 1 ? "" : "s"}`));
  }
  if (selectedProject() === null && projectName(task.project_id) && depth === 1) {
    meta.push(h("span", { class: "meta-item project-label" }, projectName(task.project_id)));
  }
  const upcoming = task.reminders
    .filter((reminder) => reminder.fires_at && !reminder.fired)
    .map((reminder) => reminder.fires_at)
    .sort()[0];
  if (upcoming && !task.completed) {
    meta.push(h("span", { class: "meta-item" }, "Reminder ", timeElement(upcoming)));
  }

  const classes = ["task", `depth-${Math.min(depth, DEPTH_MAX)}`];
  if (task.completed) classes.push("completed");
  if (state.highlight.has(task.id)) classes.push("flash");
  const open = isOpen(task.id);

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
      h("div", { class: "task-actions" },
        depth < DEPTH_MAX && !task.completed
          ? h("button", {
            type: "button",
            class: "link-button",
            "data-role": "add-subtask",
            "aria-label": `Add a subtask to “${task.title}”`,
            onclick: () => openSubtaskForm(task),
          }, "+ Subtask")
          : null,
        h("button", {
          type: "button",
          class: "link-button",
          "data-role": "details",
          "aria-expanded": String(open),
          "aria-label": `Details of “${task.title}”`,
          onclick: () => {
            toggleDetails(task.id);
            render();
          },
        }, open ? "Hide details" : "Details"),
      ),
      open ? renderDetails(task) : null,
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

function openSubtaskForm(task) {
  state.addingSubtaskTo = task.id;
  render();
  $(`#subtask-of-${task.id}`)?.focus();
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
  if (selectedProject() !== null) body.project = selectedProject();

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
