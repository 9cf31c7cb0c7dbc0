//! LocalGPT as an MCP server, for Claude Desktop, Claude Code, Cursor, goose or any MCP
//! client: `localgpt mcp serve` on stdin and stdout, and `/mcp` on the HTTP API.
//!
//! Tools: `memory_search`, `memory_get`, `memory_save` (the model's own tools, under the
//! same policy), `skills_list` and `skill_run` (a prompt skill answers with its
//! instructions, for the client's model to follow; a Rhai skill runs under the daemon's
//! policy: shell commands only with `heartbeat.allow_bash`), and with
//! `mcp.serve_tools = true` the file and shell tools too. The memory files are resources
//! (`memory://MEMORY.md`, `memory://memory/2026-11-29.md`). A client's call is taken as
//! approved by its user — the client asks them — except where `tools.approval = "deny"`.

use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig, Tool as McpTool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

use crate::agent::tools::{Decision, Registry, Tool, ToolContext, decide};
use crate::config::Config;
use crate::home::Home;
use crate::policy::Policy;
use crate::report::EXIT_OK;
use crate::skills::{Args, Caller, Invocation, Kind, Skills, invoke};

/// The built-in tools always offered.
const MEMORY_TOOLS: [&str; 3] = ["memory_search", "memory_get", "memory_save"];
/// Offered with `mcp.serve_tools = true`.
const FILE_AND_SHELL_TOOLS: [&str; 6] = [
    "bash",
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "web_fetch",
];

/// The server, shared by every session (one per HTTP client, one on stdio).
#[derive(Clone)]
pub struct Served {
    inner: Arc<Inner>,
}

struct Inner {
    home: Home,
    config: Config,
    tools: Vec<Arc<dyn Tool>>,
    context: ToolContext,
    runtime: tokio::runtime::Handle,
}

impl Served {
    pub fn new(home: &Home, config: &Config, runtime: tokio::runtime::Handle) -> Served {
        let offered: Vec<&str> = if config.mcp.serve_tools {
            MEMORY_TOOLS
                .iter()
                .chain(&FILE_AND_SHELL_TOOLS)
                .copied()
                .collect()
        } else {
            MEMORY_TOOLS.to_vec()
        };
        let builtin = Registry::builtin();
        let tools = offered
            .iter()
            .filter_map(|name| builtin.get(name))
            .collect();
        // The client's user approves its calls; the policy's paths, protected files and
        // sandbox hold as for the model. Shell commands only when they were offered.
        let policy = Policy::new(home, &home.workspace(), &config.tools)
            .for_own_code()
            .with_commands(config.mcp.serve_tools);
        let context = ToolContext {
            home: home.clone(),
            config: config.clone(),
            policy,
            model: config.model().to_string(),
            memory: Mutex::new(None),
            embedder: Default::default(),
            http: std::sync::OnceLock::new(),
        };
        Served {
            inner: Arc::new(Inner {
                home: home.clone(),
                config: config.clone(),
                tools,
                context,
                runtime,
            }),
        }
    }

    fn tool_list(&self) -> Vec<McpTool> {
        let mut list: Vec<McpTool> = self
            .inner
            .tools
            .iter()
            .map(|tool| {
                let schema = tool.parameters().as_object().cloned().unwrap_or_default();
                let mut described = McpTool::new(
                    tool.name().to_string(),
                    tool.description().to_string(),
                    schema,
                );
                let read_only = matches!(
                    tool.name(),
                    "memory_search" | "memory_get" | "read_file" | "list_dir" | "web_fetch"
                );
                described.annotations = Some(ToolAnnotations::from_raw(
                    None,
                    Some(read_only),
                    None,
                    None,
                    None,
                ));
                described
            })
            .collect();
        let mut skills_list = McpTool::new(
            "skills_list",
            "The skills LocalGPT has: name, kind (rhai or prompt), what each does, how to call \
             it, and whether it can run here.",
            object_schema(json!({})),
        );
        skills_list.annotations = Some(ToolAnnotations::from_raw(
            None,
            Some(true),
            None,
            None,
            None,
        ));
        list.push(skills_list);
        list.push(McpTool::new(
            "skill_run",
            "Runs a LocalGPT skill. A Rhai skill runs and returns what it printed; a prompt \
             skill returns its instructions, which you then follow.",
            object_schema(json!({
                "name": {"type": "string", "description": "The skill's name, as skills_list gives it."},
                "args": {"type": "string", "description": "Its arguments, as a person would type them after /name."}
            })),
        ));
        list
    }

    async fn call(&self, name: &str, args: Value) -> CallToolResult {
        let outcome = match name {
            "skills_list" => Ok(self.skills_list()),
            "skill_run" => self.skill_run(&args).await,
            _ => self.builtin(name, &args).await,
        };
        match outcome {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(text) => CallToolResult::error(vec![ContentBlock::text(text)]),
        }
    }

    async fn builtin(&self, name: &str, args: &Value) -> Result<String, String> {
        let Some(tool) = self.inner.tools.iter().find(|tool| tool.name() == name) else {
            return Err(format!("there is no tool named {name}"));
        };
        let context = &self.inner.context;
        match decide(tool.as_ref(), args, context) {
            Decision::Refuse(reason) => Err(reason),
            // The client asked its user (see the module's comment): its call is the yes.
            Decision::Run | Decision::Ask(_) => tool.run(args, context).await,
        }
    }

