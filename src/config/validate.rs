//! The rules `config.toml` must follow beyond its types: ranges, names, URLs, globs,
//! filters, and the settings that are text (durations, time windows, time zones). Each
//! problem names its key, so the loader can point at the line.

use super::schema::*;

impl Config {
    /// The model to use: `agent.model` once settings are resolved (which always set it).
    pub fn model(&self) -> &str {
        self.agent
            .model
            .as_deref()
            .unwrap_or(super::settings::AUTO_LOCAL_MODEL)
    }

    /// Checks every rule serde's types cannot express. Returns the first problem so the
    /// message can be specific; fixing it and re-running shows the next.
    pub fn validate(&self) -> Result<(), Invalid> {
        let invalid = |key: String, message: String| Err(Invalid { key, message });
        for (name, provider) in &self.providers {
            if !is_valid_provider_name(name) {
                return invalid(
                    format!("providers.{name}"),
                    "a provider name may use only lowercase letters, digits, `-` and `_` \
                     (it is typed as a model prefix, as in `name/model`)"
                        .to_string(),
                );
            }
            match (ProviderKind::builtin(name), provider.kind) {
                (None, None) => {
                    return invalid(
                        format!("providers.{name}"),
                        format!(
                            "provider `{name}` needs a kind: add `kind = \"openai\"` for an \
                             OpenAI-compatible endpoint (or \"anthropic\", \"ollama\", \"claude-cli\")"
                        ),
                    );
                }
                (Some(builtin), Some(kind)) if builtin != kind => {
                    return invalid(
                        format!("providers.{name}.kind"),
                        format!(
                            "the built-in provider `{name}` is of kind \"{}\"; to add another \
                             endpoint, give it a name of its own",
                            builtin.name()
                        ),
                    );
                }
                _ => {}
            }
            let needs_url = matches!(
                provider.kind,
                Some(ProviderKind::OpenAi | ProviderKind::Anthropic)
            );
            if ProviderKind::builtin(name).is_none() && needs_url && provider.base_url.is_none() {
                return invalid(
                    format!("providers.{name}"),
                    format!(
                        "provider `{name}` needs a base_url, e.g.                          `base_url = \"https://openrouter.ai/api/v1\"`"
                    ),
                );
            }
            if let Some(url) = &provider.base_url {
                let kind = provider.kind.or(ProviderKind::builtin(name));
                let scheme_optional = kind == Some(ProviderKind::Ollama);
                if let Err(message) = check_base_url(url.expose(), scheme_optional) {
                    return invalid(format!("providers.{name}.base_url"), message);
                }
            }
        }
        self.validate_mcp()?;
        for (key, patterns) in [
            ("memory.paths", &self.memory.paths),
            ("memory.extra_paths", &self.memory.extra_paths),
        ] {
            for pattern in patterns {
                if let Err(message) = check_glob(pattern) {
                    return invalid(key.to_string(), message);
                }
            }
        }
        for (key, value) in [
            (
                "agent.max_tool_rounds",
                u64::from(self.agent.max_tool_rounds),
            ),
            ("agent.max_tokens", u64::from(self.agent.max_tokens)),
            (
                "agent.connect_timeout_secs",
                self.agent.connect_timeout_secs,
            ),
            ("agent.idle_timeout_secs", self.agent.idle_timeout_secs),
            ("tools.bash_timeout_secs", self.tools.bash_timeout_secs),
            ("tools.output_limit_kb", self.tools.output_limit_kb),
            ("tools.web_timeout_secs", self.tools.web_timeout_secs),
            ("script.max_operations", self.script.max_operations),
            ("script.timeout_secs", self.script.timeout_secs),
            ("script.max_call_depth", self.script.max_call_depth as u64),
            ("script.max_string_kb", self.script.max_string_kb as u64),
            ("script.max_array_len", self.script.max_array_len as u64),
            ("script.max_map_len", self.script.max_map_len as u64),
        ] {
            if value == 0 {
                return invalid(key.to_string(), "must be at least 1".to_string());
            }
        }
        if !(0.1..=1.0).contains(&self.compaction.threshold) {
            return invalid(
                "compaction.threshold".to_string(),
                "a share of the context window between 0.1 and 1.0, e.g. 0.8".to_string(),
            );
        }
        for (name, model) in &self.models {
            if model.context_window.is_some_and(|w| w < 256) {
                return invalid(
                    format!("models.{name}.context_window"),
                    "a context window is at least 256 tokens".to_string(),
                );
            }
        }
        if let Err((key, message)) = self.heartbeat.check() {
            return invalid(format!("heartbeat.{key}"), message);
        }
        if !["auto", "local", "openai", "ollama", "none"].contains(&self.memory.embeddings.as_str())
        {
            return invalid(
                "memory.embeddings".to_string(),
                format!(
                    "\"{}\" is not a choice: \"auto\" (local when the model is installed), \"local\", \"openai\", \"ollama\" or \"none\"",
                    self.memory.embeddings
                ),
            );
        }
        if self.memory.recall_hits == 0 || self.memory.recall_hits > 20 {
            return invalid(
                "memory.recall_hits".to_string(),
                "recall between 1 and 20 notes (memory.recall = \"off\" recalls none)".to_string(),
            );
        }
        if self.memory.max_file_kb == 0 {
            return invalid(
                "memory.max_file_kb".to_string(),
                "files must be indexed up to at least 1 KB".to_string(),
            );
        }
        if self.server.port == 0 {
            return invalid(
                "server.port".to_string(),
                "port 0 would pick a random port that clients cannot find; choose 1-65535"
                    .to_string(),
            );
        }
        for (key, value) in [
            ("server.max_body_kb", self.server.max_body_kb),
            (
                "server.max_concurrent_turns",
                u64::from(self.server.max_concurrent_turns),
            ),
            (
                "server.request_timeout_secs",
                self.server.request_timeout_secs,
            ),
        ] {
            if value == 0 {
                return invalid(key.to_string(), "must be at least 1".to_string());
            }
        }
        if !self.server.bind.is_loopback() && !self.server.allow_remote {
            return invalid(
                "server.bind".to_string(),
                format!(
                    "{} can be reached from other machines; set server.allow_remote = true \
                     if that is what you want (every request still needs the token)",
                    self.server.bind
                ),
            );
        }
        for origin in &self.server.cors_origins {
            let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.trim_end_matches('/').contains(['?', '#'])
                && origin.split('/').count() == 3;
            if !valid {
                return invalid(
                    "server.cors_origins".to_string(),
                    format!(
                        "\"{origin}\" is not an origin: write it as \"https://app.example.com\" (scheme, host, optional port, no path)"
                    ),
                );
            }
        }
        if let Err(message) = check_log_filter(&self.logging.level) {
            return invalid("logging.level".to_string(), message);
        }
        if self.logging.keep_days == 0 {
            return invalid(
                "logging.keep_days".to_string(),
                "keep at least 1 day of logs".to_string(),
            );
        }
        Ok(())
    }
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A tracing filter in which every directive ends in a level. `EnvFilter` alone would
/// accept a lone word as a module name, so a typo such as "inf" would silently log nothing.
fn check_log_filter(filter: &str) -> Result<(), String> {
    let explain = |detail: String| {
        format!(
            "{detail}; use one of error, warn, info, debug, trace, or a filter such as \"info,localgpt=debug\""
        )
    };
    for directive in filter.split(',').map(str::trim) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        if !LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(explain(format!("`{directive}` does not name a log level")));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map(|_| ())
        .map_err(|err| explain(format!("`{filter}` is not a log filter ({err})")))
}

impl Config {
    fn validate_mcp(&self) -> Result<(), Invalid> {
        let invalid = |key: String, message: String| Err(Invalid { key, message });
        for (name, server) in &self.mcp.servers {
            let key = |setting: &str| format!("mcp.servers.{name}.{setting}");
            if !is_valid_mcp_name(name) {
                return invalid(
                    format!("mcp.servers.{name}"),
                    "a server name may use only letters, digits, `-` and `_`, up to 32 \
                     (it prefixes the names of its tools, as in `name__tool`)"
                        .to_string(),
                );
            }
            match (&server.command, &server.url) {
                (Some(_), Some(_)) => {
                    return invalid(
                        format!("mcp.servers.{name}"),
                        "give either `command` (a program spoken to over stdio) or `url`, \
                         not both"
                            .to_string(),
                    );
                }
                (None, None) => {
                    return invalid(
                        format!("mcp.servers.{name}"),
                        "needs `command = \"…\"` (a program spoken to over stdio) or \
                         `url = \"http://…\"`"
                            .to_string(),
                    );
                }
                (Some(command), None) if command.trim().is_empty() => {
                    return invalid(key("command"), "is empty".to_string());
                }
                (None, Some(url)) => {
                    if let Err(message) = check_base_url(url.expose(), false) {
                        return invalid(key("url"), message);
                    }
                }
                _ => {}
            }
            if server.command.is_some() && server.transport != McpTransport::Auto {
                return invalid(
                    key("transport"),
                    "is for servers given by `url`; a `command` is spoken to over stdio"
                        .to_string(),
                );
            }
            if server.timeout_secs == 0 {
                return invalid(key("timeout_secs"), "must be at least 1".to_string());
            }
            for (setting, patterns) in [
                ("tools", &server.tools),
                ("exclude_tools", &server.exclude_tools),
            ] {
                for pattern in patterns {
                    if let Err(err) = globset::Glob::new(pattern) {
                        return invalid(
                            key(setting),
                            format!("`{pattern}` is not a valid name pattern: {}", err.kind()),
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_valid_mcp_name(name: &str) -> bool {
    (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_glob(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("an empty path matches nothing; remove it from the list".to_string());
    }
    globset::Glob::new(pattern)
        .map(|_| ())
        .map_err(|err| format!("`{pattern}` is not a valid path pattern: {}", err.kind()))
}

fn is_valid_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Accepts `http://` and `https://` URLs with a host. Ollama's own convention also allows
/// a bare `host:port`, so `scheme_optional` admits that.
pub(crate) fn check_base_url(url: &str, scheme_optional: bool) -> Result<(), String> {
    let shown = super::secret::without_password(url);
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = match rest {
        Some(rest) => rest,
        None if scheme_optional && !url.contains("://") => url,
        None => {
            return Err(format!(
                "`{shown}` is not an http:// or https:// URL (for example https://api.example.com/v1)"
            ));
        }
    };
    if host.is_empty() || host.starts_with('/') || host.chars().any(char::is_whitespace) {
        return Err(format!("`{shown}` has no valid host"));
    }
    Ok(())
}
