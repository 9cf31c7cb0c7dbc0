//! The typed shape of `config.toml`: every key, its type and its default.
//!
//! Parsing (serde) rejects wrong types; [`Config::validate`] then rejects values of the
//! right type that cannot work (port 0, an unknown log level, a provider with no kind),
//! naming the key so the loader can point at its line.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::secret::{BaseUrl, Secret};

#[path = "schema_mcp.rs"]
mod mcp;
pub use mcp::{McpConfig, McpServerConfig, McpTransport, McpTrust};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub agent: AgentConfig,
    /// Keyed by the name used as a model prefix (`openai/gpt-4o`, `openrouter/…`).
    /// Built-in providers need no entry; an entry adjusts them or adds a new endpoint.
    pub providers: BTreeMap<String, ProviderConfig>,
    pub tools: ToolsConfig,
    pub compaction: CompactionConfig,
    pub sessions: SessionsConfig,
    /// Per-model settings, keyed by model name (`[models."gpt-4o"]`).
    pub models: BTreeMap<String, ModelConfig>,
    pub script: ScriptConfig,
    pub memory: MemoryConfig,
    pub skills: SkillsConfig,
    pub heartbeat: HeartbeatConfig,
    pub server: ServerConfig,
    pub logging: LoggingConfig,
    pub mcp: McpConfig,
    pub channels: ChannelsConfig,
}

/// Chat services the assistant answers on (`localgpt channels run`, and the daemon).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramConfig>,
}

/// A Telegram bot (Bot API, long polling).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TelegramConfig {
    /// The bot's token from @BotFather, or `secret:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// The Bot API server: Telegram's, or a self-hosted one.
    pub api_url: BaseUrl,
    /// The Telegram user ids that may talk to the assistant; anyone else is refused
    /// before the model sees a word.
    pub allow: Vec<i64>,
    /// How long a tool's approval waits for a button; then it counts as refused.
    pub approval_timeout_secs: u64,
    /// The model chats use (default: agent.model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            token: None,
            api_url: BaseUrl::new("https://api.telegram.org"),
            allow: Vec::new(),
            approval_timeout_secs: 300,
            model: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentConfig {
    /// Unset means: chosen from the keys that are available (see `resolve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// How many rounds of tool calls one turn may take before it stops.
    pub max_tool_rounds: u32,
    /// The longest answer asked for, in tokens.
    pub max_tokens: u32,
    /// Retries of a request that failed with 429, 5xx or a connection error.
    pub max_retries: u32,
    pub connect_timeout_secs: u64,
    /// The longest silence allowed while an answer streams.
    pub idle_timeout_secs: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            model: None,
            max_tool_rounds: 25,
            max_tokens: 8192,
            max_retries: 3,
            connect_timeout_secs: 10,
            idle_timeout_secs: 120,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Ask the person each time (denied when there is nobody to ask).
    Ask,
    /// Run without asking.
    Auto,
    /// Never run.
    Deny,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolsConfig {
    /// Whether `bash` and file writes need approval.
    pub approval: ApprovalMode,
    /// Folders the file tools may use besides the workspace and the current folder.
    pub allowed_paths: Vec<String>,
    pub bash_timeout_secs: u64,
    /// Tool output given back to the model is cut to this many KB.
    pub output_limit_kb: u64,
    pub web_timeout_secs: u64,
    /// Whether `web_fetch` may reach this machine and private networks.
    pub web_allow_local: bool,
    /// Variables commands see although their names look like credentials.
    pub env_allow: Vec<String>,
    /// The kernel sandbox shell commands run in.
    pub sandbox: SandboxMode,
    /// Whether shell commands may use the network (off: a network namespace of their own).
    pub bash_network: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// Use what the kernel offers; say once what it could not.
    Auto,
    /// Refuse to run commands without the whole sandbox.
    Required,
    /// Run commands unconfined.
    Off,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig {
            approval: ApprovalMode::Ask,
            allowed_paths: Vec::new(),
            bash_timeout_secs: 120,
            output_limit_kb: 32,
            web_timeout_secs: 30,
            web_allow_local: false,
            // Harmless settings whose names match the credential pattern.
            env_allow: ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]
                .iter()
                .map(|name| name.to_string())
                .collect(),
            sandbox: SandboxMode::Auto,
            bash_network: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderKind {
    #[serde(rename = "openai")]
    OpenAi,
    #[serde(rename = "anthropic")]
    Anthropic,
    #[serde(rename = "ollama")]
    Ollama,
    #[serde(rename = "claude-cli")]
    ClaudeCli,
    /// The built-in chat model, run in-process (`local/smollm2`).
    #[serde(rename = "local")]
    Local,
}

impl ProviderKind {
    pub(crate) const ALL: [ProviderKind; 5] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Ollama,
        ProviderKind::ClaudeCli,
        ProviderKind::Local,
    ];

    /// The name of the built-in provider of this kind, which is also its model prefix.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Ollama => "ollama",
            ProviderKind::ClaudeCli => "claude-cli",
            ProviderKind::Local => "local",
        }
    }

    pub fn builtin(name: &str) -> Option<ProviderKind> {
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// Required for a user-named provider; implied by the name for a built-in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ProviderKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<BaseUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// The variable to read the key from, for endpoints with their own convention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The executable, for `claude-cli`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Extra arguments passed to the command, for `claude-cli`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionsConfig {
    /// After a conversation's first answer, ask the model for a short title (one extra,
    /// small request); otherwise the first line of the first message is the title.
    pub auto_title: bool,
}

