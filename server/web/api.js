// The public API, nothing else: every call is a fetch with the session cookie.
import { t } from "./i18n.js";
import { VOCABULARY } from "./vocabulary.js";

export class ApiError extends Error {
  constructor(answer) {
    super(answer.msg);
    this.code = answer.code;
    this.data = answer.data;
  }
}

export async function api(method, path, body, query) {
  let url = `/api${path}`;
  if (query) {
    const pairs = Object.entries(query).filter(([, v]) => v !== "" && v !== null && v !== undefined);
    if (pairs.length) url += `?${new URLSearchParams(pairs)}`;
  }
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw notAnswered(0); // no connection: the server or the network is down
  }
  if (!response.headers.get("Content-Type")?.startsWith("application/json")) {
    throw notAnswered(response.status);
  }
  const answer = await response.json();
  if (answer.code !== 0) throw new ApiError(answer);
  return answer;
}

// An answer without the envelope (HTTP status 0: no answer at all). Only something in
// front of the server answers that way: a proxy's page while the server is down (502,
// 503, 504), or its refusal of a body over its own size limit (413).
export function notAnswered(httpStatus) {
  return new Error(t(httpStatus === 413 ? "fileTooLarge" : "serverNotAnswering"));
}

// Live events: the caller's events from GET /api/events, as onEvent(type, data).
// A stream carries what commits after it opened, so when each stream is first connected,
// onGap() lets the view reload what changed since it was drawn. When a connection drops,
// the browser reconnects by itself and sends Last-Event-ID, so the server replays what
// was missed. If the server refuses the stream instead (a JSON answer, e.g. the session
// ended), EventSource gives up, and a new one is opened after a pause. Returns a stop
// function.
const REOPEN_MS = 3000;

export function listen(query, onEvent, onGap) {
  const pairs = Object.entries(query).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  const url = `/api/events${pairs.length ? `?${new URLSearchParams(pairs)}` : ""}`;
  let source = null;
  let timer = null;
  const open = () => {
    source = new EventSource(url);
    for (const type of VOCABULARY.eventTypes) {
      source.addEventListener(type, (event) => onEvent(type, JSON.parse(event.data)));
    }
    source.addEventListener("open", onGap, { once: true });
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED) return; // reconnecting by itself
      timer = setTimeout(open, REOPEN_MS);
    });
  };
  open();
  return () => { clearTimeout(timer); source.close(); };
}
