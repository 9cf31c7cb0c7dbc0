//! The HTTP API on hyper 1.x: LocalGPT for other programs — editors, scripts, a phone
//! shortcut, any OpenAI client. `localgpt serve` runs it in the foreground; the daemon runs
//! it when `server.enabled = true`.
//!
//! Plain hyper with a route table of our own (not axum): the table is the one list the
//! dispatcher, the 404/405 answers and the OpenAPI test all read, and errors keep the one
//! JSON shape without fighting an extractor framework's rejections.
//!
//! - [`routes`]: the route table and dispatch.
//! - [`guard`]: the token or the page's cookie, Host/Origin checks and CORS; [`login`]:
//!   one-time codes and the page's sessions.
//! - [`http`]: errors, bodies, JSON and Server-Sent Events.
//! - [`chat`]: `/api/chat` and its stream (with approvals asked of a person).
//! - OpenAI's API: [`openai`] (`/v1/chat/completions`, `/v1/models`; its request read in
//!   [`openai_request`]), [`responses`] (`/v1/responses`, read in [`responses_request`]),
//!   [`embeddings`] (`/v1/embeddings`).
//! - [`skills`], [`tasks`] (the daemon's), [`notes`] (memory files, edited with a version
//!   check), [`settings`]; [`api`]: everything else.
//! - [`ui`]: the web page's files (`page/`), embedded, with a strict CSP.

mod api;
mod chat;
mod embeddings;
pub mod guard;
pub mod http;
pub mod login;
mod notes;
mod openai;
mod openai_request;
mod proposal;
mod quiet;
mod responses;
mod responses_request;
pub mod routes;
mod settings;
mod skills;
mod tasks;
mod ui;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::heartbeat::runner::RunEnv;
use crate::home::Home;
use crate::memory::Memory;

/// What every request handler shares.
pub struct State {
    pub home: Home,
    pub env: RunEnv,
    /// The settings the server started with (whether LocalGPT chose the model itself).
    pub settings: Settings,
    pub guard: guard::Guard,
    pub started: Instant,
    /// Chat turns running now; `try_acquire` failing means 429.
    pub turns: Arc<Semaphore>,
    /// Sessions with a turn in flight: a second turn on one would interleave.
    pub busy: Mutex<HashSet<String>>,
    /// Searches run in parallel on these (SQLite readers do not block each other); each is
    /// opened on first use, for the day it was opened on.
    pub memory_slots: Vec<Mutex<Option<(chrono::NaiveDate, Memory)>>>,
    pub next_slot: std::sync::atomic::AtomicUsize,
    /// The embedding model, loaded by the first search that can use it.
    pub embedder: crate::memory::embed::LazyEmbedder,
    pub max_body: usize,
    pub timeout: Duration,
    /// `/mcp`: LocalGPT's MCP server over streamable HTTP, made on first use.
    mcp: std::sync::OnceLock<McpService>,
    /// Approval questions streams are waiting on, by id.
    pub approvals: Mutex<
        std::collections::HashMap<String, tokio::sync::oneshot::Sender<crate::agent::Approval>>,
    >,
    /// The tools the person said "always" to, by session (each turn has a new agent).
    pub always: Mutex<std::collections::HashMap<String, HashSet<String>>>,
    /// Sessions waiting to leave their trace in the daily log.
    pub quiet: quiet::Quiet,
}

type McpService = rmcp::transport::StreamableHttpService<
    crate::mcp_serve::Served,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
>;

impl State {
    /// The MCP service. The token, Host and Origin were checked by the route table, as for
    /// every route, so the service's own Host list is not needed.
    pub fn mcp(&self) -> &McpService {
        self.mcp.get_or_init(|| {
            let served = crate::mcp_serve::Served::new(
                &self.home,
                &self.env.config,
                self.env.runtime.clone(),
            );
            let config = rmcp::transport::StreamableHttpServerConfig::default()
                .disable_allowed_hosts()
                .with_max_request_body_bytes(self.max_body);
            rmcp::transport::StreamableHttpService::new(
                move || Ok(served.clone()),
                Arc::new(Default::default()),
                config,
            )
        })
    }
}

/// Where to listen; `port: Some(0)` picks a free port (printed at start).
pub struct Listen {
    pub bind: Option<std::net::IpAddr>,
    pub port: Option<u16>,
}

/// Binds the listener and builds the shared state; separate from [`serve`] so that the
/// address is known (and printed) before the first request.
pub async fn bind(
    home: &Home,
    settings: &Settings,
    listen: &Listen,
) -> Result<(tokio::net::TcpListener, Arc<State>)> {
    let config = &settings.config.server;
    let ip = listen.bind.unwrap_or(config.bind);
    if !ip.is_loopback() && !config.allow_remote {
        anyhow::bail!(
            "{ip} can be reached from other machines: set server.allow_remote = true if that is what you want"
        );
    }
    if !ip.is_loopback() {
        tracing::warn!(
            "the API listens on {ip}, reachable from other machines; every request needs the token"
        );
    }
    let address = SocketAddr::new(ip, listen.port.unwrap_or(config.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let token = guard::load_or_create_token(home)
        .with_context(|| format!("cannot read or create {}", home.api_token_file().display()))?;
    let pool = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let state = State {
        home: home.clone(),
        env: RunEnv::new(home.clone(), settings, tokio::runtime::Handle::current()),
        settings: settings.clone(),
        guard: guard::Guard::new(token, address, !ip.is_loopback(), &config.cors_origins),
        started: Instant::now(),
        turns: Arc::new(Semaphore::new(config.max_concurrent_turns as usize)),
        busy: Mutex::new(HashSet::new()),
        memory_slots: (0..pool).map(|_| Mutex::new(None)).collect(),
        next_slot: std::sync::atomic::AtomicUsize::new(0),
        embedder: Default::default(),
        max_body: usize::try_from(config.max_body_kb.saturating_mul(1024)).unwrap_or(usize::MAX),
        timeout: Duration::from_secs(config.request_timeout_secs),
        mcp: std::sync::OnceLock::new(),
        approvals: Mutex::new(Default::default()),
        always: Mutex::new(Default::default()),
        quiet: Default::default(),
    };
    Ok((listener, Arc::new(state)))
}

/// Serves until `shutdown` resolves; then stops accepting and lets requests in flight
/// (streams included) finish, for up to `drain`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()>,
    drain: Duration,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let sweeper = quiet::spawn_sweeper(state.clone());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let timeout = state.timeout;
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, std::convert::Infallible>(routes::handle(state, request).await) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeout)
            .serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = watched.await {
                tracing::debug!("connection from {peer}: {err}");
            }
        });
    }
    drop(listener);
    sweeper.abort();
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection finished"),
        () = tokio::time::sleep(drain) => tracing::warn!("stopped with connections still open"),
    }
}
