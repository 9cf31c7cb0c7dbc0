//! Dotted setting names (`server.port`, `providers.openrouter.base_url`): parsing them,
//! knowing which exist, and suggesting the nearest when one is misspelt.
//!
//! The list of settings is derived from the schema itself (by serialising a fully
//! populated [`Config`]), so it can never drift from what the loader accepts.

use std::sync::OnceLock;

use super::error::ConfigError;
use super::schema::{Config, McpServerConfig, ProviderConfig, ProviderKind};
use super::secret::{BaseUrl, Secret};

/// Stands for any name in a table whose keys are chosen by the user (`providers.NAME`).
const ANY_NAME: &str = "*";

/// Tables whose keys are names chosen by the user rather than fixed settings, as the
/// parts before the name ([`ANY_NAME`] where an earlier name stands).
const NAMED_TABLES: &[&[&str]] = &[
    &["providers"],
    &["models"],
    &["mcp", "servers"],
    &["mcp", "servers", ANY_NAME, "env"],
    &["mcp", "servers", ANY_NAME, "headers"],
];

/// Splits a dotted key as TOML does, so `models."gpt-4.1".context_window` has three parts.
pub(crate) fn parse_key(key: &str) -> Result<Vec<String>, ConfigError> {
    let parts = toml_edit::Key::parse(key).map_err(|err| ConfigError::BadKey {
        key: key.to_string(),
        message: err.message().trim().to_string(),
    })?;
    Ok(parts.iter().map(|part| part.get().to_string()).collect())
}

/// Joins parts back into a dotted key, quoting parts that need it.
pub(crate) fn display_key(parts: &[String]) -> String {
    parts
        .iter()
        .map(|part| {
            toml_edit::Key::new(part.as_str())
                .display_repr()
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Every setting as a pattern of parts, with [`ANY_NAME`] for user-chosen names.
fn schema_keys() -> &'static [Vec<String>] {
    static KEYS: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut sample = Config::default();
        sample.agent.model = Some(String::new());
        sample.memory.embedding_model = Some(String::new());
        sample.providers.insert(
            ANY_NAME.to_string(),
            ProviderConfig {
                kind: Some(ProviderKind::OpenAi),
                base_url: Some(BaseUrl::default()),
                api_key: Some(Secret::new("")),
                api_key_env: Some(String::new()),
                command: Some(String::new()),
                args: vec![String::new()],
            },
        );
        sample.models.insert(
            ANY_NAME.to_string(),
            super::schema::ModelConfig {
                context_window: Some(1),
            },
        );
        let any = || {
            [(ANY_NAME.to_string(), String::new())]
                .into_iter()
                .collect()
        };
        sample.mcp.servers.insert(
            ANY_NAME.to_string(),
            McpServerConfig {
                command: Some(String::new()),
                cwd: Some(String::new()),
                url: Some(BaseUrl::default()),
                env: any(),
                headers: [(ANY_NAME.to_string(), Secret::new(""))]
                    .into_iter()
                    .collect(),
                ..McpServerConfig::default()
            },
        );
        sample.channels.telegram = Some(super::schema::TelegramConfig {
            token: Some(Secret::new("")),
            model: Some(String::new()),
            ..Default::default()
        });
        let mut keys = Vec::new();
        // Serialising our own plain structs into a TOML table cannot fail.
        if let Ok(toml::Value::Table(table)) = toml::Value::try_from(&sample) {
            collect(&table, &mut Vec::new(), &mut keys);
        }
        keys
    })
}

fn collect(table: &toml::Table, prefix: &mut Vec<String>, keys: &mut Vec<Vec<String>>) {
    for (name, value) in table {
        prefix.push(name.clone());
        keys.push(prefix.clone());
        if let toml::Value::Table(inner) = value {
            collect(inner, prefix, keys);
        }
        prefix.pop();
    }
}

/// Replaces user-chosen names with [`ANY_NAME`] so a key can be compared with the schema.
fn normalise(parts: &[String]) -> Vec<String> {
    let mut normal = parts.to_vec();
    // Shorter prefixes first, so that a name they stand before is already replaced when a
    // longer prefix that spans it is compared.
    for table in NAMED_TABLES {
        if normal.len() > table.len() && normal[..table.len()].iter().eq(table.iter()) {
            normal[table.len()] = ANY_NAME.to_string();
        }
    }
    normal
}

/// True when `parts` names a setting or a section of settings.
pub(crate) fn is_known(parts: &[String]) -> bool {
    if parts.is_empty() {
        return false;
    }
    let normal = normalise(parts);
    schema_keys().contains(&normal)
}

/// The closest existing setting to a misspelt one, if any is close enough to be a typo.
pub(crate) fn suggest(parts: &[String]) -> Option<String> {
    let normal = normalise(parts);
    let (last, parent) = normal.split_last()?;
    let best = schema_keys()
        .iter()
        .filter(|key| key.len() == normal.len() && key[..key.len() - 1] == *parent)
        .filter_map(|key| {
            let candidate = key.last()?;
            let score = strsim::jaro_winkler(last, candidate);
            (score >= 0.8).then_some((score, candidate))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    let mut suggestion = parts.to_vec();
    if let Some(slot) = suggestion.last_mut() {
        *slot = best.1.clone();
    }
    Some(display_key(&suggestion))
}

/// Turns a path reported by `serde_ignored` into parts, dropping the markers it adds for
/// `Option` and newtype layers.
pub(crate) fn ignored_path_parts(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut parts = ignored_path_parts(parent);
            parts.push(index.to_string());
            parts
        }
        Path::Map { parent, key } => {
            let mut parts = ignored_path_parts(parent);
            parts.push(key.clone());
            parts
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path_parts(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(key: &str) -> Vec<String> {
        parse_key(key).unwrap()
    }

    #[test]
    fn knows_fixed_and_named_settings() {
        assert!(is_known(&parts("server.port")));
        assert!(is_known(&parts("server")));
        assert!(is_known(&parts("providers.openrouter.base_url")));
        assert!(is_known(&parts("mcp.servers.git.command")));
        assert!(is_known(&parts("mcp.servers.git.env.GIT_AUTHOR_NAME")));
        assert!(is_known(&parts("mcp.servers.docs.headers.Authorization")));
        assert!(!is_known(&parts("mcp.servers.git.nonsense")));
        assert!(!is_known(&parts("server.prot")));
        assert!(!is_known(&parts("providers.x.nonsense")));
    }

    #[test]
    fn suggests_the_nearest_setting() {
        assert_eq!(
            suggest(&parts("server.prot")).as_deref(),
            Some("server.port")
        );
        assert_eq!(
            suggest(&parts("providers.local.base_ur")).as_deref(),
            Some("providers.local.base_url")
        );
        assert_eq!(suggest(&parts("server.zzzzzz")), None);
    }

    #[test]
    fn quoted_parts_survive_a_round_trip() {
        let key = parts("models.\"gpt-4.1\".context_window");
        assert_eq!(key, ["models", "gpt-4.1", "context_window"]);
        assert_eq!(display_key(&key), "models.\"gpt-4.1\".context_window");
        assert!(parse_key("a..b").is_err());
    }
}
