// Entry point of the web page: sign-in (token from the URL fragment or the form, kept in
// localStorage), sign-out, the live events stream, and the narrow-screen layout.

import * as api from "./api.js";
import { initCalendar, resetCalendar } from "./calendar.js";
import { initChat, loadConversations, resetChat } from "./chat.js";
import { initDetails, onCommentEvent, resetDetails } from "./details.js";
import { initNext, resetNext, scheduleNextReload } from "./next.js";
import {
  initNotifications,
  loadNotifications,
  onNotificationEvent,
  resetNotifications,
} from "./notifications.js";
import { initProjects, loadProjects, onProjectEvent, resetProjects } from "./projects.js";
import {
  initTasks,
  onTaskEvent,
  reload as reloadTasks,
  resetTasks,
  scheduleReload as scheduleTaskReload,
} from "./tasks.js";
import { initApps, resetApps } from "./apps.js";
import { storedToken, storeToken } from "./session.js";
import { $, setError, setTimeZone } from "./ui.js";

const LIVE_LABEL = { connecting: "Connecting…", live: "Live", offline: "Offline, retrying…" };

let session = null; // { controller } while signed in
let liveState = "connecting";

// ---- token from the address bar ----------------------------------------------------------

/** Take `#token=...` from the address bar (the URL printed at first start) and clear it. */
function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token !== null) history.replaceState(null, "", location.pathname + location.search);
  return token ? token.trim() : null;
}

// ---- sign-in and sign-out ----------------------------------------------------------------

function showSignIn(message, token = "") {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  setError($("#signin-error"), message);
  const input = $("#signin-token");
  input.value = token;
  input.focus();
}

async function signIn(token) {
  api.configure({ token, onUnauthorized: expired });
  const button = $("#signin-form button[type=submit]");
  button.disabled = true;
  try {
    const me = await api.get("/api/me");
    storeToken(token);
    startSession(me);
  } catch (error) {
    if (error.status === 401) {
      storeToken(null);
      showSignIn("That token was not accepted. Check it, or create a new one with "
        + "“todo-agent token create NAME”.");
    } else {
      // Keep the token: the server may just be down for a moment.
      showSignIn(`Could not sign in: ${error.message}`, token);
    }
  } finally {
    button.disabled = false;
  }
}

function expired() {
  if (!session) return; // a 401 during sign-in is handled there
  signOut("Your token is no longer accepted (it may have been revoked). Sign in again.");
}

function signOut(message) {
  session?.controller.abort();
  session = null;
  storeToken(null);
  api.configure({ token: null });
  resetChat();
  resetTasks();
  resetProjects();
  resetDetails();
  resetNext();
  resetNotifications();
  resetApps();
  resetCalendar();
  showSignIn(message);
}

function startSession(me) {
  session?.controller.abort();
  session = { controller: new AbortController() };
  setTimeZone(me.timezone);
  $("#user-name").textContent = me.name;
  $("#user-name").title = me.email ? `${me.name} <${me.email}>` : me.name;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  setError($("#signin-error"), "");
  $("#signin-token").value = "";

  loadProjects();
  reloadTasks();
  loadNotifications();
  loadConversations();
  followLiveEvents(session.controller.signal);
  $("#composer-input").focus();
}

function followLiveEvents(signal) {
  let opened = 0;
  const reload = () => {
    loadProjects();
    reloadTasks();
    scheduleNextReload();
    loadNotifications();
  };
  api.followEvents({
    signal,
    onState: setLiveState,
    onOpen: ({ resumed }) => {
      // A reconnect with an event id gets what it missed replayed; without one, reload.
      if (opened++ > 0 && !resumed) reload();
    },
    onEvent: ({ event, data }) => {
      if (event === "task") {
        onTaskEvent(data);
        onProjectEvent(); // the open-task counts change
        scheduleNextReload();
      } else if (event === "project") {
        onProjectEvent();
        scheduleTaskReload();
      } else if (event === "comment") {
        onCommentEvent(data);
      } else if (event === "notification") {
        onNotificationEvent(data);
      } else if (event === "reset") {
        reload(); // the server no longer has what we missed
      }
    },
  });
}

function setLiveState(state) {
  liveState = state;
  const status = $("#live-status");
  status.dataset.state = state;
  status.querySelector(".label").textContent = LIVE_LABEL[state];
}

// ---- layout ------------------------------------------------------------------------------

/** On a narrow screen, show the chat or the tasks. */
function setView(view) {
  $(".layout").dataset.view = view;
  for (const tab of document.querySelectorAll(".view-tabs .tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.view === view));
  }
}

function initLayout() {
  const layout = $(".layout");
  for (const tab of document.querySelectorAll(".view-tabs .tab")) {
    tab.addEventListener("click", () => setView(tab.dataset.view));
  }
  const toggle = $("#conversations-toggle");
  toggle.addEventListener("click", () => setDrawer(!layout.classList.contains("drawer-open")));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && layout.classList.contains("drawer-open")) {
      setDrawer(false);
      toggle.focus();
    }
  });
  document.addEventListener("click", (event) => {
    const inside = event.target.closest("#conversations, #conversations-toggle");
    if (!inside && layout.classList.contains("drawer-open")) setDrawer(false);
  });
}

function setDrawer(open) {
  $(".layout").classList.toggle("drawer-open", open);
  $("#conversations-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("#new-conversation").focus();
}

// ---- start -------------------------------------------------------------------------------

function main() {
  initLayout();
  initChat({
    onConversationChosen: () => {
      setDrawer(false);
      setView("chat");
    },
    // Live events normally refresh the tasks; without them, refresh after each tool.
    onToolResult: () => {
      if (liveState === "live") return;
      scheduleTaskReload();
      onProjectEvent();
    },
  });
  initTasks();
  initProjects({ onSelect: () => reloadTasks() });
  initDetails({ onTaskChanged: () => scheduleTaskReload() });
  initNext({
    onShown: (shown) => {
      $("#task-list").hidden = shown;
      $("#task-filters").hidden = shown;
    },
  });
  initNotifications();
  initApps();
  initCalendar();

  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("#signin-token").value.trim();
    if (!token) {
      showSignIn("Paste your API token to sign in.");
      return;
    }
    signIn(token);
  });
  $("#signout").addEventListener("click", () => signOut(""));
  window.addEventListener("hashchange", () => {
    const token = takeTokenFromFragment();
    if (token) {
      session?.controller.abort();
      session = null;
      signIn(token);
    }
  });

  const token = takeTokenFromFragment() || storedToken();
  if (token) signIn(token);
  else showSignIn("");
}

main();
