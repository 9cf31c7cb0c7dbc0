// The conversation: answers stream in as they are written (Markdown rendered as they
// come), tool calls show as lines that open to their results, approval questions are
// asked here (a person is present), and Stop — or Esc — cancels the turn: the request
// is dropped, and the server's agent loop closes the round itself.

import { api, ApiError, el, readEvents } from "./app.js";
import { renderMarkdown } from "./markdown.js";

const state = {
  sessionId: null,
  controller: null,
  busy: false,
};

const $ = (id) => document.getElementById(id);

export function initChat() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.busy) {
      event.preventDefault();
      stop();
    }
  });
  $("stop").addEventListener("click", stop);
  $("new-chat").addEventListener("click", newChat);
}

/// Fills the model picker (the first time the chat is shown).
export async function loadModels() {
  if ($("model").value) return;
  try {
    const found = await api("/api/models");
    $("model").value = found.default;
    $("models").replaceChildren(...found.models.map((name) => el("option", { value: name })));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) notice(error.message, true);
  }
}

function newChat() {
  if (state.busy) stop();
  state.sessionId = null;
  $("messages").replaceChildren();
  $("tokens").textContent = "";
  if (location.hash.startsWith("#session/")) history.replaceState(null, "", "#chat");
  $("input").focus();
}

/// Shows a saved session and continues it.
export async function openSession(id) {
  if (state.busy) stop();
  const session = await api(`/api/sessions/${encodeURIComponent(id)}`);
  state.sessionId = session.id;
  if (session.model) $("model").value = session.model;
  showTokens(session.context);
  const box = $("messages");
  box.replaceChildren();
  const calls = new Map();
  for (const message of session.messages) {
    if (message.role === "user") {
      box.append(userBubble(message.content));
    } else if (message.role === "assistant") {
      if (message.content) {
        const bubble = assistantBubble();
        renderMarkdown(bubble.body, message.content);
        box.append(bubble.node);
      }
      for (const call of message.tool_calls || []) {
        const line = toolLine(call.name, call.arguments);
        calls.set(call.id, line);
        box.append(line.node);
      }
    } else if (message.role === "tool") {
      const line = calls.get(message.call_id);
      if (line) line.finish(message.content, message.is_error);
    }
  }
  scrollToEnd();
  $("input").focus();
}

/// The conversation's size against the model's context window.
function showTokens(context) {
  if (!context) return;
  const { tokens, window: size } = context;
  $("tokens").textContent = `${tokens.toLocaleString()} of ${size.toLocaleString()} tokens`;
}

function userBubble(text) {
  return el("div", { class: "message user" }, el("div", { class: "text" }, text));
}

function assistantBubble() {
  const body = el("div", { class: "markdown" });
  const node = el("div", { class: "message assistant" }, body);
  return { node, body };
}

/// A tool call as a line that opens to its result.
function toolLine(name, args) {
  const shown = typeof args === "string" ? args : JSON.stringify(args);
  const status = el("span", { class: "tool-status" }, "running…");
  const result = el("pre", { class: "tool-result" });
  const node = el(
    "details",
    { class: "tool" },
    el("summary", {}, el("span", { class: "tool-name" }, `⚙ ${name}`), " ", el("code", {}, shown), " ", status),
    result,
  );
  return {
    node,
    finish(output, isError) {
      result.textContent = output;
      status.textContent = isError ? "failed" : "done";
      node.classList.toggle("failed", Boolean(isError));
    },
  };
}

function notice(text, isError = false) {
  $("messages").append(el("div", { class: isError ? "notice error" : "notice" }, text));
}

function approvalBox(id, request) {
  const answer = async (choice, box) => {
    for (const button of box.querySelectorAll("button")) button.disabled = true;
    try {
      await api(`/api/chat/approvals/${encodeURIComponent(id)}`, {
        method: "POST",
        body: { answer: choice },
      });
      box.replaceChildren(el("span", { class: "muted" }, `${request} — ${choice}`));
    } catch (error) {
      box.append(el("span", { class: "error" }, error.message));
    }
  };
  const box = el("div", { class: "approval" });
  box.append(
    el("span", { class: "question" }, `${request}?`),
    el("button", { type: "button", onclick: () => answer("yes", box) }, "Yes"),
    el("button", { type: "button", class: "quiet", onclick: () => answer("no", box) }, "No"),
    el("button", { type: "button", class: "quiet", onclick: () => answer("always", box) }, "Always"),
  );
  return box;
}

