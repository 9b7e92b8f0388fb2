// The calendar feed: the user's secret feed address (loaded when the panel opens), copy,
// and "New address", which ends the old one.

import * as api from "./api.js";
import { $, setError, show, toast } from "./ui.js";

let loaded = false;

export function initCalendar() {
  const panel = $("#calendar");
  panel.addEventListener("toggle", () => {
    if (panel.open && !loaded) load();
  });
  $("#calendar-copy").addEventListener("click", copy);
  $("#calendar-rotate").addEventListener("click", rotate);
}

export function resetCalendar() {
  loaded = false;
  $("#calendar").open = false;
  render(null);
}

async function load() {
  try {
    render(await api.get("/api/calendar"));
    loaded = true;
  } catch (error) {
    setError($("#calendar-error"), `Could not load the calendar address: ${error.message}`);
  }
}

async function rotate() {
  const question = "Make a new calendar address? Calendars subscribed to the current one "
    + "stop receiving your tasks until you subscribe them again.";
  if (!window.confirm(question)) return;
  const button = $("#calendar-rotate");
  button.disabled = true;
  try {
    render(await api.post("/api/calendar/rotate"));
    loaded = true;
    toast("New calendar address made; the old one no longer works.");
  } catch (error) {
    setError($("#calendar-error"), `Could not make a new address: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

async function copy() {
  const input = $("#calendar-url");
  if (!input.value) return;
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    toast("Calendar address copied.");
  } catch {
    // No clipboard outside secure contexts: the address is selected for Ctrl+C.
    toast("Press Ctrl+C to copy the selected address.");
  }
}

function render(calendar) {
  setError($("#calendar-error"), "");
  $("#calendar-url").value = calendar ? calendar.feed_url : "";
  const webcal = $("#calendar-webcal");
  webcal.href = calendar ? calendar.webcal_url : "#";
  show(webcal, Boolean(calendar));
}
