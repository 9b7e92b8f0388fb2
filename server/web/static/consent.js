// The consent page of GET /oauth/authorize: sign in (with the same stored token as the chat
// page) if needed, show which app asks and where the answer goes, then approve or deny.
// The server checks the request again on every step; the page only carries it along.

import * as api from "./api.js";
import { storedToken, storeToken } from "./session.js";
import { $, setError } from "./ui.js";

const request = location.search.slice(1);
const SECTIONS = ["#consent-loading", "#signin-form", "#consent", "#consent-failed"];

function showOnly(selector) {
  for (const section of SECTIONS) $(section).hidden = section !== selector;
}

function showSignIn(message) {
  showOnly("#signin-form");
  setError($("#signin-error"), message);
  $("#signin-token").focus();
}

function fail(message) {
  showOnly("#consent-failed");
  $("#consent-failed-message").textContent = message;
}

async function signIn(token, remember) {
  api.configure({ token });
  let me;
  try {
    me = await api.get("/api/me");
  } catch (error) {
    if (error.status === 401) {
      storeToken(null);
      showSignIn(remember ? "That token was not accepted. Check it and try again." : "");
    } else {
      showSignIn(`Could not sign in: ${error.message}`);
    }
    return;
  }
  if (remember) storeToken(token);
  await ask(me);
}

async function ask(me) {
  let consent;
  try {
    consent = await api.get(`/api/oauth/consent?${request}`);
  } catch (error) {
    fail(`${error.code}: ${error.message}`);
    return;
  }
  $("#consent-client").textContent = consent.client_name;
  $("#consent-host").textContent = consent.redirect_host;
  $("#consent-user").textContent = me.name;
  showOnly("#consent");
  $("#consent-approve").focus();
}

async function decide(approve) {
  const buttons = [$("#consent-approve"), $("#consent-deny")];
  for (const button of buttons) button.disabled = true;
  try {
    const answer = await api.post("/api/oauth/consent", { request, approve });
    const target = new URL(answer.redirect_to);
    if (["javascript:", "data:", "vbscript:", "blob:"].includes(target.protocol)) {
      throw new Error("The app's address is not one todo-agent sends you to.");
    }
    location.assign(target.href);
  } catch (error) {
    setError($("#consent-error"), error.message);
    for (const button of buttons) button.disabled = false;
  }
}

function main() {
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("#signin-token").value.trim();
    if (!token) {
      showSignIn("Paste your API token to sign in.");
      return;
    }
    signIn(token, true);
  });
  $("#consent-approve").addEventListener("click", () => decide(true));
  $("#consent-deny").addEventListener("click", () => decide(false));
  $("#consent-switch").addEventListener("click", () => {
    storeToken(null);
    api.configure({ token: null });
    showSignIn("");
  });
  const token = storedToken();
  if (token) signIn(token, false);
  else showSignIn("");
}

main();