    fn skills_list(&self) -> String {
        let skills = Skills::discover(&self.inner.home, &self.inner.config);
        let listed: Vec<Value> = skills
            .all()
            .iter()
            .map(|skill| {
                json!({
                    "name": skill.name,
                    "kind": skill.kind.label(),
                    "description": skill.description,
                    "usage": skill.usage,
                    "runnable": skill.is_runnable(),
                    "unavailable": skill.problem.as_ref().or(skill.unavailable.as_ref()),
                })
            })
            .collect();
        serde_json::to_string_pretty(&listed).unwrap_or_default()
    }

    async fn skill_run(&self, args: &Value) -> Result<String, String> {
        let name = args["name"].as_str().unwrap_or_default();
        let typed = args["args"].as_str().unwrap_or_default().to_string();
        let skills = Skills::discover(&self.inner.home, &self.inner.config);
        let invocation = skills
            .invoke(name, &Args::Typed(typed), Caller::Api)
            .map_err(|err| err.to_string())?;
        let (skill, args) = match invocation {
            Invocation::Prompt { message, .. } => return Ok(message),
            Invocation::Rhai { skill, args } => (skill, args),
        };
        debug_assert_eq!(skill.kind, Kind::Rhai);
        let captured = crate::script::Captured::new();
        let output = captured.sink(None);
        let inner = &self.inner;
        let run = crate::script::RunContext::new(
            inner.home.clone(),
            inner.config.clone(),
            Policy::unattended(&inner.home, &inner.config),
            inner.runtime.clone(),
        )
        .with_model(inner.config.model().to_string())
        .with_script_dir(inner.home.workspace())
        .with_output(output);
        let outcome = tokio::task::spawn_blocking(move || invoke::run_rhai(&skill, run, args))
            .await
            .map_err(|err| format!("the skill failed: {err}"))?;
        let printed = captured.text();
        match invoke::failure(&outcome) {
            None => Ok(printed),
            Some(failure) => Err(format!("{printed}\n[{failure}]")),
        }
    }

    /// The memory files: `MEMORY.md`, `HEARTBEAT.md` and the daily logs.
    fn resources(&self) -> Vec<Resource> {
        let workspace = self.inner.home.workspace();
        let mut found = Vec::new();
        for top in ["MEMORY.md", "HEARTBEAT.md"] {
            if workspace.join(top).is_file() {
                found.push(top.to_string());
            }
        }
        let mut logs: Vec<String> = std::fs::read_dir(self.inner.home.daily_log_dir())
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .filter(|name| name.ends_with(".md"))
                    .map(|name| format!("memory/{name}"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        found.extend(logs);
        found
            .into_iter()
            .map(|relative| {
                Resource::new(format!("{MEMORY_SCHEME}{relative}"), relative.clone())
                    .with_mime_type("text/markdown")
                    .with_description(match relative.as_str() {
                        "MEMORY.md" => "Long-term memory",
                        "HEARTBEAT.md" => "Tasks for the background daemon",
                        _ => "A daily log",
                    })
            })
            .collect()
    }

    fn read(&self, uri: &str) -> Result<ReadResourceResult, McpError> {
        let not_found = || McpError::resource_not_found(format!("no memory file at {uri}"), None);
        let relative = uri.strip_prefix(MEMORY_SCHEME).ok_or_else(not_found)?;
        if !relative.ends_with(".md") {
            return Err(not_found());
        }
        // The one rule of the memory doors: a link that leads out of the workspace is
        // refused here as `memory_get` and the web page refuse it.
        let path = self
            .inner
            .home
            .workspace_file(relative)
            .map_err(|err| McpError::invalid_params(err.to_string(), None))?;
        let text = crate::home::read_real_to_string(&path).map_err(|_| not_found())?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, uri).with_mime_type("text/markdown"),
        ]))
    }
}

const MEMORY_SCHEME: &str = "memory://";

fn object_schema(properties: Value) -> serde_json::Map<String, Value> {
    let mut schema = serde_json::Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), properties);
    schema
}

impl ServerHandler for Served {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("localgpt", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "LocalGPT's memory (Markdown notes, searchable by words and by meaning) and its \
             skills. Search memory before answering questions about the user's own notes; \
             save what should be remembered with memory_save.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tool_list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        if !self.tool_list().iter().any(|tool| tool.name == name) {
            return Err(McpError::invalid_params(
                format!("there is no tool named {name}"),
                None,
            ));
        }
        let args = Value::Object(request.arguments.unwrap_or_default());
        Ok(self.call(&name, args).await.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(self.resources()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.read(&request.uri).map(Into::into)
    }
}

/// `localgpt mcp serve`: MCP on stdin and stdout until the client closes them.
pub fn stdio(home: &Home, config: &Config) -> Result<u8> {
    let runtime =
        crate::runtime::with_workers(Some(2)).context("cannot start the async runtime")?;
    runtime.block_on(async {
        let served = Served::new(home, config, tokio::runtime::Handle::current());
        let service = served
            .serve(rmcp::transport::stdio())
            .await
            .context("the MCP handshake on stdin failed")?;
        service
            .waiting()
            .await
            .context("the MCP session ended with an error")?;
        Ok(EXIT_OK)
    })
}
