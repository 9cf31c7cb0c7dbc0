//! Starting one configured server and completing the MCP handshake with it: a program
//! spoken to over stdio (its own process group, its stderr to the log, stopped if
//! LocalGPT dies), or an address spoken to over streamable HTTP or the older HTTP+SSE.

use std::collections::{BTreeMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process_wrap::tokio::{CommandWrap, ProcessGroup};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::io::AsyncBufReadExt;

use super::legacy_sse;
use crate::config::{Config, McpServerConfig, McpTransport};

/// Lines of a server's stderr kept to explain why it stopped.
const STDERR_TAIL: usize = 8;

/// LocalGPT's side of a connection: it asks nothing of the server's user (no sampling,
/// no elicitation). What a server logs goes to its stderr, which goes to LocalGPT's log.
#[derive(Debug, Clone)]
pub(crate) struct Handler {
    server: String,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("localgpt", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// A server that answered the handshake.
pub struct Started {
    pub service: RunningService<RoleClient, Handler>,
    /// The process group to stop at exit (stdio servers).
    pub process_group: Option<u32>,
    /// The last lines the server wrote to stderr.
    pub stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

/// Starts `name` as `server` says (on the hub's runtime, which then runs its tasks).
pub async fn start(
    name: &str,
    server: &McpServerConfig,
    config: &Config,
) -> Result<Started, String> {
    let timeout = Duration::from_secs(server.timeout_secs);
    let handler = Handler {
        server: name.to_string(),
    };
    match (&server.command, &server.url) {
        (Some(command), _) => stdio(handler, command, server, config, timeout).await,
        (None, Some(url)) => http(handler, url.expose(), server, config, timeout).await,
        (None, None) => Err("it has neither `command` nor `url`".to_string()),
    }
}

async fn stdio(
    handler: Handler,
    command: &str,
    server: &McpServerConfig,
    config: &Config,
    timeout: Duration,
) -> Result<Started, String> {
    let program = expand(command)?;
    let mut child = tokio::process::Command::new(crate::home::expand_home(&program));
    for arg in &server.args {
        child.arg(crate::home::expand_home(&expand(arg)?));
    }
    if let Some(cwd) = &server.cwd {
        child.current_dir(crate::home::expand_home(&expand(cwd)?));
    }
    // A server gets the credentials its `env` names, not all of LocalGPT's.
    crate::policy::environment::scrub(&mut child, &config.tools.env_allow);
    for (name, value) in &server.env {
        let value = match (crate::secrets::reference(value), &server.secrets) {
            (Some(secret), Some(vault)) => vault
                .get(secret)
                .map_err(|err| format!("env {name}: {err}"))?,
            (Some(_), None) => return Err(format!("env {name}: there is no secrets store")),
            (None, _) => expand(value)?,
        };
        child.env(name, value);
    }
    child.kill_on_drop(true);
    // Should LocalGPT die without stopping it, the server is told to stop too.
    crate::sandbox::stop_with_parent(&mut child);
    let mut wrapped = CommandWrap::from(child);
    // npx and uvx start the real server as their child: the group is stopped whole.
    wrapped.wrap(ProcessGroup::leader());
    let (transport, stderr) = TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => {
                format!("cannot start `{program}`: not found (is it installed and on PATH?)")
            }
            _ => format!("cannot start `{program}`: {err}"),
        })?;
    let process_group = transport.id();
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = stderr {
        let tail = stderr_tail.clone();
        let server_name = handler.server.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(target: "localgpt::mcp", server = %server_name, "{line}");
                if let Ok(mut tail) = tail.lock() {
                    if tail.len() == STDERR_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
        });
    }
    let service = handshake(handler.serve(transport), timeout)
        .await
        .map_err(|err| with_stderr(err, &stderr_tail))?;
    Ok(Started {
        service,
        process_group,
        stderr_tail,
    })
}

async fn http(
    handler: Handler,
    url: &str,
    server: &McpServerConfig,
    config: &Config,
    timeout: Duration,
) -> Result<Started, String> {
    let url = expand(url)?;
    let parsed = reqwest::Url::parse(&url).map_err(|err| {
        format!(
            "{} is not a URL: {err}",
            crate::config::without_password(&url)
        )
    })?;
    let headers = headers(&server.headers)?;
    let settings = crate::net::HttpSettings::from_config(config);
    let client = crate::net::client_builder(&settings)
        .default_headers(headers.clone())
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
    let streamable = || async {
        let transport = StreamableHttpClientTransport::with_client(
            client.clone(),
            StreamableHttpClientTransportConfig::with_uri(url.as_str()),
        );
        handshake(handler.clone().serve(transport), timeout).await
    };
    let legacy = || async {
        let pair =
            tokio::time::timeout(timeout, legacy_sse::connect(client.clone(), parsed.clone()))
                .await
                .map_err(|_| format!("no answer within {} s", timeout.as_secs()))??;
        handshake(handler.clone().serve(pair), timeout).await
    };
    let service = match server.transport {
        McpTransport::StreamableHttp => streamable().await?,
        McpTransport::Sse => legacy().await?,
        // The older servers answer a POST with 404 or 405; trying is how to tell.
        McpTransport::Auto => match streamable().await {
            Ok(service) => service,
            Err(first) => legacy()
                .await
                .map_err(|second| format!("streamable HTTP: {first}; HTTP+SSE: {second}"))?,
        },
    };
    Ok(Started {
        service,
        process_group: None,
        stderr_tail: Arc::new(Mutex::new(VecDeque::new())),
    })
}

async fn handshake<E: std::fmt::Display>(
    serving: impl Future<Output = Result<RunningService<RoleClient, Handler>, E>>,
    timeout: Duration,
) -> Result<RunningService<RoleClient, Handler>, String> {
    match tokio::time::timeout(timeout, serving).await {
        Ok(Ok(service)) => Ok(service),
        Ok(Err(err)) => Err(format!("the MCP handshake failed: {err}")),
        Err(_) => Err(format!(
            "it did not answer the MCP handshake within {} s (timeout_secs)",
            timeout.as_secs()
        )),
    }
}

/// `err`, with what the server wrote to stderr before it failed.
pub(crate) fn with_stderr(err: String, tail: &Mutex<VecDeque<String>>) -> String {
    let lines: Vec<String> = tail
        .lock()
        .map(|tail| tail.iter().cloned().collect())
        .unwrap_or_default();
    if lines.is_empty() {
        err
    } else {
        format!("{err}; it said: {}", lines.join(" | "))
    }
}

fn headers(configured: &BTreeMap<String, crate::config::Secret>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in configured {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        let value = value
            .reveal()
            .map_err(|err| format!("header `{name}`: {err}"))?;
        let mut value = HeaderValue::from_str(&expand(&value)?)
            .map_err(|_| format!("the value of header `{name}` is not valid in a header"))?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    Ok(headers)
}

/// `${NAME}` replaced by the variable's value; an unset one is an error that names it.
pub(crate) fn expand(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("${") {
        out.push_str(before);
        let Some((name, tail)) = after.split_once('}') else {
            return Err(format!("`{text}` has a `${{` without its `}}`"));
        };
        let value = std::env::var(name)
            .map_err(|_| format!("${{{name}}} is used in the settings but {name} is not set"))?;
        out.push_str(&value);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_expanded_and_a_missing_one_named() {
        // PATH is set wherever tests run.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand("a ${PATH} b").unwrap(), format!("a {path} b"));
        assert_eq!(expand("no variables").unwrap(), "no variables");
        let err = expand("Bearer ${LOCALGPT_SURELY_UNSET_VAR}").unwrap_err();
        assert!(
            err.contains("LOCALGPT_SURELY_UNSET_VAR is not set"),
            "{err}"
        );
        assert!(expand("${OPEN").is_err());
    }
}
