// Connected apps: the OAuth grants of the signed-in user (Claude, ChatGPT, ...), each revocable.

import * as api from "./api.js";
import { $, h, show, timeElement, toast } from "./ui.js";

const state = { grants: [], mcpUrl: "" };

export function initApps() {
  const toggle = $("#apps-toggle");
  const panel = $("#apps-panel");
  toggle.addEventListener("click", () => setOpen(panel.hidden));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      setOpen(false);
      toggle.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!panel.hidden && !event.target.closest(".apps-anchor")) setOpen(false);
  });
}

export function resetApps() {
  state.grants = [];
  setOpen(false);
  render();
}

function setOpen(open) {
  const panel = $("#apps-panel");
  panel.hidden = !open;
  $("#apps-toggle").setAttribute("aria-expanded", String(open));
  if (open) {
    panel.focus();
    load();
  }
}

async function load() {
  try {
    const [listed, resource] = await Promise.all([
      api.get("/api/oauth/grants"),
      state.mcpUrl ? null : api.get("/.well-known/oauth-protected-resource"),
    ]);
    state.grants = listed.grants;
    if (resource) state.mcpUrl = resource.resource;
    render();
  } catch (error) {
    if (error.status !== 401) toast(`Could not load connected apps: ${error.message}`, { kind: "error" });
  }
}

async function revoke(grant) {
  try {
    await api.del(`/api/oauth/grants/${grant.id}`);
    state.grants = state.grants.filter((known) => known.id !== grant.id);
    render();
    toast(`${grant.client_name} is disconnected.`);
    $("#apps-panel").focus();
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
}

function render() {
  show($("#apps-empty"), state.grants.length === 0);
  $("#apps-mcp-url").textContent = state.mcpUrl;
  show($("#apps-help"), Boolean(state.mcpUrl));
  $("#apps-list").replaceChildren(...state.grants.map(renderItem));
}

function renderItem(grant) {
  return h("li", { class: "connected-app", dataset: { id: String(grant.id) } },
    h("div", { class: "connected-app-text" },
      h("p", { class: "connected-app-name" }, grant.client_name),
      h("p", { class: "muted small" }, "Connected ", timeElement(grant.created_at)),
      h("p", { class: "muted small" },
        grant.last_used_at ? ["Last used ", timeElement(grant.last_used_at)] : "Not used yet"),
    ),
    h("button", {
      type: "button",
      class: "subtle small",
      "aria-label": `Revoke “${grant.client_name}”`,
      onclick: () => revoke(grant),
    }, "Revoke"),
  );
}
