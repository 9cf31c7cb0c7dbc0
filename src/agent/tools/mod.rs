//! The model's tools, in one registry. Each tool has a JSON-schema for its arguments
//! (checked before it runs), a description for the model, and runs under the one
//! [`crate::policy::Policy`]. A tool's failure is text for the model, never an abort of the turn.
//!
//! The same functions back the Rhai bindings, so a script's `bash("ls")` and the model's
//! `bash` tool obey the same rules.

mod bash;
mod files;
mod mcp;
mod memory;
mod schema;
mod skill;
mod web;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use crate::config::{ApprovalMode, Config};
use crate::home::Home;
use crate::memory::Memory;
pub use crate::policy::Policy;
use crate::provider::ToolSpec;
pub(crate) use mcp::McpTool;
pub(crate) use web::{fetch_text, request_error, web_url};

/// What every tool may use.
pub struct ToolContext {
    pub home: Home,
    pub config: Config,
    pub policy: Policy,
    /// The model of the conversation, for skills that ask it things.
    pub model: String,
    /// Opened on first use: most turns never search memory.
    pub memory: Mutex<Option<Memory>>,
    /// The embedding model, loaded the first time memory is searched.
    pub embedder: crate::memory::embed::LazyEmbedder,
    /// Built on first use (root certificates take milliseconds to load).
    pub http: std::sync::OnceLock<reqwest::Client>,
}

impl ToolContext {
    /// Indexes (and embeds) a note just written, so the next search finds it.
    pub(crate) fn index_written(&self, path: &std::path::Path) {
        crate::memory::index_written(&self.memory, &self.home, &self.config, &self.embedder, path);
    }

    pub fn http(&self) -> Result<&reqwest::Client, String> {
        let settings = crate::net::HttpSettings {
            connect_timeout: std::time::Duration::from_secs(self.config.agent.connect_timeout_secs),
            idle_timeout: std::time::Duration::from_secs(self.config.tools.web_timeout_secs),
            retry: crate::net::RetryPolicy::default(),
        };
        crate::net::lazy_web_client(&self.http, &settings, self.config.tools.web_allow_local)
            .map_err(|err| err.to_string())
    }
}

/// A tool's answer for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(content: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: content.into(),
            is_error: false,
        }
    }

    pub fn error(content: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: content.into(),
            is_error: true,
        }
    }
}

/// Whether a call may run, and whether it needs a person's yes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sensitivity {
    /// Reads, searches: always allowed.
    Safe,
    /// Runs a command or changes a file: subject to `tools.approval`. The text says what
    /// would happen, for the approval prompt ("Run bash: rm -r build").
    NeedsApproval(String),
    /// The policy refuses it whatever a person would say (a path outside the allowed
    /// folders, commands off): nobody is asked, the model is told why.
    Refused(String),
}

/// What happens to one call, decided before anyone is asked: by the agent loop and by
/// `mcp serve` alike, so a tool is never more allowed through one door than another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Run,
    /// `tools.approval = "ask"`: a person's yes first. The text says what would happen.
    Ask(String),
    /// Not run; the model (or client) is told why.
    Refuse(String),
}

/// The one decision on a call: arguments that fit the tool's schema, the policy's verdict,
/// then `tools.approval`.
pub fn decide(tool: &dyn Tool, args: &Value, context: &ToolContext) -> Decision {
    if let Err(problem) = tool.check_arguments(args) {
        return Decision::Refuse(format!("invalid arguments for {}: {problem}", tool.name()));
    }
    match tool.assess(args, context) {
        Sensitivity::Safe => Decision::Run,
        Sensitivity::Refused(reason) => Decision::Refuse(reason),
        Sensitivity::NeedsApproval(what) => match context.policy.approval {
            ApprovalMode::Auto => Decision::Run,
            ApprovalMode::Deny => {
                Decision::Refuse(format!("not allowed: {what} (tools.approval is \"deny\")"))
            }
            ApprovalMode::Ask => Decision::Ask(what),
        },
    }
}

#[async_trait]
pub trait Tool: Send + Sync {
    fn name(&self) -> &str;
    fn description(&self) -> &str;
    fn parameters(&self) -> Value;
    /// Checks the arguments before the call; `Err` says what is wrong, for the model to
    /// correct. By default against [`Tool::parameters`].
    fn check_arguments(&self, args: &Value) -> Result<(), String> {
        schema::validate(&self.parameters(), args)
    }
    /// What running this call would mean under the policy; decided before anyone is
    /// asked, so a question is only put for a call that could then run.
    fn assess(&self, _args: &Value, _ctx: &ToolContext) -> Sensitivity {
        Sensitivity::Safe
    }
    /// `Ok` is the answer for the model, `Err` a failure it should know about (both are
    /// text for the model; neither ends the turn).
    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String>;
}

pub struct Registry {
    tools: Vec<Arc<dyn Tool>>,
}

impl Registry {
    /// Every built-in tool.
    pub fn builtin() -> Registry {
        Registry {
            tools: vec![
                Arc::new(bash::Bash),
                Arc::new(files::ReadFile),
                Arc::new(files::WriteFile),
                Arc::new(files::EditFile),
                Arc::new(files::ListDir),
                Arc::new(memory::MemorySearch),
                Arc::new(memory::MemoryGet),
                Arc::new(memory::MemorySave),
                Arc::new(web::WebFetch),
                Arc::new(skill::RunSkill),
            ],
        }
    }

    pub fn empty() -> Registry {
        Registry { tools: Vec::new() }
    }

    pub(crate) fn specs(&self) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .map(|tool| ToolSpec {
                name: tool.name().to_string(),
                description: tool.description().to_string(),
                parameters: tool.parameters(),
            })
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.iter().find(|tool| tool.name() == name).cloned()
    }

    /// Checks the arguments against the tool's schema; `Err` says what is wrong, for the
    /// model to correct.
    /// Adds a tool (an MCP server's).
    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        self.tools.push(tool);
    }

    /// Whether a tool of this name is offered.
    pub fn has(&self, name: &str) -> bool {
        self.tools.iter().any(|tool| tool.name() == name)
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
}

/// Cuts tool output to the configured size, keeping its start and end.
pub(crate) fn limit_output(text: &str, max_bytes: usize) -> String {
    crate::truncate::head_and_tail(text, max_bytes)
}

/// A string argument, or "" when absent (the schema check has run already).
fn str_arg<'a>(args: &'a Value, name: &str) -> &'a str {
    args.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn u64_arg(args: &Value, name: &str) -> Option<u64> {
    args.get(name).and_then(Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_schema_is_an_object_schema() {
        for spec in Registry::builtin().specs() {
            assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
            assert!(!spec.description.is_empty());
        }
    }
}
