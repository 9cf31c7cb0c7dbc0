//! The integration tests: one binary (one link on a 2-core machine, not one per file),
//! a module per area. Each runs the real `localgpt` binary against a throwaway home and,
//! where a model is needed, the in-process fake provider in [`common`].

mod common;

mod append;
mod ask;
mod boundaries;
mod channels;
mod cli;
mod compaction;
mod config;
mod docs;
pub(crate) mod heartbeat;
mod home;
mod interrupt;
pub(crate) mod local_gguf;
mod local_model;
mod mcp;
mod memory;
mod memory_cli;
mod memory_doors;
mod models_bench;
pub(crate) mod models_install;
mod models_pull;
mod openai_endpoint;
mod recall;
mod recall_eval;
mod repl;
mod run;
mod sandbox;
mod secrets;
mod semantic;
mod server;
mod sessions;
mod skill_doors;
mod skills;
mod ui;
