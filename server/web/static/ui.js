// Small DOM and formatting helpers shared by the page's modules.
// Text from the server or the model is only ever set with textContent, never parsed as HTML.

/**
 * Create an element: h("button", {type: "button", class: "x", onclick: fn}, "text", child).
 * Attributes starting with "on" become listeners; `false`/null attributes are left out.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function show(node, visible) {
  node.hidden = !visible;
}

export function setError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

/** A random key (idempotency keys); works outside secure contexts too, unlike randomUUID. */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// ---- dates -------------------------------------------------------------------------------

let timeZone;

/** Show times in the user's configured timezone (falls back to the browser's). */
export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    timeZone = zone;
  } catch {
    timeZone = undefined;
  }
}

function dayKey(date) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(date);
}

/** "today 17:00", "tomorrow 09:30", "Mon 3 Mar 17:00", "3 Mar 2027 17:00". */
export function formatWhen(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const now = new Date();
  const time = new Intl.DateTimeFormat(undefined, { timeZone, timeStyle: "short" }).format(date);
  const day = dayKey(date);
  if (day === dayKey(now)) return `today ${time}`;
  if (day === dayKey(new Date(now.getTime() + 86400000))) return `tomorrow ${time}`;
  if (day === dayKey(new Date(now.getTime() - 86400000))) return `yesterday ${time}`;
  const sameYear = date.getFullYear() === now.getFullYear();
  const dateText = new Intl.DateTimeFormat(undefined, {
    timeZone,
    weekday: sameYear ? "short" : undefined,
    day: "numeric",
    month: "short",
    year: sameYear ? undefined : "numeric",
  }).format(date);
  return `${dateText} ${time}`;
}

/** The full date and time, for a title attribute or a <time> element. */
export function formatFull(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    dateStyle: "full",
    timeStyle: "short",
  }).format(date);
}

export function timeElement(iso, className) {
  return h("time", { datetime: iso, title: formatFull(iso), class: className }, formatWhen(iso));
}

// ---- toasts ------------------------------------------------------------------------------

/**
 * Show a short message at the bottom of the screen; `action` adds a button ({label, run}).
 * Stays longer when it has an action, and never steals focus.
 */
export function toast(message, { action, kind = "info", timeout } = {}) {
  const container = document.getElementById("toasts");
  const close = () => item.remove();
  const item = h(
    "div",
    { class: `toast toast-${kind}` },
    h("span", { class: "toast-text" }, message),
    action &&
      h("button", {
        type: "button",
        class: "link-button",
        onclick: () => {
          close();
          action.run();
        },
      }, action.label),
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: close }, "×"),
  );
  container.append(item);
  while (container.children.length > 3) container.firstElementChild.remove();
  setTimeout(close, timeout ?? (action ? 10000 : 5000));
  return item;
}

// ---- task labels -------------------------------------------------------------------------

const UNITS = {
  DAILY: ["day", "days"],
  WEEKLY: ["week", "weeks"],
  MONTHLY: ["month", "months"],
  YEARLY: ["year", "years"],
};
const WEEKDAYS = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };

/** "FREQ=WEEKLY;BYDAY=MO" -> "Every week on Mon"; anything unusual is shown as written. */
export function describeRecurrence(rule) {
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

export function trashIcon() {
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
