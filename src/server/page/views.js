// The views besides the chat: sessions, memory (search, open, edit), skills, the daemon
// and settings. Each loads what it shows when it is shown.

import { api, ApiError, el, formatTime, readEvents } from "./app.js";
import { loadModels } from "./chat.js";
import { markedSnippet } from "./markdown.js";

const $ = (id) => document.getElementById(id);

const LOADERS = {
  chat: loadModels,
  sessions: loadSessions,
  memory: loadProposal,
  skills: loadSkills,
  daemon: loadDaemon,
  settings: loadSettings,
};

export function showView(name) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("current", link.id === `nav-${name}`);
  }
  Promise.resolve(LOADERS[name]()).catch(report);
}

function report(error) {
  if (error instanceof ApiError && error.status === 401) return;
  const shown = document.querySelector(".view:not([hidden])");
  shown?.prepend(el("p", { class: "error" }, error.message));
}

export function initViews() {
  $("session-filter").addEventListener("input", filterSessions);
  $("memory-search").addEventListener("submit", (event) => {
    event.preventDefault();
    searchMemory().catch(report);
  });
  $("open-memory").addEventListener("click", () => openFile("MEMORY.md").catch(report));
  $("open-heartbeat").addEventListener("click", () => openFile("HEARTBEAT.md").catch(report));
  $("editor-save").addEventListener("click", () => saveFile().catch(report));
  $("proposal-apply").addEventListener("click", () => decideProposal().catch(report));
  $("skill-run").addEventListener("submit", (event) => {
    event.preventDefault();
    runSkill().catch(report);
  });
  $("check-now").addEventListener("click", () => checkNow().catch(report));
  $("settings-filter").addEventListener("input", filterSettings);
}

// Sessions.

let sessions = [];

async function loadSessions() {
  sessions = (await api("/api/sessions?limit=500")).sessions;
  filterSessions();
}

function filterSessions() {
  const query = $("session-filter").value.trim().toLowerCase();
  const rows = sessions
    .filter((session) => !query || (session.title || "").toLowerCase().includes(query))
    .map((session) =>
      el(
        "tr",
        {},
        el("td", {}, el("a", { href: `#session/${encodeURIComponent(session.id)}` }, session.title || "(untitled)")),
        el("td", { class: "muted" }, session.model),
        el("td", { class: "muted" }, formatTime(session.last_active)),
        el("td", { class: "number" }, String(session.turns)),
        el(
          "td",
          { class: "actions" },
          el("button", { type: "button", class: "quiet", onclick: () => rename(session).catch(report) }, "Rename"),
          el("button", { type: "button", class: "quiet danger", onclick: () => remove(session).catch(report) }, "Delete"),
        ),
      ),
    );
  $("session-rows").replaceChildren(...rows);
}

async function rename(session) {
  const title = prompt("New title", session.title || "");
  if (!title || !title.trim()) return;
  await api(`/api/sessions/${encodeURIComponent(session.id)}`, { method: "PATCH", body: { title } });
  session.title = title.trim();
  filterSessions();
}

