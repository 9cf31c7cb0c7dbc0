// The page's frame: the API helper, the views and which one shows, and a safe way to make
// elements. Everything a model, a file or the server says is set as text (or, for
// Markdown, sanitised first; see markdown.js) — never as HTML.

import { initChat, openSession } from "./chat.js";
import { initViews, showView } from "./views.js";

/// An element with attributes and children (strings become text nodes).
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value != null) element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `the server answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

/// Calls the API with the page's login cookie; a JSON body in, JSON out.
export async function api(path, options = {}) {
  const init = { method: options.method || "GET", credentials: "same-origin", headers: {} };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers["Content-Type"] = "application/json";
  }
  if (options.signal) init.signal = options.signal;
  const response = await fetch(path, init);
  if (response.status === 401) {
    showLogin();
    throw new ApiError(401, null);
  }
  if (options.raw) return response;
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/// Reads a Server-Sent Events response, calling `onEvent(name, data)` for each event.
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

export function formatTime(text) {
  if (!text) return "";
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function showLogin() {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== "view-login";
}

const VIEWS = ["chat", "sessions", "memory", "skills", "daemon", "settings"];

function route() {
  const name = location.hash.replace("#", "") || "chat";
  if (name.startsWith("session/")) {
    showView("chat");
    openSession(decodeURIComponent(name.slice("session/".length)));
    return;
  }
  showView(VIEWS.includes(name) ? name : "chat");
}

initChat();
initViews();
window.addEventListener("hashchange", route);
// One request tells whether the login holds; a 401 shows the login view.
api("/api/status").then(route, () => {});
