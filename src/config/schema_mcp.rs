//! The `[mcp]` table of `config.toml`: the MCP servers whose tools the model may use, and
//! what `localgpt mcp serve` offers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::secret::{BaseUrl, Secret};

/// MCP: the servers whose tools the model may use, and what `localgpt mcp serve` offers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct McpConfig {
    /// Keyed by the name that prefixes their tools (`git__status`).
    pub servers: BTreeMap<String, McpServerConfig>,
    /// Whether `localgpt mcp serve` also offers the file and shell tools.
    pub serve_tools: bool,
}

/// One MCP server: a program spoken to over stdio (`command`), or an address (`url`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct McpServerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub args: Vec<String>,
    /// Added to the program's environment; values may name variables (`${TOKEN}`) or be
    /// a stored secret (`secret:NAME`).
    #[serde(serialize_with = "super::super::secret::serialize_env")]
    pub env: BTreeMap<String, String>,
    /// The secrets store `secret:NAME` values of `env` are looked up in (attached when the
    /// settings are loaded).
    #[serde(skip)]
    pub secrets: Option<std::sync::Arc<crate::secrets::Vault>>,
    /// The program's working folder (default: the current one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<BaseUrl>,
    /// Sent with every request to `url`; values may name variables (`Bearer ${TOKEN}`).
    pub headers: BTreeMap<String, Secret>,
    pub transport: McpTransport,
    pub enabled: bool,
    /// The longest a start or a call may take.
    pub timeout_secs: u64,
    /// Only these tools (names or `*` patterns); empty means all.
    pub tools: Vec<String>,
    pub exclude_tools: Vec<String>,
    pub trust: McpTrust,
}

impl Default for McpServerConfig {
    fn default() -> Self {
        McpServerConfig {
            command: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            secrets: None,
            cwd: None,
            url: None,
            headers: BTreeMap::new(),
            transport: McpTransport::Auto,
            enabled: true,
            timeout_secs: 60,
            tools: Vec::new(),
            exclude_tools: Vec::new(),
            trust: McpTrust::Ask,
        }
    }
}

/// How `url` is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum McpTransport {
    /// Streamable HTTP, falling back to HTTP+SSE where the server answers the older way.
    Auto,
    StreamableHttp,
    /// The HTTP+SSE transport of the 2024-11-05 protocol.
    Sse,
}

/// Which of a server's tools run without a person's yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum McpTrust {
    /// None: each call is approved like `bash`.
    Ask,
    /// Those the server marks read-only (`readOnlyHint`); the others are asked about.
    ReadOnly,
    /// All of them.
    All,
}
