//! LocalGPT: a local-first AI assistant and scriptable shell.
//!
//! # Layout
//!
//! - [`cli`]: the command-line surface (clap), the one place flags are defined.
//! - [`commands`]: what each subcommand does; `main.rs` only parses and dispatches here.
//! - [`config`]: `config.toml` — schema and defaults, loading with precise errors,
//!   environment overrides, and comment-preserving edits for `config set`.
//! - [`home`]: the home folder (`~/.localgpt`): where every file lives, first-run setup,
//!   atomic writes and locked appends that every later module uses for user files.
//! - [`logging`]: tracing to `logs/` with daily rotation, mirrored to stderr by `-v`.
//! - [`memory`]: Markdown memory files indexed in SQLite FTS5: search, reindex, daily log.
//! - [`report`]: how an error reaches the user — one message with its context chain, and
//!   the exit code (0 ok, 1 failure, 2 usage or configuration error).
//! - [`style`]: whether to colour output (`--no-color`, `NO_COLOR`, not a terminal).
//!
//! Everything that reads the process environment goes through [`env::EnvSource`] so
//! tests can inject it.

pub mod agent;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod env;
pub mod heartbeat;
pub mod home;
pub mod logging;
pub mod markdown;
pub mod memory;
pub mod models;
pub mod provider;
pub mod repl;
pub mod report;
pub mod script;
pub mod server;
pub mod session;
pub mod skills;
pub mod style;
pub mod terminal;
pub mod truncate;