function setBusy(busy) {
  state.busy = busy;
  $("send").hidden = busy;
  $("stop").hidden = !busy;
}

function stop() {
  if (state.controller) state.controller.abort();
}

/// Keeps the conversation scrolled to its end. Reading `scrollHeight` forces a layout, so
/// it waits for the next frame (once however many times it is asked for): a forced
/// layout while an answer starts would hold up its first words.
let scrollPending = false;
function scrollToEnd() {
  if (scrollPending) return;
  scrollPending = true;
  requestAnimationFrame(() => {
    scrollPending = false;
    const box = $("messages");
    box.scrollTop = box.scrollHeight;
  });
}

async function send() {
  const input = $("input");
  const text = input.value.trim();
  if (!text || state.busy) return;
  state.controller = new AbortController();
  const body = { message: text, approvals: true };
  if (state.sessionId) body.session_id = state.sessionId;
  const model = $("model").value.trim();
  if (model) body.model = model;
  const request = api("/api/chat/stream", {
    method: "POST",
    body,
    raw: true,
    signal: state.controller.signal,
  });
  input.value = "";
  setBusy(true);
  const box = $("messages");
  let answer = "";
  let pending = false;
  box.append(userBubble(text));
  let current = assistantBubble();
  current.node.classList.add("streaming");
  box.append(current.node);
  scrollToEnd();
  const calls = new Map();
  const render = () => {
    pending = false;
    renderMarkdown(current.body, answer);
    scrollToEnd();
  };
  try {
    const response = await request;
    if (!response.ok) {
      const failure = await response.json().catch(() => null);
      throw new ApiError(response.status, failure);
    }
    state.sessionId = response.headers.get("x-session-id") || state.sessionId;
    await readEvents(response, (name, data) => {
      if (name === "delta") {
        const first = !answer;
        answer += data.text;
        // The first words show at once; later ones at most once a frame.
        if (first) render();
        else if (!pending) {
          pending = true;
          requestAnimationFrame(render);
        }
      } else if (name === "tool_call") {
        const line = toolLine(data.name, data.arguments);
        calls.set(data.id, line);
        // Text after the tool round goes into a new bubble below it; a bubble the model
        // wrote nothing in before calling the tool goes away.
        if (answer) render();
        else current.node.remove();
        box.append(line.node);
        current = assistantBubble();
        answer = "";
        current.node.classList.add("streaming");
        box.append(current.node);
      } else if (name === "tool_result") {
        calls.get(data.id)?.finish(data.output, data.is_error);
      } else if (name === "approval") {
        box.insertBefore(approvalBox(data.id, data.request), current.node);
      } else if (name === "notice") {
        notice(data.text);
      } else if (name === "recalled") {
        // What memory brought into the request, with its sources.
        const sources = data.notes.map((n) => `${n.path}:${n.line}${n.date ? ` (${n.date})` : ""}`);
        notice(`recalled ${sources.join(" · ")}`);
      } else if (name === "done") {
        showTokens(data.context);
      } else if (name === "error") {
        notice(data.message, true);
      }
      scrollToEnd();
    });
  } catch (error) {
    if (error.name === "AbortError") {
      box.append(el("div", { class: "notice" }, "[stopped]"));
    } else if (!(error instanceof ApiError && error.status === 401)) {
      notice(error.message, true);
    }
  } finally {
    render();
    // Only now: changing the address talks to the browser's own process, which held up
    // the first words when done as the answer began.
    if (state.sessionId) {
      history.replaceState(null, "", `#session/${encodeURIComponent(state.sessionId)}`);
    }
    for (const node of box.querySelectorAll(".streaming")) {
      node.classList.remove("streaming");
      if (!node.textContent.trim()) node.remove();
    }
    state.controller = null;
    setBusy(false);
    input.focus();
  }
}
