//! Which provider serves a model. An explicit `provider/model` (a built-in name or one of
//! the user's `[providers.NAME]`) always wins; otherwise the name decides, as the original
//! LocalGPT does it: `gpt-*`, `o1`/`o3`/`o4`, `chatgpt-*` → OpenAI, `claude-*` →
//! Anthropic, anything else → Ollama.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{HttpSettings, Provider, ProviderError, anthropic, claude_cli, local, ollama, openai};
use crate::config::{Config, ProviderConfig, ProviderKind};

/// Model-name prefixes and the provider they mean. A prefix ending in `-` matches the
/// start of the name; one without matches the whole name or the name followed by `-`.
const NAME_ROUTES: [(&str, ProviderKind); 6] = [
    ("gpt-", ProviderKind::OpenAi),
    ("chatgpt-", ProviderKind::OpenAi),
    ("o1", ProviderKind::OpenAi),
    ("o3", ProviderKind::OpenAi),
    ("o4", ProviderKind::OpenAi),
    ("claude-", ProviderKind::Anthropic),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRoute {
    /// The `[providers.NAME]` entry that serves it.
    pub provider: String,
    pub kind: ProviderKind,
    /// The model as that provider knows it.
    pub model: String,
}

pub(crate) fn resolve_model(model: &str, config: &Config) -> ModelRoute {
    if let Some((prefix, rest)) = model.split_once('/')
        && !rest.is_empty()
        && let Some(provider) = config.providers.get(prefix)
        && let Some(kind) = provider.kind.or(ProviderKind::builtin(prefix))
    {
        return ModelRoute {
            provider: prefix.to_string(),
            kind,
            model: rest.to_string(),
        };
    }
    let kind = NAME_ROUTES
        .iter()
        .find(|(prefix, _)| {
            if prefix.ends_with('-') {
                model.starts_with(prefix)
            } else {
                model == *prefix || model.starts_with(&format!("{prefix}-"))
            }
        })
        .map_or(ProviderKind::Ollama, |(_, kind)| *kind);
    ModelRoute {
        provider: kind.name().to_string(),
        kind,
        model: model.to_string(),
    }
}

/// Builds the provider for a route from the (resolved) configuration; local models are
/// looked for in `models_dir`.
pub(crate) fn build_provider(
    route: &ModelRoute,
    config: &Config,
    http: &HttpSettings,
    models_dir: &Path,
) -> Result<Arc<dyn Provider>, ProviderError> {
    let entry = config
        .providers
        .get(&route.provider)
        .cloned()
        .unwrap_or_else(|| ProviderConfig {
            kind: Some(route.kind),
            ..ProviderConfig::default()
        });
    let base_url = entry
        .base_url
        .as_ref()
        .map(|url| url.expose().to_string())
        .unwrap_or_default();
    let provider: Arc<dyn Provider> = match route.kind {
        ProviderKind::OpenAi => {
            let key = required_key(
                &entry,
                route,
                &base_url,
                "api.openai.com",
                "OpenAI",
                "OPENAI_API_KEY",
            )?;
            Arc::new(openai::OpenAi::new(&route.provider, &base_url, key, http)?)
        }
        ProviderKind::Anthropic => {
            let key = required_key(
                &entry,
                route,
                &base_url,
                "api.anthropic.com",
                "Anthropic",
                "ANTHROPIC_API_KEY",
            )?;
            Arc::new(anthropic::Anthropic::new(
                &route.provider,
                &base_url,
                key,
                http,
            )?)
        }
        ProviderKind::Ollama => Arc::new(ollama::Ollama::new(&base_url, http)?),
        ProviderKind::ClaudeCli => Arc::new(claude_cli::ClaudeCli::new(
            entry.command.as_deref().unwrap_or("claude"),
            &entry.args,
        )),
        ProviderKind::Local => Arc::new(local::LocalChat::new(local_model_dir(
            models_dir,
            &route.model,
        )?)),
    };
    Ok(provider)
}

/// The folder of an installed local model; the name is a plain folder name, so a model
/// name cannot point anywhere else on disk.
fn local_model_dir(models_dir: &Path, name: &str) -> Result<PathBuf, ProviderError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    let dir = models_dir.join(name);
    if !plain || !crate::models::chat::is_installed(&dir) {
        return Err(ProviderError::Setup(format!(
            "no built-in chat model `{name}` is installed (`localgpt models list`); \
             `localgpt models install smollm2` installs `{}`",
            crate::models::chat::MODEL_NAME
        )));
    }
    Ok(dir)
}

/// The API key, which the official endpoints require. Self-hosted compatible servers
/// usually take none, so for them a missing key is not an error.
fn required_key(
    entry: &ProviderConfig,
    route: &ModelRoute,
    base_url: &str,
    official_host: &str,
    provider: &'static str,
    default_var: &str,
) -> Result<Option<String>, ProviderError> {
    if let Some(key) = &entry.api_key {
        let key = key.reveal().map_err(|err| {
            ProviderError::Setup(format!("providers.{}.api_key: {err}", route.provider))
        })?;
        return Ok(Some(key));
    }
    if !base_url.contains(official_host) {
        return Ok(None);
    }
    Err(ProviderError::MissingKey {
        provider,
        config_name: route.provider.clone(),
        var: entry
            .api_key_env
            .clone()
            .unwrap_or_else(|| default_var.to_string()),
        model: route.model.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, Settings};
    use std::path::Path;

    fn route(model: &str) -> (String, ProviderKind, String) {
        let text = "[providers.openrouter]\nkind = \"openai\"\nbase_url = \"https://openrouter.ai/api/v1\"\n";
        let settings = Settings::from_text(
            text,
            Path::new("c.toml"),
            &[("X", "")],
            &Overrides::default(),
        )
        .unwrap();
        let route = resolve_model(model, &settings.config);
        (route.provider, route.kind, route.model)
    }

    #[test]
    fn names_route_to_their_providers() {
        use ProviderKind::*;
        let cases = [
            ("gpt-4o", "openai", OpenAi, "gpt-4o"),
            ("o1", "openai", OpenAi, "o1"),
            ("o3-mini", "openai", OpenAi, "o3-mini"),
            ("o4-mini", "openai", OpenAi, "o4-mini"),
            ("chatgpt-4o-latest", "openai", OpenAi, "chatgpt-4o-latest"),
            (
                "claude-sonnet-4-5",
                "anthropic",
                Anthropic,
                "claude-sonnet-4-5",
            ),
            ("llama3.2", "ollama", Ollama, "llama3.2"),
            ("o1mini", "ollama", Ollama, "o1mini"),
            ("claude-cli/opus", "claude-cli", ClaudeCli, "opus"),
            ("openai/gpt-4o", "openai", OpenAi, "gpt-4o"),
            ("ollama/gpt-oss:20b", "ollama", Ollama, "gpt-oss:20b"),
            (
                "anthropic/claude-opus-4",
                "anthropic",
                Anthropic,
                "claude-opus-4",
            ),
            (
                "openrouter/meta/llama-3",
                "openrouter",
                OpenAi,
                "meta/llama-3",
            ),
            ("hf.co/user/model", "ollama", Ollama, "hf.co/user/model"),
        ];
        for (model, provider, kind, id) in cases {
            assert_eq!(
                route(model),
                (provider.to_string(), kind, id.to_string()),
                "{model}"
            );
        }
    }
}
