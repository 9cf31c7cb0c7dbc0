//! LocalGPT as an MCP client: the configured servers (`[mcp.servers.NAME]`), started
//! lazily — the first time a turn, a script or a command needs their tools — once per
//! process, on a runtime of their own so that they outlive any one turn and serve every
//! front door of the process alike.
//!
//! A server that fails to start is reported with the reason and leaves the others alone;
//! one that dies is started again once, then reported. Calls stop at `timeout_secs`, and a
//! call dropped half-way (Ctrl-C) sends MCP's cancellation notification. At exit,
//! [`shutdown`] stops every stdio server's process group; should LocalGPT die instead,
//! each server is sent SIGTERM by the kernel.

mod connect;
mod connection;
mod legacy_sse;
pub mod names;
pub mod render;
pub mod schema;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification,
    CancelledNotificationParam, ClientRequest, ReadResourceRequestParams, ReadResourceResult,
    ServerResult,
};
use rmcp::service::PeerRequestOptions;
use serde_json::Value;

use crate::config::{Config, McpServerConfig};
pub(crate) use connection::{Connection, ToolEntry};

/// The process's servers.
pub struct Hub {
    servers: Vec<Arc<Server>>,
    config: Config,
    /// The runtime the servers' tasks run on (none without servers).
    runtime: Option<tokio::runtime::Handle>,
    /// Cancellations being sent for calls that were stopped.
    pending: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

static GLOBAL: OnceLock<Arc<Hub>> = OnceLock::new();

/// Stops the servers of the process's hub, if it was ever made (call at exit).
pub fn shutdown() {
    if let Some(hub) = GLOBAL.get() {
        hub.shutdown();
    }
}

impl Hub {
    /// The process's hub, made from `config` the first time it is asked for.
    pub fn global(config: &Config) -> Arc<Hub> {
        GLOBAL.get_or_init(|| Arc::new(Hub::new(config))).clone()
    }