/// When and how long conversations are compacted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CompactionConfig {
    /// Compact when the next request would fill this share of the context window.
    pub threshold: f64,
    /// The most recent turns kept word for word.
    pub keep_recent: usize,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            threshold: 0.8,
            keep_recent: 4,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelConfig {
    /// Tokens the model can take in; overrides the built-in table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
}

/// Limits every Rhai run has, so no script can hang or exhaust the machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptConfig {
    pub max_operations: u64,
    pub max_call_depth: usize,
    pub max_string_kb: usize,
    pub max_array_len: usize,
    pub max_map_len: usize,
    /// Memory a run may hold (what the script's own thread allocates), in MB.
    pub max_memory_mb: u64,
    /// Wall-clock time a run may take.
    pub timeout_secs: u64,
}

impl Default for ScriptConfig {
    fn default() -> Self {
        ScriptConfig {
            max_operations: 50_000_000,
            max_call_depth: 64,
            max_string_kb: 16 * 1024,
            max_array_len: 1_000_000,
            max_map_len: 100_000,
            max_memory_mb: 512,
            timeout_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryConfig {
    /// Globs relative to the workspace.
    pub paths: Vec<String>,
    /// Folders, files or globs outside the workspace (`~` is your home directory).
    pub extra_paths: Vec<String>,
    /// Files are indexed up to this size; the rest of a larger file is left out.
    pub max_file_kb: u64,
    /// Semantic search: "auto" (local when the model is installed), "local", "openai",
    /// "ollama" or "none".
    pub embeddings: String,
    /// The provider's embedding model ("text-embedding-3-small", "nomic-embed-text").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// What a conversation leaves in the daily log.
    pub capture: CaptureMode,
    /// A conversation held open by the API leaves its trace after this many quiet
    /// minutes (0: after every turn).
    pub trace_after_minutes: u64,
    /// Whether notes are recalled into every turn by themselves.
    pub recall: RecallMode,
    /// Notes recalled into a turn, at most.
    pub recall_hits: usize,
    /// Tokens the recalled notes may take, at most.
    pub recall_tokens: usize,
    /// What `memory consolidate` does with the changes it finds: "propose" (kept for
    /// `memory review`), "auto" (made at once, MEMORY.md copied first) or "off".
    pub consolidate: ConsolidateMode,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            paths: vec!["MEMORY.md".to_string(), "memory/**/*.md".to_string()],
            extra_paths: Vec::new(),
            max_file_kb: 4096,
            embeddings: "auto".to_string(),
            embedding_model: None,
            capture: CaptureMode::Summary,
            trace_after_minutes: 15,
            recall: RecallMode::Auto,
            recall_hits: 3,
            recall_tokens: 300,
            consolidate: ConsolidateMode::Propose,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// What the person said about themselves and their world, condensed.
    Summary,
    /// Every message the person sent, as sent.
    Transcript,
    /// Nothing but what they ask to be remembered.
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsolidateMode {
    /// Kept for `localgpt memory review`.
    Propose,
    /// Made at once.
    Auto,
    /// Never run.
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecallMode {
    /// Before every turn, with no tool call.
    Auto,
    /// Only when the model calls memory_search.
    Tool,
    /// Never.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SkillsConfig {
    /// More folders of skills (`~` is your home directory), e.g. `~/.claude/skills`.
    pub extra_paths: Vec<String>,
    /// The most the skills list in the system prompt may take, in characters.
    pub prompt_max_chars: usize,
}

impl Default for SkillsConfig {
    fn default() -> Self {
        SkillsConfig {
            extra_paths: Vec::new(),
            prompt_max_chars: 4000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HeartbeatConfig {
    /// The HEARTBEAT.md check; scheduled tasks run either way.
    pub enabled: bool,
    /// How often HEARTBEAT.md is checked (`30m`, `1h`).
    pub interval: String,
    /// `"08:00-22:00"`: when the check may run; empty means any time.
    pub active_hours: String,
    /// IANA name (`Europe/Berlin`) for schedules and active hours; empty means local time.
    pub timezone: String,
    /// A command given each heartbeat message as its last argument (`notify-send LocalGPT`).
    pub notify: String,
    /// Chats each heartbeat message is sent to (`telegram:123456789`).
    pub deliver: Vec<String>,
    /// Whether tasks and heartbeat turns may run shell commands (nobody is there to ask).
    pub allow_bash: bool,
    /// A task's time limit unless its header says otherwise (`//! timeout: 1m`).
    pub task_timeout: String,
    /// On stop, how long running tasks get to finish before they are cancelled.
    pub stop_grace: String,
    /// The model of heartbeat turns; empty means agent.model.
    pub model: String,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            enabled: true,
            interval: "30m".to_string(),
            active_hours: "08:00-22:00".to_string(),
            timezone: String::new(),
            notify: String::new(),
            deliver: Vec::new(),
            allow_bash: false,
            task_timeout: "5m".to_string(),
            stop_grace: "10s".to_string(),
            model: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Whether `localgpt daemon` also serves the HTTP API.
    pub enabled: bool,
    pub bind: IpAddr,
    pub port: u16,
    /// Binding an address other machines can reach must be asked for explicitly.
    pub allow_remote: bool,
    /// Web origins (`https://app.example.com`) allowed to call the API from a browser.
    pub cors_origins: Vec<String>,
    /// The largest request body accepted, in KB.
    pub max_body_kb: u64,
    /// Chat turns running at once; more get 429.
    pub max_concurrent_turns: u32,
    /// A client must send its request (headers and body) within this many seconds.
    pub request_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            enabled: false,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 31327,
            allow_remote: false,
            cors_origins: Vec::new(),
            max_body_kb: 1024,
            max_concurrent_turns: 4,
            request_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingConfig {
    /// A tracing filter for `logs/`, e.g. `info` or `info,localgpt=debug`.
    pub level: String,
    /// How many daily log files to keep.
    pub keep_days: u16,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_string(),
            keep_days: 14,
        }
    }
}

/// A value of the right type that still cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted path of the offending key, e.g. `server.port`.
    pub key: String,
    pub message: String,
}

pub(crate) use super::validate::check_base_url;

#[cfg(test)]
mod tests {
    use super::*;

    fn with_provider(name: &str, provider: ProviderConfig) -> Config {
        let mut config = Config::default();
        config.providers.insert(name.to_string(), provider);
        config
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn named_provider_needs_a_kind() {
        let err = with_provider("openrouter", ProviderConfig::default())
            .validate()
            .unwrap_err();
        assert_eq!(err.key, "providers.openrouter");
        assert!(err.message.contains("kind = \"openai\""));
    }

    #[test]
    fn named_endpoint_needs_a_base_url() {
        let provider = ProviderConfig {
            kind: Some(ProviderKind::OpenAi),
            ..ProviderConfig::default()
        };
        let err = with_provider("lmstudio", provider).validate().unwrap_err();
        assert!(err.message.contains("base_url"), "{}", err.message);
    }

    #[test]
    fn builtin_provider_cannot_change_kind() {
        let provider = ProviderConfig {
            kind: Some(ProviderKind::Anthropic),
            ..ProviderConfig::default()
        };
        let err = with_provider("openai", provider).validate().unwrap_err();
        assert_eq!(err.key, "providers.openai.kind");
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(check_base_url("https://api.openai.com/v1", false).is_ok());
        assert!(check_base_url("localhost:11434", true).is_ok());
        assert!(check_base_url("localhost:11434", false).is_err());
        assert!(check_base_url("ftp://x", true).is_err());
        assert!(check_base_url("http://", false).is_err());
    }

    #[test]
    fn memory_patterns_must_be_valid_globs() {
        let mut config = Config::default();
        config.memory.extra_paths = vec!["~/notes/[unclosed".to_string()];
        assert_eq!(config.validate().unwrap_err().key, "memory.extra_paths");
        config.memory.extra_paths = vec!["~/notes".to_string(), "/srv/docs/**/*.md".to_string()];
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn port_zero_and_bad_log_level_are_rejected() {
        let mut config = Config::default();
        config.server.port = 0;
        assert_eq!(config.validate().unwrap_err().key, "server.port");
        let mut config = Config::default();
        for bad in ["loud!!", "shouting", "info,localgpt=loud", ""] {
            config.logging.level = bad.to_string();
            assert_eq!(
                config.validate().unwrap_err().key,
                "logging.level",
                "{bad:?}"
            );
        }
        for good in ["info", "WARN", "info,localgpt=debug", "off"] {
            config.logging.level = good.to_string();
            assert_eq!(config.validate(), Ok(()), "{good:?}");
        }
    }
}
