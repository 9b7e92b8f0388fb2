// Notifications: the bell with its unread count, the panel, mark-read, and live arrivals.

import * as api from "./api.js";
import { $, h, show, timeElement, toast } from "./ui.js";

const LIMIT = 50;
const KIND_LABEL = {
  reminder: "Reminder",
  "reminder.due": "Reminder",
  due: "Due now",
  "task.due": "Due now",
  overdue: "Overdue",
  "task.overdue": "Overdue",
};

const state = { items: [], unread: 0, unreadCapped: false };

export function initNotifications() {
  const toggle = $("#notifications-toggle");
  const panel = $("#notifications-panel");
  toggle.addEventListener("click", () => setOpen(panel.hidden));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      setOpen(false);
      toggle.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!panel.hidden && !event.target.closest(".notifications-anchor")) setOpen(false);
  });
  $("#notifications-mark-all").addEventListener("click", () => markRead(null));
}

export function resetNotifications() {
  state.items = [];
  state.unread = 0;
  state.unreadCapped = false;
  setOpen(false);
  render();
}

function setOpen(open) {
  const panel = $("#notifications-panel");
  panel.hidden = !open;
  $("#notifications-toggle").setAttribute("aria-expanded", String(open));
  if (open) panel.focus();
}

/** Fetch the latest notifications and the unread count (after sign-in and every reconnect). */
export async function loadNotifications() {
  try {
    const [latest, unread] = await Promise.all([
      api.get(`/api/notifications${api.query({ unread_only: "false", limit: LIMIT })}`),
      api.get(`/api/notifications${api.query({ unread_only: "true", limit: LIMIT })}`),
    ]);
    state.items = latest.notifications;
    state.unread = unread.notifications.length;
    state.unreadCapped = unread.notifications.length >= LIMIT;
    render();
  } catch (error) {
    if (error.status !== 401) toast(`Could not load notifications: ${error.message}`, { kind: "error" });
  }
}

/** A `notification` event from GET /api/events. */
export function onNotificationEvent(data) {
  const item = data && data.notification;
  if (!item || state.items.some((known) => known.id === item.id)) return;
  state.items = [item, ...state.items].slice(0, LIMIT);
  if (!item.read) state.unread += 1;
  render();
  toast(`${KIND_LABEL[item.kind] || "Notification"}: ${item.title}`, {
    kind: "notice",
    action: { label: "Show", run: () => setOpen(true) },
  });
}

async function markRead(ids) {
  try {
    await api.post("/api/notifications/read", ids ? { notification_ids: ids } : {});
    for (const item of state.items) if (!ids || ids.includes(item.id)) item.read = true;
    state.unread = ids ? Math.max(0, state.unread - ids.length) : 0;
    state.unreadCapped = false;
    render();
    if (!ids) $("#notifications-panel").focus();
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
}

function render() {
  const count = $("#unread-count");
  const label = state.unreadCapped ? `${state.unread}+` : String(state.unread);
  count.textContent = label;
  show(count, state.unread > 0);
  $("#notifications-toggle .visually-hidden").textContent =
    state.unread > 0 ? `Notifications, ${label} unread` : "Notifications";
  document.title = state.unread > 0 ? `(${label}) todo-agent` : "todo-agent";
  $("#notifications-mark-all").disabled = state.unread === 0;
  show($("#notifications-empty"), state.items.length === 0);
  $("#notifications-list").replaceChildren(...state.items.map(renderItem));
}

function renderItem(item) {
  return h("li", { class: `notification${item.read ? "" : " unread"}`, dataset: { id: String(item.id) } },
    h("div", { class: "notification-head" },
      h("span", { class: `kind kind-${String(item.kind).replace(/\W/g, "-")}` }, KIND_LABEL[item.kind] || item.kind),
      timeElement(item.created_at, "muted small"),
    ),
    h("p", { class: "notification-title" }, item.title),
    item.body ? h("p", { class: "notification-body" }, item.body) : null,
    item.read
      ? null
      : h("button", {
        type: "button",
        class: "link-button small",
        "aria-label": `Mark “${item.title}” read`,
        onclick: () => markRead([item.id]),
      }, "Mark read"),
  );
}
