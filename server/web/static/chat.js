// The chat: conversation list, message history, the composer and the streamed reply
// (POST /api/chat answers text/event-stream: conversation, delta, tool_call, tool_result,
// done | error).

import * as api from "./api.js";
import { $, formatWhen, h, show, toast } from "./ui.js";
import { renderRichText } from "./richtext.js";

const state = {
  conversationId: null,
  conversations: [],
  controller: null, // AbortController of the reply being streamed
};

export function initChat({ onConversationChosen, onToolResult }) {
  welcomeNode = $("#chat-welcome"); // kept, to show again for each new conversation
  const input = $("#composer-input");
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  input.addEventListener("input", autosize);
  $("#composer-stop").addEventListener("click", () => state.controller?.abort());
  $("#new-conversation").addEventListener("click", () => {
    openConversation(null);
    onConversationChosen();
  });
  for (const button of document.querySelectorAll(".suggestion")) {
    button.addEventListener("click", () => {
      input.value = button.textContent;
      send();
    });
  }
  state.onConversationChosen = onConversationChosen;
  state.onToolResult = onToolResult;
}

export function resetChat() {
  state.controller?.abort();
  state.conversations = [];
  openConversation(null, { focus: false });
  renderConversations();
}

function autosize() {
  const input = $("#composer-input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

// ---- conversations -----------------------------------------------------------------------

export async function loadConversations() {
  try {
    const body = await api.get("/api/conversations");
    state.conversations = body.conversations;
    renderConversations();
  } catch (error) {
    if (error.status !== 401) toast(`Could not load conversations: ${error.message}`, { kind: "error" });
  }
}

function renderConversations() {
  const list = $("#conversation-list");
  list.replaceChildren(...state.conversations.map((conversation) => {
    const current = conversation.id === state.conversationId;
    return h("li", {},
      h("button", {
        type: "button",
        class: "conversation",
        "aria-current": current ? "true" : false,
        onclick: () => {
          openConversation(conversation.id);
          state.onConversationChosen();
        },
      },
      h("span", { class: "conversation-title" }, conversation.title || "Untitled conversation"),
      h("span", { class: "conversation-date" }, formatWhen(conversation.updated_at))),
    );
  }));
  show($("#conversations-empty"), state.conversations.length === 0);
  const active = state.conversations.find((c) => c.id === state.conversationId);
  $("#chat-heading").textContent = state.conversationId
    ? active?.title || "Conversation"
    : "New conversation";
}

async function openConversation(id, { focus = true } = {}) {
  state.controller?.abort();
  state.conversationId = id;
  const messages = $("#messages");
  messages.replaceChildren();
  renderConversations();
  if (id === null) {
    messages.append(welcome());
    if (focus) $("#composer-input").focus();
    return;
  }
  messages.setAttribute("aria-busy", "true");
  try {
    const conversation = await api.get(`/api/conversations/${id}`);
    if (state.conversationId !== id) return;
    renderHistory(conversation.messages);
    $("#chat-heading").textContent = conversation.title || "Conversation";
  } catch (error) {
    messages.append(errorBubble(error.message));
  } finally {
    messages.removeAttribute("aria-busy");
    scrollToEnd(true);
    if (focus) $("#composer-input").focus();
  }
}

let welcomeNode = null;
function welcome() {
  return welcomeNode;
}

// ---- rendering messages ------------------------------------------------------------------

/** An assistant turn: text blocks and tool calls in the order they happened. */
class AssistantTurn {
  constructor() {
    this.node = h("div", { class: "msg assistant" });
    this.text = null; // the text block being streamed into
    this.textSoFar = "";
    this.tools = new Map();
  }

  appendText(delta) {
    if (!this.text) {
      this.text = h("div", { class: "msg-text" });
      this.textSoFar = "";
      this.node.append(this.text);
    }
    this.textSoFar += delta;
    renderRichText(this.text, this.textSoFar);
  }

  addToolCall({ id, name, arguments: args }) {
    this.text = null; // text after a tool call starts a new block
    const status = h("span", { class: "tool-status running" }, "running…");
    const body = h("div", { class: "tool-body" },
      h("div", { class: "tool-label" }, "Arguments"),
      h("pre", {}, pretty(args)));
    const node = h("details", { class: "tool" },
      h("summary", {},
        h("span", { class: "tool-name" }, name),
        h("span", { class: "tool-args" }, argsPreview(args)),
        status),
      body);
    this.node.append(node);
    this.tools.set(id, { node, status, body });
  }

  addToolResult({ id, name, ok, result, error }) {
    let tool = this.tools.get(id);
    if (!tool) {
      this.addToolCall({ id, name: name || "tool", arguments: {} });
      tool = this.tools.get(id);
    }
    tool.status.className = `tool-status ${ok ? "ok" : "failed"}`;
    tool.status.textContent = ok ? "done" : "failed";
    tool.body.append(
      h("div", { class: "tool-label" }, ok ? "Result" : "Error"),
      h("pre", {}, ok ? pretty(result) : pretty(error)),
    );
  }

  addError(message) {
    this.text = null;
    this.node.append(h("p", { class: "msg-error", role: "alert" }, message));
  }
}

function renderHistory(messages) {
  const container = $("#messages");
  let turn = null;
  for (const message of messages) {
    if (message.role === "user") {
      turn = null;
      container.append(userBubble(message.content || ""));
      continue;
    }
    if (!turn) {
      turn = new AssistantTurn();
      container.append(turn.node);
    }
    if (message.role === "assistant") {
      if (message.content) turn.appendText(message.content);
      for (const call of message.tool_calls || []) turn.addToolCall(call);
      turn.text = null;
    } else if (message.role === "tool") {
      const parsed = parseMaybeJson(message.content);
      turn.addToolResult({
        id: message.tool_call_id,
        name: message.name,
        ok: !message.is_error,
        result: parsed,
        error: parsed,
      });
    }
  }
}

function userBubble(text) {
  return h("div", { class: "msg user" }, h("p", { class: "msg-text" }, text));
}

function errorBubble(message) {
  return h("div", { class: "msg assistant" }, h("p", { class: "msg-error", role: "alert" }, message));
}

function parseMaybeJson(value) {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function pretty(value) {
  const parsed = parseMaybeJson(value);
  if (parsed === undefined || parsed === null) return "—";
  return typeof parsed === "string" ? parsed : JSON.stringify(parsed, null, 2);
}

function argsPreview(args) {
  const parsed = parseMaybeJson(args);
  if (!parsed || typeof parsed !== "object") return parsed ? String(parsed) : "";
  const text = Object.entries(parsed)
    .map(([key, value]) => `${key}: ${previewValue(value)}`)
    .join(", ");
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function previewValue(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value.join(", ");
  return JSON.stringify(value);
}

function nearBottom() {
  const messages = $("#messages");
  return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
}

function scrollToEnd(force) {
  const messages = $("#messages");
  if (force || nearBottom()) messages.scrollTop = messages.scrollHeight;
}

// ---- sending -----------------------------------------------------------------------------

function setStreaming(streaming) {
  show($("#composer-send"), !streaming);
  show($("#composer-stop"), streaming);
  $("#composer-input").setAttribute("aria-busy", String(streaming));
}

async function send() {
  const input = $("#composer-input");
  const text = input.value.trim();
  if (!text || state.controller) return;
  input.value = "";
  autosize();

  const messages = $("#messages");
  welcome().remove();
  messages.append(userBubble(text));
  const turn = new AssistantTurn();
  const typing = h("span", { class: "typing", "aria-hidden": "true" },
    h("span", {}), h("span", {}), h("span", {}));
  turn.node.append(typing);
  turn.node.setAttribute("aria-busy", "true");
  messages.append(turn.node);
  scrollToEnd(true);

  const controller = new AbortController();
  state.controller = controller;
  setStreaming(true);
  let finished = false;
  try {
    const body = { message: text, conversation_id: state.conversationId };
    for await (const { event, data } of api.postStream("/api/chat", body, controller.signal)) {
      const wasNear = nearBottom();
      if (event === "conversation") {
        if (state.conversationId !== data.conversation_id) {
          state.conversationId = data.conversation_id;
          loadConversations();
        }
      } else if (event === "delta") {
        turn.appendText(data.text || "");
      } else if (event === "tool_call") {
        turn.addToolCall(data);
      } else if (event === "tool_result") {
        turn.addToolResult(data);
        state.onToolResult();
      } else if (event === "done") {
        finished = true;
      } else if (event === "error") {
        finished = true;
        turn.addError(data.message || "The assistant could not answer.");
      }
      typing.remove();
      turn.node.append(typing);
      if (wasNear) scrollToEnd(true);
    }
    if (!finished) turn.addError("The reply was cut off. Send your message again to continue.");
  } catch (error) {
    if (error.name === "AbortError") {
      turn.node.append(h("p", { class: "msg-note" }, "Stopped."));
    } else {
      turn.addError(error.message);
    }
  } finally {
    typing.remove();
    turn.node.removeAttribute("aria-busy");
    if (state.controller === controller) state.controller = null;
    setStreaming(false);
    scrollToEnd(false);
    loadConversations();
    if (document.activeElement === document.body || document.activeElement?.id === "composer-stop") {
      input.focus();
    }
  }
}
