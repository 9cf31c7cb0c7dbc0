//! LocalGPT: a local-first AI assistant and scriptable shell.
//!
//! # Layout
//!
//! Front doors — each thin, each calling the same core:
//! - [`cli`]: the command-line surface (clap), the one place flags are defined.
//! - [`commands`]: what each subcommand does; `main.rs` only parses and dispatches here.
//! - [`repl`]: the interactive prompt: chat, `:` Rhai, `/` commands and skills, `!` shell.
//! - [`server`]: the HTTP API (hyper): native routes, SSE chat, the OpenAI-compatible `/v1`
//!   (Chat Completions with the client's tools, Responses, embeddings), and the web page (`server/page/`, embedded; `localgpt ui` logs a browser in).
//! - [`heartbeat`]: the daemon: scheduled Rhai tasks and the HEARTBEAT.md check.
//! - [`mcp_serve`]: LocalGPT as an MCP server (`localgpt mcp serve`, `/mcp` on the API):
//!   its memory and skills for other assistants.
//! - [`terminal`]: how a turn shows at a terminal: streamed text, tool lines, one-key
//!   approval questions.
//! - [`offer`]: the first question on a bare machine: offering the built-in models.
//!
//! The core:
//! - [`agent`]: the one agent loop (cancellation inside it), the system prompt,
//!   compaction, and the tool registry with the built-in tools and their policy.
//! - [`conversation`]: messages and tool calls as every provider sees them, the one
//!   `repair` that keeps a list of them in the shape the providers accept, and tool calls
//!   a model wrote as text (`text_calls`).
//! - [`session`]: a conversation with its transcript (`sessions/ID.jsonl`, typed records),
//!   listing, resuming.
//! - [`provider`]: OpenAI, Anthropic, Ollama, the Claude CLI and the built-in model behind
//!   one trait: model routing, wire formats, retries.
//! - [`script`]: the one Rhai engine, its limits and the bindings scripts call.
//! - [`skills`]: Rhai and SKILL.md skills, and the one entry point that runs them.
//! - [`memory`]: Markdown memory files indexed in SQLite FTS5 (and by meaning): search,
//!   reindex, daily log.
//! - [`models`]: models installed under `models/` and the in-process engines that run
//!   them (our own forward passes for Q8_0 Llama chat models and the BERT embedding
//!   model, candle's for other chat architectures), on shared vectorised kernels.
//! - [`policy`]: the one place that decides what tools, scripts and skills may touch:
//!   paths, protected files, commands, a command's environment, the addresses web
//!   requests may reach.
//! - [`sandbox`]: the kernel sandbox (Landlock, seccomp, namespaces) every shell command
//!   runs in, and the one function that runs them.
//! - [`mcp`]: the Model Context Protocol as a client: configured servers' tools for the
//!   model, scripts and the person.
//! - [`cancel`]: the cancel signal every long operation watches, and the Ctrl-C runtime.
//!
//! Foundations:
//! - [`config`]: `config.toml` — schema and defaults, loading with precise errors,
//!   environment overrides, and comment-preserving edits for `config set`.
//! - [`home`]: the home folder (`~/.localgpt`): where every file lives, first-run setup,
//!   atomic writes and locked appends and updates that every module uses for user files.
//! - [`env`]: the process environment as an injectable source, so tests need not touch it.
//! - [`logging`]: tracing to `logs/` with daily rotation, mirrored to stderr by `-v`.
//! - [`report`]: how an error reaches the user — one message with its context chain, and
//!   the exit codes (0 ok, 1 failure, 2 usage or configuration error); panics go to the log.
//! - [`net`]: the one HTTP client setup and retry policy that providers, downloads,
//!   embeddings, MCP and the web tools share.
//! - [`markdown`]: Markdown made readable in a terminal.
//! - [`style`]: whether to colour output (`--no-color`, `NO_COLOR`, not a terminal).
//! - [`truncate`]: cutting text to a size, always on character boundaries.
//!
//! Dependencies point down (front doors → core → foundations), except the inherent
//! agent ↔ script ↔ skills loop (the model runs skills, skills run scripts, scripts ask
//! the model), kept to one function at each crossing. The exact layers, module by module,
//! are a table in `src/layers.rs`, and its test fails on any `use` against them, naming
//! the file and line.

/// Every allocation goes through the system allocator, counted for script runs so that
/// each has a memory ceiling of its own (see [`script::ceiling`]).
#[global_allocator]
static ALLOCATOR: script::ceiling::Counting = script::ceiling::Counting;

pub mod agent;
pub mod cancel;
pub mod channels;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod delivery;
pub mod env;
pub mod heartbeat;
pub mod home;
#[cfg(test)]
mod layers;
pub mod logging;
pub mod markdown;
pub mod mcp;
pub mod mcp_serve;
pub mod memory;
pub mod models;
pub mod net;
pub mod offer;
pub mod policy;
pub mod provider;
pub mod repl;
pub mod report;
pub mod runtime;
pub mod sandbox;
pub mod script;
pub mod secrets;
pub mod server;
pub mod session;
pub mod skills;
pub mod style;
pub mod terminal;
pub mod truncate;