async function remove(session) {
  if (!confirm(`Delete “${session.title || session.id}”? Its transcript is removed.`)) return;
  await api(`/api/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
  sessions = sessions.filter((other) => other.id !== session.id);
  filterSessions();
}

// Memory.

let opened = null;

async function searchMemory() {
  const query = $("memory-query").value.trim();
  if (!query) return;
  const found = await api(`/api/memory/search?q=${encodeURIComponent(query)}&limit=20`);
  const hits = found.results.map((hit) =>
    el(
      "li",
      {},
      el(
        "a",
        { href: "#memory", onclick: (event) => { event.preventDefault(); openFile(hit.path, hit.start_line).catch(report); } },
        `${hit.path}:${hit.start_line}-${hit.end_line}`,
      ),
      hit.heading ? el("span", { class: "muted" }, ` ${hit.heading}`) : null,
      el("div", { class: "snippet" }, markedSnippet(hit.snippet, query)),
    ),
  );
  $("memory-hits").replaceChildren(...(hits.length ? hits : [el("li", { class: "muted" }, "Nothing in memory matches.")]));
}

// The consolidation's proposal: each change as a diff, accepted by ticking it.

let proposal = null;

async function loadProposal() {
  const response = await api("/api/memory/proposal", { raw: true });
  if (response.status === 404) {
    proposal = null;
    $("proposal").hidden = true;
    return;
  }
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body);
  proposal = body;
  const changes = body.changes.map((change, place) =>
    el(
      "li",
      {},
      el("label", {}, el("input", { type: "checkbox", "data-place": String(place) }), ` ${change.action}`),
      el(
        "pre",
        { class: "diff" },
        ...change.diff.split("\n").map((line) =>
          el("span", { class: line.startsWith("-") ? "removed" : "added" }, `${line}\n`),
        ),
      ),
    ),
  );
  $("proposal-changes").replaceChildren(...changes);
  $("proposal-state").textContent = "";
  $("proposal-apply").hidden = false;
  $("proposal").hidden = false;
}

async function decideProposal() {
  if (!proposal) return;
  const accept = [...document.querySelectorAll("#proposal-changes input:checked")].map((box) =>
    Number(box.dataset.place),
  );
  const done = await api("/api/memory/proposal", { method: "POST", body: { made: proposal.made, accept } });
  proposal = null;
  $("proposal-changes").replaceChildren();
  $("proposal-apply").hidden = true;
  $("proposal-state").textContent = done.changed
    ? `MEMORY.md changed: ${done.accepted} made, ${done.rejected} rejected; the copy from before is ${done.backup}`
    : "Nothing changed; the proposal is gone.";
}

async function openFile(path, line) {
  const file = await api(`/api/memory/file?path=${encodeURIComponent(path)}`);
  opened = file;
  $("editor").hidden = false;
  $("conflict").hidden = true;
  $("editor-path").textContent = file.path;
  $("editor-text").value = file.text;
  $("editor-text").readOnly = !file.editable;
  $("editor-save").hidden = !file.editable;
  $("editor-state").textContent = file.editable ? "" : "read only";
  if (line) {
    const before = file.text.split("\n").slice(0, line - 1).join("\n").length;
    const area = $("editor-text");
    area.focus();
    area.setSelectionRange(before, before);
    area.scrollTop = Math.max(0, (line - 3) * 18);
  }
}

async function saveFile() {
  if (!opened) return;
  const text = $("editor-text").value;
  const response = await api("/api/memory/file", {
    method: "PUT",
    body: { path: opened.path, text, version: opened.version },
    raw: true,
  });
  const body = await response.json();
  if (response.status === 409) {
    $("conflict").hidden = false;
    $("conflict-text").textContent = body.current.text;
    // Saving again replaces the current text with what is in the editor.
    opened.version = body.current.version;
    $("editor-state").textContent = "not saved: changed elsewhere";
    return;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  opened.version = body.version;
  $("conflict").hidden = true;
  $("editor-state").textContent = "saved";
}

// Skills.

async function loadSkills() {
  const { skills } = await api("/api/skills");
  $("skill-rows").replaceChildren(
    ...skills.map((skill) =>
      el(
        "tr",
        { class: skill.problem ? "unavailable" : "" },
        el("td", {}, el("strong", {}, `/${skill.name}`), skill.usage ? el("div", { class: "muted" }, skill.usage) : null),
        el("td", {}, skill.kind),
        el("td", { class: "muted" }, skill.origin),
        el("td", {}, skill.description, skill.problem ? el("div", { class: "error" }, skill.problem) : null),
        el(
          "td",
          { class: "actions" },
          skill.problem || !skill.user_invocable
            ? null
            : el("button", { type: "button", onclick: () => chooseSkill(skill) }, "Run…"),
        ),
      ),
    ),
  );
}

let chosenSkill = null;

function chooseSkill(skill) {
  chosenSkill = skill;
  $("skill-run").hidden = false;
  $("skill-name").textContent = `/${skill.name}`;
  $("skill-args").value = "";
  $("skill-args").focus();
}

async function runSkill() {
  if (!chosenSkill) return;
  const output = $("skill-output");
  output.hidden = false;
  output.textContent = "";
  output.classList.remove("failed");
  const response = await api(`/api/skills/${encodeURIComponent(chosenSkill.name)}/stream`, {
    method: "POST",
    body: { args: $("skill-args").value },
    raw: true,
  });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  await readEvents(response, (name, data) => {
    if (name === "output") output.textContent += `${data.text}\n`;
    else if (name === "delta") output.textContent += data.text;
    else if (name === "done" && data.error) {
      output.textContent += `\n${data.error}`;
      output.classList.add("failed");
    } else if (name === "error") {
      output.textContent += `\n${data.message}`;
      output.classList.add("failed");
    }
  });
}

// The daemon.

async function loadDaemon() {
  const [heartbeat, history] = await Promise.all([api("/api/heartbeat"), api("/api/heartbeat/runs?limit=50")]);
  $("task-rows").replaceChildren(
    ...heartbeat.tasks.map((task) =>
      el(
        "tr",
        {},
        el("td", {}, el("strong", {}, task.name), task.description ? el("div", { class: "muted" }, task.description) : null),
        el("td", {}, task.schedule_words || task.problem || ""),
        el("td", { class: "muted" }, formatTime(task.next)),
        el("td", {}, task.last ? `${task.last.status} · ${formatTime(task.last.started)}` : el("span", { class: "muted" }, "never")),
        el(
          "td",
          { class: "actions" },
          task.problem ? null : el("button", { type: "button", onclick: () => runTask(task.name).catch(report) }, "Run now"),
        ),
      ),
    ),
  );
  if (!heartbeat.tasks.length) {
    $("task-rows").replaceChildren(
      el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No scheduled tasks. A task is a .rhai file with a “//! schedule:” line in the workspace’s heartbeat folder.")),
    );
  }
  $("runs").replaceChildren(
    ...(history.runs.length ? history.runs.map(runItem) : [el("li", { class: "muted" }, "No runs yet.")]),
  );
}

function runItem(run) {
  return el(
    "li",
    { class: `run ${run.status}` },
    el(
      "details",
      {},
      el(
        "summary",
        {},
        el("strong", {}, run.task),
        ` · ${run.status} · ${run.trigger} · ${formatTime(run.started)} · ${(run.duration_ms / 1000).toFixed(1)} s`,
      ),
      el("pre", { class: "output" }, run.output || "(no output)"),
    ),
  );
}

async function runTask(name) {
  $("check-state").textContent = `running ${name}…`;
  await api(`/api/heartbeat/${encodeURIComponent(name)}/run`, { method: "POST" });
  $("check-state").textContent = "";
  await loadDaemon();
}

async function checkNow() {
  $("check-state").textContent = "checking…";
  const run = await api("/api/heartbeat/check", { method: "POST" });
  $("check-state").textContent = `${run.status}: ${run.output}`;
  await loadDaemon();
}

// Settings.

let settings = [];

async function loadSettings() {
  const found = await api("/api/config");
  settings = found.settings;
  $("settings-note").textContent = found.path;
  filterSettings();
}

function filterSettings() {
  const query = $("settings-filter").value.trim().toLowerCase();
  $("setting-rows").replaceChildren(
    ...settings
      .filter((row) => !query || row.key.toLowerCase().includes(query))
      .map((row) => {
        const input = el("input", { value: row.value, "aria-label": row.key, spellcheck: "false" });
        const status = el("div", { class: "muted" });
        input.addEventListener("change", async () => {
          try {
            const saved = await api("/api/config", { method: "PUT", body: { key: row.key, value: input.value } });
            row.value = saved.value;
            row.source = "config.toml";
            status.textContent = saved.note;
            status.className = "muted";
            const cell = document.querySelector(`td[data-key="${CSS.escape(row.key)}"]`);
            if (cell) cell.textContent = row.source;
          } catch (error) {
            status.textContent = error.message;
            status.className = "error";
          }
        });
        const source = el("td", { class: "muted" }, row.source);
        source.dataset.key = row.key;
        return el("tr", {}, el("td", {}, el("code", {}, row.key)), el("td", {}, input, status), source);
      }),
  );
}
