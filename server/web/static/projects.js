// The projects panel: the user's projects with their open-task counts; choosing one filters
// the tasks; add, rename, archive (undo) and delete (undo) a project; live updates.

import * as api from "./api.js";
import { $, h, setError, toast } from "./ui.js";

const state = {
  projects: [], // live projects, the Inbox first (archived ones too when shown)
  names: new Map(), // id -> name, for labelling tasks
  selected: null, // project id, or null for every project
  showArchived: false,
  renaming: null, // project id being renamed
  onSelect: () => {},
  reloadTimer: null,
};

/** `onSelect(projectId | null)` runs when the chosen project changes. */
export function initProjects({ onSelect }) {
  state.onSelect = onSelect;
  $("#project-add").addEventListener("submit", onAdd);
  $("#projects-archived").addEventListener("click", (event) => {
    state.showArchived = !state.showArchived;
    event.currentTarget.setAttribute("aria-pressed", String(state.showArchived));
    event.currentTarget.textContent = state.showArchived ? "Hide archived" : "Show archived";
    loadProjects();
  });
}

export function resetProjects() {
  state.projects = [];
  state.names.clear();
  state.selected = null;
  state.renaming = null;
  $("#project-list").replaceChildren();
}

export const selectedProject = () => state.selected;
export const projectName = (id) => state.names.get(id);

export async function loadProjects() {
  try {
    const found = await api.get(
      `/api/projects${api.query({ include_archived: state.showArchived ? "true" : "" })}`,
    );
    state.projects = found.projects;
    for (const project of found.projects) state.names.set(project.id, project.name);
    if (state.selected !== null && !found.projects.some((p) => p.id === state.selected)) {
      choose(null); // it was deleted (or archived and hidden) meanwhile
    }
    setError($("#project-error"), "");
    render();
  } catch (error) {
    setError($("#project-error"), error.message);
  }
}

/** A `project` event from GET /api/events (the agent or another client changed one). */
export function onProjectEvent() {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(loadProjects, 150);
}

function choose(projectId) {
  state.selected = projectId;
  render();
  state.onSelect(projectId);
}

function render() {
  const all = h("li", { class: "project" },
    h("button", {
      type: "button",
      class: "project-select",
      "aria-pressed": String(state.selected === null),
      onclick: () => choose(null),
    }, "All projects"));
  $("#project-list").replaceChildren(all, ...state.projects.map(renderProject));
  const renaming = $("#project-list .project-rename input");
  if (renaming) renaming.focus();
}

function renderProject(project) {
  const dot = h("span", { class: "project-dot", "aria-hidden": "true" });
  if (project.color) dot.style.backgroundColor = project.color; // CSSOM: allowed by the CSP
  if (state.renaming === project.id) return renderRename(project, dot);
  const label = `${project.name}${project.archived ? " (archived)" : ""}`;
  const actions = project.inbox ? [] : [
    h("button", {
      type: "button",
      class: "icon-button",
      "aria-label": `Rename “${project.name}”`,
      title: "Rename",
      onclick: () => {
        state.renaming = project.id;
        render();
      },
    }, "✎"),
    h("button", {
      type: "button",
      class: "icon-button",
      "aria-label": `${project.archived ? "Unarchive" : "Archive"} “${project.name}”`,
      title: project.archived ? "Unarchive" : "Archive",
      onclick: () => setArchived(project, !project.archived),
    }, project.archived ? "↺" : "⤓"),
    h("button", {
      type: "button",
      class: "icon-button danger",
      "aria-label": `Delete project “${project.name}”`,
      title: "Delete",
      onclick: () => remove(project),
    }, "×"),
  ];
  return h("li", { class: `project${project.archived ? " archived" : ""}`, dataset: { id: String(project.id) } },
    h("button", {
      type: "button",
      class: "project-select",
      "aria-pressed": String(state.selected === project.id),
      onclick: () => choose(project.id),
    }, dot, h("span", { class: "project-name" }, label),
    h("span", { class: "project-count", "aria-label": `${project.open_tasks} open` }, String(project.open_tasks))),
    ...actions);
}

function renderRename(project, dot) {
  const input = h("input", {
    type: "text",
    value: project.name,
    maxlength: "120",
    "aria-label": `New name for “${project.name}”`,
    onkeydown: (event) => {
      if (event.key === "Escape") {
        state.renaming = null;
        render();
      }
    },
  });
  const form = h("form", {
    class: "project-rename",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api.patch(`/api/projects/${project.id}`, { name: input.value.trim() });
        state.renaming = null;
        await loadProjects();
      } catch (error) {
        toast(error.message, { kind: "error" });
      }
    },
  }, dot, input, h("button", { type: "submit", class: "subtle small" }, "Save"));
  return h("li", { class: "project" }, form);
}

async function onAdd(event) {
  event.preventDefault();
  const input = event.currentTarget.elements.name;
  const name = input.value.trim();
  if (!name) return;
  try {
    const project = await api.post("/api/projects", { name });
    input.value = "";
    setError($("#project-error"), "");
    await loadProjects();
    choose(project.id);
  } catch (error) {
    setError($("#project-error"), error.message);
  }
}

async function setArchived(project, archived) {
  try {
    await api.patch(`/api/projects/${project.id}`, { archived });
    const undo = { label: "Undo", run: () => setArchived(project, !archived) };
    toast(`${archived ? "Archived" : "Unarchived"} “${project.name}”.`, { action: undo });
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  await loadProjects();
  state.onSelect(state.selected); // its tasks leave (or rejoin) the lists
}

async function remove(project) {
  try {
    const change = await api.del(`/api/projects/${project.id}`);
    const count = change.task_ids.length;
    toast(`Deleted “${project.name}” and ${count} task${count === 1 ? "" : "s"}.`, {
      action: { label: "Undo", run: () => restore(project) },
    });
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  await loadProjects();
  state.onSelect(state.selected);
}

async function restore(project) {
  try {
    await api.post(`/api/projects/${project.id}/restore`);
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  await loadProjects();
  state.onSelect(state.selected);
}
