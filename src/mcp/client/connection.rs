//! A connection to one MCP server: the handshake, the tools, prompts and resources it
//! offers (filtered by `tools`/`exclude_tools`, schemas made acceptable to every
//! provider), and telling why it stopped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{Prompt, Resource};
use rmcp::service::{RunningService, ServiceError};
use serde_json::Value;

use super::connect::{self, Handler};
use super::schema;
use crate::config::{Config, McpServerConfig};

/// A server that answered the handshake, and what it offers.
pub struct Connection {
    pub(super) service: RunningService<RoleClient, Handler>,
    /// Its tools, as the filters leave them, with the schema to offer the model.
    pub tools: Vec<ToolEntry>,
    /// Tools left out, and why (a schema no provider would take).
    pub skipped: Vec<(String, String)>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    /// "name version", as the server gave it.
    pub server_info: Option<String>,
    pub(super) process_group: Option<u32>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Set when a request found the connection gone.
    dead: std::sync::atomic::AtomicBool,
}

/// A tool of a server, ready to be offered.
pub struct ToolEntry {
    pub tool: rmcp::model::Tool,
    /// The input schema made acceptable to every provider.
    pub parameters: Value,
    /// The server says it changes nothing (`readOnlyHint`).
    pub read_only: bool,
}

impl Connection {
    pub(super) async fn open(
        name: &str,
        settings: &McpServerConfig,
        config: &Config,
    ) -> Result<Connection, String> {
        let started = connect::start(name, settings, config).await?;
        let timeout = Duration::from_secs(settings.timeout_secs);
        let service = started.service;
        let info = service.peer_info();
        let capabilities = info.as_ref().map(|info| info.capabilities.clone());
        let listing = async {
            let tools = match capabilities.as_ref().and_then(|c| c.tools.as_ref()) {
                Some(_) => service.list_all_tools().await?,
                None => Vec::new(),
            };
            let prompts = match capabilities.as_ref().and_then(|c| c.prompts.as_ref()) {
                Some(_) => service.list_all_prompts().await.unwrap_or_default(),
                None => Vec::new(),
            };
            let resources = match capabilities.as_ref().and_then(|c| c.resources.as_ref()) {
                Some(_) => service.list_all_resources().await.unwrap_or_default(),
                None => Vec::new(),
            };
            Ok::<_, ServiceError>((tools, prompts, resources))
        };
        let (tools, prompts, resources) = match tokio::time::timeout(timeout, listing).await {
            Ok(Ok(found)) => found,
            Ok(Err(err)) => {
                return Err(connect::with_stderr(
                    format!("listing its tools failed: {err}"),
                    &started.stderr_tail,
                ));
            }
            Err(_) => {
                return Err(format!(
                    "listing its tools took over {} s",
                    timeout.as_secs()
                ));
            }
        };
        let filter = ToolFilter::new(settings);
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for tool in tools.into_iter().filter(|tool| filter.keeps(&tool.name)) {
            match schema::normalise(&tool.input_schema) {
                Ok(parameters) => entries.push(ToolEntry {
                    read_only: tool
                        .annotations
                        .as_ref()
                        .and_then(|a| a.read_only_hint)
                        .unwrap_or(false),
                    parameters,
                    tool,
                }),
                Err(why) => {
                    tracing::info!("the MCP tool {name}/{} is left out: {why}", tool.name);
                    skipped.push((tool.name.to_string(), why));
                }
            }
        }
        let server_info = info
            .as_ref()
            .and_then(|info| info.server_info.as_ref())
            .map(|server| format!("{} {}", server.name, server.version));
        Ok(Connection {
            service,
            tools: entries,
            skipped,
            prompts,
            resources,
            server_info,
            process_group: started.process_group,
            stderr_tail: started.stderr_tail,
            dead: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Why the connection ended, as well as it can be told.
    pub(super) fn why_stopped(&self) -> String {
        connect::with_stderr("the connection closed".to_string(), &self.stderr_tail)
    }

    /// Whether requests can still reach the server.
    pub(super) fn is_alive(&self) -> bool {
        !self.dead.load(std::sync::atomic::Ordering::Relaxed)
            && !self.service.is_closed()
            && !self.service.peer().is_transport_closed()
    }

    pub(super) fn explain(&self, server: &str, err: ServiceError) -> String {
        match err {
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                self.dead.store(true, std::sync::atomic::Ordering::Relaxed);
                format!("the MCP server `{server}` stopped: {}", self.why_stopped())
            }
            ServiceError::McpError(error) => format!("{server} refused: {}", error.message),
            other => format!("{server}: {other}"),
        }
    }
}

/// `tools` and `exclude_tools`: names or `*` patterns.
struct ToolFilter {
    keep: Option<globset::GlobSet>,
    drop: Option<globset::GlobSet>,
}

impl ToolFilter {
    fn new(settings: &McpServerConfig) -> ToolFilter {
        let set = |patterns: &[String]| {
            if patterns.is_empty() {
                return None;
            }
            let mut builder = globset::GlobSetBuilder::new();
            for pattern in patterns {
                // The patterns were checked when the settings were loaded.
                if let Ok(glob) = globset::Glob::new(pattern) {
                    builder.add(glob);
                }
            }
            builder.build().ok()
        };
        ToolFilter {
            keep: set(&settings.tools),
            drop: set(&settings.exclude_tools),
        }
    }

    fn keeps(&self, name: &str) -> bool {
        self.keep.as_ref().is_none_or(|keep| keep.is_match(name))
            && !self.drop.as_ref().is_some_and(|drop| drop.is_match(name))
    }
}
