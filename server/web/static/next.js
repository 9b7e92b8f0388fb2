// The "What next" view: the server's ranking of the open tasks, each with its reasons.

import * as api from "./api.js";
import { $, h, setError, show } from "./ui.js";

let shown = false;
let reloadTimer = null;

export function initNext({ onShown }) {
  $("#next-toggle").addEventListener("click", () => {
    setShown(!shown);
    onShown(shown);
  });
}

export function resetNext() {
  setShown(false);
  $("#next-list").replaceChildren();
}

export const nextShown = () => shown;

function setShown(value) {
  shown = value;
  $("#next-toggle").setAttribute("aria-pressed", String(shown));
  show($("#next"), shown);
  if (shown) loadNext();
}

/** Tasks changed: refresh the ranking if it is on screen. */
export function scheduleNextReload() {
  if (!shown) return;
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(loadNext, 150);
}

async function loadNext() {
  try {
    const ranked = await api.get("/api/next?limit=10");
    $("#next-list").replaceChildren(...ranked.tasks.map(({ task, reasons }) =>
      h("li", { class: "next-item", dataset: { id: String(task.id) } },
        h("span", { class: "next-title" }, task.title),
        h("span", { class: "next-reasons" }, reasons.join(" · ")))));
    show($("#next-empty"), ranked.tasks.length === 0);
    setError($("#next-error"), "");
  } catch (error) {
    setError($("#next-error"), error.message);
  }
}