    /// A hub of its own (benchmarks, tests); [`Hub::global`] is the one to share.
    pub fn new(config: &Config) -> Hub {
        let servers: Vec<Arc<Server>> = config
            .mcp
            .servers
            .iter()
            .map(|(name, server)| {
                Arc::new(Server {
                    name: name.clone(),
                    config: server.clone(),
                    state: tokio::sync::Mutex::new(State::Idle),
                })
            })
            .collect();
        let runtime = (!servers.is_empty())
            .then(crate::runtime::background)
            .flatten();
        Hub {
            servers,
            config: config.clone(),
            runtime,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Whether any server is configured and enabled.
    pub(crate) fn has_servers(&self) -> bool {
        self.servers.iter().any(|server| server.config.enabled)
    }

    pub fn servers(&self) -> &[Arc<Server>] {
        &self.servers
    }

    /// The server named `name`, or an error that lists the configured ones.
    pub fn server(&self, name: &str) -> Result<&Arc<Server>, String> {
        self.servers
            .iter()
            .find(|server| server.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.servers.iter().map(|s| s.name.as_str()).collect();
                if known.is_empty() {
                    format!("no MCP server `{name}`: none is configured ([mcp.servers.NAME] in config.toml)")
                } else {
                    format!("no MCP server `{name}` (configured: {})", known.join(", "))
                }
            })
    }

    /// The running connection to `server`, started (or started again, once) if need be.
    pub async fn connection(&self, server: &Server) -> Result<Arc<Connection>, String> {
        if !server.config.enabled {
            return Err(format!(
                "the MCP server `{}` is disabled (enabled = false)",
                server.name
            ));
        }
        let mut state = server.state.lock().await;
        let restarted = match &*state {
            State::Running { connection, .. } if connection.is_alive() => {
                return Ok(connection.clone());
            }
            State::Running {
                connection,
                restarted: true,
            } => {
                let reason = format!(
                    "the MCP server `{}` stopped twice ({})",
                    server.name,
                    connection.why_stopped()
                );
                *state = State::Failed(reason.clone());
                return Err(reason);
            }
            State::Running {
                connection,
                restarted: false,
            } => {
                tracing::warn!(
                    "the MCP server `{}` stopped ({}); starting it again",
                    server.name,
                    connection.why_stopped()
                );
                true
            }
            State::Failed(reason) => return Err(reason.clone()),
            State::Idle => false,
        };
        let Some(runtime) = &self.runtime else {
            return Err("the MCP runtime could not be started".to_string());
        };
        let name = server.name.clone();
        let settings = server.config.clone();
        let config = self.config.clone();
        let started = runtime
            .spawn(async move { Connection::open(&name, &settings, &config).await })
            .await
            .unwrap_or_else(|err| Err(format!("starting it failed: {err}")));
        match started {
            Ok(connection) => {
                let connection = Arc::new(connection);
                *state = State::Running {
                    connection: connection.clone(),
                    restarted,
                };
                Ok(connection)
            }
            Err(reason) => {
                let reason = format!("the MCP server `{}` is unavailable: {reason}", server.name);
                // The caller reports it (once, where the person sees it); the log keeps it.
                tracing::info!("{reason}");
                *state = State::Failed(reason.clone());
                Err(reason)
            }
        }
    }

    /// Every enabled server's connection (started at once, side by side), or why not.
    pub(crate) async fn connect_all(&self) -> Vec<(Arc<Server>, Result<Arc<Connection>, String>)> {
        let enabled: Vec<Arc<Server>> = self
            .servers
            .iter()
            .filter(|server| server.config.enabled)
            .cloned()
            .collect();
        let opened =
            futures_util::future::join_all(enabled.iter().map(|server| self.connection(server)))
                .await;
        enabled.into_iter().zip(opened).collect()
    }

    /// Calls `tool` of `server` with `arguments` (an object, or null for none). A call
    /// that times out, or is dropped half-way (Ctrl-C dropping the turn), is cancelled
    /// with MCP's notification, which [`Hub::shutdown`] waits to have sent.
    pub async fn call(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<CallToolResult, String> {
        let server = self.server(server)?;
        let connection = self.connection(server).await?;
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => return Err(format!("the arguments must be a JSON object, not {other}")),
        };
        let mut params = CallToolRequestParams::new(tool.to_string());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let peer = connection.service.peer().clone();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = peer
            .send_cancellable_request(request, PeerRequestOptions::no_options())
            .await
            .map_err(|err| connection.explain(&server.name, err))?;
        let mut abandoned = Abandoned {
            hub: self,
            peer,
            id: Some(handle.id.clone()),
        };
        let timeout = Duration::from_secs(server.config.timeout_secs);
        let answer = tokio::time::timeout(timeout, handle.await_response()).await;
        let answer = match answer {
            Err(_) => {
                return Err(format!(
                    "{}'s {tool} did not finish within {} s (timeout_secs); it was told to stop",
                    server.name,
                    timeout.as_secs()
                ));
            }
            Ok(answer) => {
                abandoned.id = None;
                answer
            }
        };
        match answer {
            Ok(ServerResult::CallToolResult(result)) => Ok(result),
            Ok(other) => Err(format!(
                "{} answered the call of {tool} with something else: {other:?}",
                server.name
            )),
            Err(err) => Err(connection.explain(&server.name, err)),
        }
    }

    /// Reads the resource at `uri` from `server`.
    pub async fn read(&self, server: &str, uri: &str) -> Result<ReadResourceResult, String> {
        let server = self.server(server)?;
        let connection = self.connection(server).await?;
        let timeout = Duration::from_secs(server.config.timeout_secs);
        let request = connection
            .service
            .read_resource(ReadResourceRequestParams::new(uri.to_string()));
        match tokio::time::timeout(timeout, request).await {
            Err(_) => Err(format!(
                "{} did not answer within {} s (timeout_secs)",
                server.name,
                timeout.as_secs()
            )),
            Ok(Ok(result)) => Ok(result),
            Ok(Err(err)) => Err(connection.explain(&server.name, err)),
        }
    }

    /// Stops every running server the way MCP says to: cancellations still being sent go
    /// out first, then each connection is closed (a stdio server sees its input end and
    /// should exit), then what is left of each process group gets SIGTERM, then SIGKILL.
    pub fn shutdown(&self) {
        let Some(runtime) = &self.runtime else {
            return;
        };
        let pending: Vec<tokio::task::JoinHandle<()>> = self
            .pending
            .lock()
            .map(|mut pending| pending.drain(..).collect())
            .unwrap_or_default();
        if !pending.is_empty() {
            let (done, finished) = std::sync::mpsc::channel();
            runtime.spawn(async move {
                futures_util::future::join_all(pending).await;
                let _ = done.send(());
            });
            let _ = finished.recv_timeout(Duration::from_secs(1));
        }
        let mut groups = Vec::new();
        for server in &self.servers {
            let Ok(mut state) = server.state.try_lock() else {
                continue;
            };
            if let State::Running { connection, .. } = &*state {
                connection.service.cancellation_token().cancel();
                groups.extend(connection.process_group);
            }
            *state = State::Idle;
        }
        stop_process_groups(&groups);
    }
}

/// A call whose caller stopped waiting: dropped while armed, it sends the server MCP's
/// cancellation for the request (from the servers' runtime, where it outlives the call).
struct Abandoned<'a> {
    hub: &'a Hub,
    peer: rmcp::Peer<RoleClient>,
    id: Option<rmcp::model::RequestId>,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        let (Some(id), Some(runtime)) = (self.id.take(), &self.hub.runtime) else {
            return;
        };
        let peer = self.peer.clone();
        let notification = CancelledNotification::new(CancelledNotificationParam::new(
            Some(id),
            Some("the call was stopped".to_string()),
        ));
        let sending = runtime.spawn(async move {
            let _ = peer.send_notification(notification.into()).await;
        });
        if let Ok(mut pending) = self.hub.pending.lock() {
            pending.retain(|task| !task.is_finished());
            pending.push(sending);
        }
    }
}

