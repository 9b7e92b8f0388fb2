// HTTP client for the todo-agent API: JSON requests, SSE parsing, the live events stream.
// Every request carries the bearer token; a 401 anywhere signs the user out.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

let token = null;
let onUnauthorized = () => {};

export function configure(options) {
  token = options.token;
  onUnauthorized = options.onUnauthorized || onUnauthorized;
}

function headers(extra) {
  const result = { Accept: "application/json", ...extra };
  if (token) result.Authorization = `Bearer ${token}`;
  return result;
}

async function errorFrom(response) {
  let code = "http_error";
  let message = `The server answered ${response.status} ${response.statusText}`.trim();
  let details = {};
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      details = body.error.details || {};
    } else if (body && typeof body.detail === "string") {
      message = body.detail;
    }
  } catch {
    // Not JSON (a proxy page, an empty body): keep the status line.
  }
  if (response.status === 401) onUnauthorized(message);
  return new ApiError(response.status, code, message, details);
}

/** Send one JSON request; resolve with the parsed body or reject with an ApiError. */
export async function request(method, path, body, extraHeaders) {
  const init = { method, headers: headers(extraHeaders) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server. Check that it is running.");
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path) => request("GET", path);
export const post = (path, body, extraHeaders) => request("POST", path, body ?? {}, extraHeaders);
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path) => request("DELETE", path);

/** Build a query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Parse a text/event-stream body into {event, data} objects (data JSON-decoded when it is JSON).
 * Follows the SSE framing rules: any line ending, comments, multi-line data, blank-line dispatch.
 * `cursor.lastEventId` follows the `id:` fields, as EventSource's lastEventId does.
 */
export async function* readEvents(body, cursor = {}) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let eventName = "";
  let dataLines = [];
  let idBuffer = cursor.lastEventId || "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let match;
      // A trailing "\r" may be the first half of "\r\n": wait for the next chunk.
      while ((match = /\r\n|\r(?!$)|\n/.exec(buffer)) !== null) {
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          cursor.lastEventId = idBuffer; // only a whole event moves it
          if (dataLines.length) {
            const raw = dataLines.join("\n");
            let data = raw;
            try {
              data = JSON.parse(raw);
            } catch {
              // Plain text data: hand it over as is.
            }
            yield { event: eventName || "message", data };
          }
          eventName = "";
          dataLines = [];
          continue;
        }
        if (line.startsWith(":")) continue; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? "" : line.slice(colon + 1);
        if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
        if (field === "event") eventName = fieldValue;
        else if (field === "data") dataLines.push(fieldValue);
        else if (field === "id" && !fieldValue.includes("\0")) idBuffer = fieldValue;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** POST a JSON body to an endpoint answering text/event-stream; yield its events. */
export async function* postStream(path, body, signal) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: headers({ Accept: "text/event-stream", "Content-Type": "application/json" }),
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "Cannot reach the server. Check that it is running.");
  }
  if (!response.ok) throw await errorFrom(response);
  yield* readEvents(response.body);
}

/**
 * Keep a connection to GET /api/events open for as long as `signal` is not aborted,
 * reconnecting with backoff and `Last-Event-ID`, so the server replays what was missed.
 * `onOpen({ resumed })` runs after every (re)connect; `resumed` is false when there was no
 * event id to resume from, and callers must then reload whatever changed meanwhile (as on
 * a `reset` event).
 */
export async function followEvents({ signal, onEvent, onOpen, onState }) {
  let delay = 1000;
  const cursor = { lastEventId: "" };
  while (!signal.aborted) {
    onState("connecting");
    try {
      const resumeFrom = cursor.lastEventId;
      const extra = { Accept: "text/event-stream" };
      if (resumeFrom) extra["Last-Event-ID"] = resumeFrom;
      const response = await fetch("/api/events", {
        headers: headers(extra),
        signal,
        cache: "no-store",
      });
      if (response.status === 401) {
        await errorFrom(response);
        return;
      }
      if (!response.ok) throw await errorFrom(response);
      onState("live");
      delay = 1000;
      onOpen({ resumed: Boolean(resumeFrom) });
      for await (const item of readEvents(response.body, cursor)) onEvent(item);
    } catch (error) {
      if (signal.aborted) return;
      console.warn("Live updates interrupted:", error.message || error);
    }
    if (signal.aborted) return;
    onState("offline");
    await sleep(delay + Math.random() * 500, signal);
    delay = Math.min(delay * 2, 15000);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