/// A tool as the model is offered it.
pub struct Offered {
    /// `SERVER__TOOL`, made to fit (see [`names`]).
    pub name: String,
    pub server: Arc<Server>,
    pub connection: Arc<Connection>,
    /// Its index in `connection.tools`.
    pub index: usize,
}

impl Offered {
    pub fn entry(&self) -> &ToolEntry {
        &self.connection.tools[self.index]
    }

    /// Whether a call needs a person's yes, by the server's `trust`.
    pub(crate) fn needs_approval(&self) -> bool {
        needs_approval(&self.server, self.entry())
    }
}

/// Whether a call of `tool` needs a person's yes: every call by default (like `bash`),
/// unless the server's `trust` lets its read-only tools, or all of them, run unasked.
pub(crate) fn needs_approval(server: &Server, tool: &ToolEntry) -> bool {
    match server.config.trust {
        crate::config::McpTrust::All => false,
        crate::config::McpTrust::ReadOnly => !tool.read_only,
        crate::config::McpTrust::Ask => true,
    }
}

/// Why a call that needs a yes may not run under `policy` ("deny", or nobody to ask:
/// the daemon, the API), if it may not.
pub fn refusal(server: &Server, tool: &str, policy: &crate::policy::Policy) -> Option<String> {
    if policy.approval == crate::config::ApprovalMode::Deny {
        return Some(format!(
            "not allowed: the MCP tool {}: {tool} (tools.approval is \"deny\")",
            server.name
        ));
    }
    (!policy.commands_allowed).then(|| {
        format!(
            "not run: the MCP tool {}: {tool} needs a yes and nobody can give one here; set \
             trust = \"all\" (or \"read-only\") under [mcp.servers.{}] to let it run",
            server.name, server.name
        )
    })
}

/// The tools of the running servers under the names the model sees, in server order
/// (the same order gives the same names every time).
pub fn offered(connections: &[(Arc<Server>, Arc<Connection>)]) -> Vec<Offered> {
    let mut taken = std::collections::HashSet::new();
    let mut offered = Vec::new();
    for (server, connection) in connections {
        for (index, entry) in connection.tools.iter().enumerate() {
            offered.push(Offered {
                name: names::qualified(&server.name, &entry.tool.name, &mut taken),
                server: server.clone(),
                connection: connection.clone(),
                index,
            });
        }
    }
    offered
}

/// One configured server.
pub struct Server {
    pub name: String,
    pub config: McpServerConfig,
    state: tokio::sync::Mutex<State>,
}

enum State {
    Idle,
    Running {
        connection: Arc<Connection>,
        /// Whether this is its second life (it is not given a third).
        restarted: bool,
    },
    Failed(String),
}

/// Waits a second for each group to end on its own (its input closed), then sends
/// SIGTERM, then SIGKILL to what is still there a second later.
fn stop_process_groups(groups: &[u32]) {
    #[cfg(unix)]
    {
        use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
        let pids: Vec<Pid> = groups
            .iter()
            .filter_map(|pid| i32::try_from(*pid).ok())
            .filter(|pid| *pid > 1)
            .filter_map(Pid::from_raw)
            .collect();
        let wait = |pids: &[Pid]| {
            let deadline = std::time::Instant::now() + Duration::from_secs(1);
            while std::time::Instant::now() < deadline
                && pids.iter().any(|pid| test_kill_process_group(*pid).is_ok())
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        wait(&pids);
        for pid in &pids {
            let _ = kill_process_group(*pid, Signal::TERM);
        }
        wait(&pids);
        for pid in &pids {
            let _ = kill_process_group(*pid, Signal::KILL);
        }
    }
}
