//! The effective configuration: the file, then the environment and flags on top, with a
//! record of where each overridden value came from (for `config show`).
//!
//! Precedence, highest first:
//! - the model: `--model`, then `LOCALGPT_MODEL`, then `agent.model`, then a choice made
//!   from the keys that are available;
//! - provider endpoints and keys: the file, then the conventional variables
//!   (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`,
//!   `OLLAMA_HOST`), then the built-in defaults — the file wins so that a key written down
//!   for LocalGPT is not silently replaced by one exported for another tool.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{ConfigError, Origin, Problem};
use super::parse::{UnknownKey, parse_config};
use super::schema::{Config, ProviderConfig, ProviderKind, check_base_url};
use super::secret::{BaseUrl, Secret};
use crate::env::EnvSource;
use crate::secrets::{PASSPHRASE_ENV, Vault};

/// The variable that overrides `agent.model`.
pub(crate) const MODEL_ENV: &str = "LOCALGPT_MODEL";

/// Where an effective value came from, when not simply from the file or the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(String),
    Flag(&'static str),
    /// Chosen by LocalGPT; the text says why.
    Auto(String),
}

/// Values given on the command line that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub model: Option<String>,
    /// The built-in chat model's name (`local/smollm2`) when it is installed: with no key
    /// and no Ollama set up, it is then the model used when nothing names one.
    pub local_chat_model: Option<String>,
}

/// How the built-in providers find their endpoint and key when the file is silent.
struct BuiltinProvider {
    kind: ProviderKind,
    base_url_env: Option<&'static str>,
    default_base_url: Option<&'static str>,
    api_key_env: Option<&'static str>,
    default_command: Option<&'static str>,
}

const BUILTIN_PROVIDERS: [BuiltinProvider; 5] = [
    BuiltinProvider {
        kind: ProviderKind::OpenAi,
        base_url_env: Some("OPENAI_BASE_URL"),
        default_base_url: Some("https://api.openai.com/v1"),
        api_key_env: Some("OPENAI_API_KEY"),
        default_command: None,
    },
    BuiltinProvider {
        kind: ProviderKind::Anthropic,
        base_url_env: Some("ANTHROPIC_BASE_URL"),
        default_base_url: Some("https://api.anthropic.com"),
        api_key_env: Some("ANTHROPIC_API_KEY"),
        default_command: None,
    },
    BuiltinProvider {
        kind: ProviderKind::Ollama,
        base_url_env: Some("OLLAMA_HOST"),
        default_base_url: Some("http://localhost:11434"),
        api_key_env: None,
        default_command: None,
    },
    BuiltinProvider {
        kind: ProviderKind::ClaudeCli,
        base_url_env: None,
        default_base_url: None,
        api_key_env: None,
        default_command: Some("claude"),
    },
    BuiltinProvider {
        kind: ProviderKind::Local,
        base_url_env: None,
        default_base_url: None,
        api_key_env: None,
        default_command: None,
    },
];

/// The model used when nothing names one: the first provider with a key, else the
/// built-in model when it is installed and Ollama is not set up, else local Ollama.
const AUTO_MODELS: [(ProviderKind, &str); 2] = [
    (ProviderKind::Anthropic, "claude-sonnet-4-5"),
    (ProviderKind::OpenAi, "gpt-4o"),
];
pub(super) const AUTO_LOCAL_MODEL: &str = "llama3.2";

#[derive(Debug, Clone)]
pub struct Settings {
    /// The effective configuration; every built-in provider is present in `providers`
    /// with its kind, endpoint and key resolved, and `agent.model` is always set.
    pub config: Config,
    /// The file this came from (which may not exist).
    pub path: PathBuf,
    /// Dotted keys whose value came from outside the file.
    pub sources: BTreeMap<String, Source>,
    pub unknown: Vec<UnknownKey>,
}

impl Settings {
    /// Loads `path` (a missing file means all defaults) and applies the overrides.
    pub fn load(
        path: &Path,
        env: &dyn EnvSource,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Settings::from_text(&text, path, env, overrides)
    }

    pub(crate) fn from_text(
        text: &str,
        path: &Path,
        env: &dyn EnvSource,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let parsed = parse_config(text, path)?;
        // The starter file has an empty `[providers.ollama]`: a base_url is what says
        // someone runs Ollama.
        let ollama_set_up = parsed
            .config
            .providers
            .get("ollama")
            .is_some_and(|ollama| ollama.base_url.is_some())
            || env.var("OLLAMA_HOST").is_some();
        let mut settings = Settings {
            config: parsed.config,
            path: path.to_path_buf(),
            sources: BTreeMap::new(),
            unknown: parsed.unknown,
        };
        settings.resolve_providers(env)?;
        settings.attach_secrets(env);
        settings.resolve_model(env, overrides, ollama_set_up);
        Ok(settings)
    }

    /// The model to use, after every override.
    pub fn model(&self) -> &str {
        self.config.model()
    }

    /// Whether LocalGPT chose the model (nothing named one).
    pub(crate) fn model_chosen_automatically(&self) -> bool {
        matches!(self.sources.get("agent.model"), Some(Source::Auto(_)))
    }

    /// Every key that names a stored secret (`secret:NAME`) is looked up, when it is
    /// used, in the store beside this config file: opening it (which may ask the keyring
    /// or for its passphrase) waits until a key is needed, so `config show` never does.
    fn attach_secrets(&mut self, env: &dyn EnvSource) {
        let root = self.path.parent().unwrap_or(Path::new("."));
        let vault = Arc::new(Vault::in_home(root, env.var(PASSPHRASE_ENV)));
        let config = &mut self.config;
        for server in config.mcp.servers.values_mut() {
            if server
                .env
                .values()
                .any(|value| crate::secrets::reference(value).is_some())
            {
                server.secrets = Some(Arc::clone(&vault));
            }
        }
        let keys = config
            .providers
            .values_mut()
            .filter_map(|p| p.api_key.as_mut());
        let headers = config
            .mcp
            .servers
            .values_mut()
            .flat_map(|server| server.headers.values_mut());
        let tokens = config
            .channels
            .telegram
            .as_mut()
            .and_then(|telegram| telegram.token.as_mut());
        for secret in keys.chain(headers).chain(tokens) {
            secret.attach(&vault);
        }
    }

    fn resolve_providers(&mut self, env: &dyn EnvSource) -> Result<(), ConfigError> {
        for builtin in &BUILTIN_PROVIDERS {
            let name = builtin.kind.name();
            let mut provider = self.config.providers.remove(name).unwrap_or_default();
            provider.kind = Some(builtin.kind);
            if provider.base_url.is_none() {
                if let Some((var, url)) = builtin
                    .base_url_env
                    .and_then(|var| Some((var, env.var(var)?)))
                {
                    let scheme_optional = builtin.kind == ProviderKind::Ollama;
                    check_base_url(&url, scheme_optional)
                        .map_err(|message| env_problem(var, name, "base_url", message))?;
                    self.note(name, "base_url", Source::Env(var.to_string()));
                    provider.base_url = Some(BaseUrl::new(url));
                } else {
                    provider.base_url = builtin.default_base_url.map(BaseUrl::new);
                }
            }
            if provider.command.is_none() {
                provider.command = builtin.default_command.map(String::from);
            }
            let key_var = provider
                .api_key_env
                .clone()
                .or(builtin.api_key_env.map(String::from));
            self.resolve_key(name, &mut provider, key_var.as_deref(), env);
            self.config.providers.insert(name.to_string(), provider);
        }
        let named: Vec<String> = self
            .config
            .providers
            .keys()
            .filter(|name| ProviderKind::builtin(name).is_none())
            .cloned()
            .collect();
        for name in named {
            if let Some(mut provider) = self.config.providers.remove(&name) {
                let key_var = provider.api_key_env.clone();
                self.resolve_key(&name, &mut provider, key_var.as_deref(), env);
                if provider.kind == Some(ProviderKind::ClaudeCli) && provider.command.is_none() {
                    provider.command = Some("claude".to_string());
                }
                self.config.providers.insert(name, provider);
            }
        }
        Ok(())
    }

    fn resolve_key(
        &mut self,
        name: &str,
        provider: &mut ProviderConfig,
        key_var: Option<&str>,
        env: &dyn EnvSource,
    ) {
        if provider.api_key.is_some() {
            return;
        }
        if let Some((var, key)) = key_var.and_then(|var| Some((var, env.var(var)?))) {
            self.note(name, "api_key", Source::Env(var.to_string()));
            provider.api_key = Some(Secret::new(key));
        }
    }

    fn resolve_model(&mut self, env: &dyn EnvSource, overrides: &Overrides, ollama_set_up: bool) {
        let (model, source) = if let Some(model) = &overrides.model {
            (model.clone(), Some(Source::Flag("--model")))
        } else if let Some(model) = env.var(MODEL_ENV) {
            (model, Some(Source::Env(MODEL_ENV.to_string())))
        } else if let Some(model) = self.config.agent.model.clone() {
            (model, None)
        } else {
            let local = overrides
                .local_chat_model
                .as_deref()
                .filter(|_| !ollama_set_up);
            let (model, reason) = self.auto_model(local);
            (model, Some(Source::Auto(reason)))
        };
        if let Some(source) = source {
            self.sources.insert("agent.model".to_string(), source);
        }
        self.config.agent.model = Some(model);
    }

    fn auto_model(&self, local_chat_model: Option<&str>) -> (String, String) {
        for (kind, model) in AUTO_MODELS {
            let has_key = self
                .config
                .providers
                .get(kind.name())
                .is_some_and(|provider| provider.api_key.is_some());
            if has_key {
                let reason = format!("chosen because a {} key is available", kind.name());
                return (model.to_string(), reason);
            }
        }
        if let Some(model) = local_chat_model {
            let reason = "chosen because no API key is set and Ollama is not set up: the \
                          best installed offline model this machine holds"
                .to_string();
            return (model.to_string(), reason);
        }
        let reason = "chosen because no API key is set: a local Ollama model".to_string();
        (AUTO_LOCAL_MODEL.to_string(), reason)
    }

    fn note(&mut self, provider: &str, field: &str, source: Source) {
        let key = super::keys::display_key(&[
            "providers".to_string(),
            provider.to_string(),
            field.to_string(),
        ]);
        self.sources.insert(key, source);
    }
}

fn env_problem(var: &str, provider: &str, field: &str, message: String) -> ConfigError {
    ConfigError::invalid(Problem {
        origin: Origin::Env {
            var: var.to_string(),
        },
        key: Some(format!("providers.{provider}.{field}")),
        message,
        hint: format!("Fix or unset {var}, or set `providers.{provider}.{field}` in config.toml."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)], model_flag: Option<&str>) -> Settings {
        let overrides = Overrides {
            model: model_flag.map(String::from),
            ..Overrides::default()
        };
        Settings::from_text(text, Path::new("config.toml"), &env, &overrides).unwrap()
    }

    #[test]
    fn environment_supplies_keys_and_urls_the_file_does_not() {
        let env = [
            ("OPENAI_API_KEY", "sk-from-env-0000000000"),
            ("OLLAMA_HOST", "gpu-box:11434"),
        ];
        let settings = load("", &env, None);
        let openai = &settings.config.providers["openai"];
        assert_eq!(
            openai.api_key.as_ref().unwrap().as_written(),
            "sk-from-env-0000000000"
        );
        assert_eq!(
            openai.base_url.as_ref().map(BaseUrl::expose),
            Some("https://api.openai.com/v1")
        );
        assert_eq!(
            settings.config.providers["ollama"]
                .base_url
                .as_ref()
                .map(BaseUrl::expose),
            Some("gpu-box:11434")
        );
        assert_eq!(
            settings.sources["providers.openai.api_key"],
            Source::Env("OPENAI_API_KEY".to_string())
        );
    }

    #[test]
    fn the_file_wins_over_the_environment_for_keys() {
        let text = "[providers.openai]\napi_key = \"sk-from-file\"\n";
        let settings = load(text, &[("OPENAI_API_KEY", "sk-from-env")], None);
        let key = settings.config.providers["openai"].api_key.clone().unwrap();
        assert_eq!(key.as_written(), "sk-from-file");
        assert!(!settings.sources.contains_key("providers.openai.api_key"));
    }

    #[test]
    fn model_precedence_is_flag_then_env_then_file_then_auto() {
        let text = "[agent]\nmodel = \"from-file\"\n";
        let env = [(MODEL_ENV, "from-env")];
        assert_eq!(load(text, &env, Some("from-flag")).model(), "from-flag");
        assert_eq!(load(text, &env, None).model(), "from-env");
        assert_eq!(load(text, &[], None).model(), "from-file");
        assert_eq!(load("", &[], None).model(), AUTO_LOCAL_MODEL);
        let with_key = load("", &[("ANTHROPIC_API_KEY", "k")], None);
        assert_eq!(with_key.model(), "claude-sonnet-4-5");
    }

    #[test]
    fn named_endpoint_reads_its_own_key_variable() {
        let text = "[providers.openrouter]\nkind = \"openai\"\n\
                    base_url = \"https://openrouter.ai/api/v1\"\napi_key_env = \"OPENROUTER_API_KEY\"\n";
        let settings = load(text, &[("OPENROUTER_API_KEY", "or-key")], None);
        let key = settings.config.providers["openrouter"]
            .api_key
            .clone()
            .unwrap();
        assert_eq!(key.as_written(), "or-key");
    }

    #[test]
    fn a_bad_url_in_the_environment_names_the_variable() {
        let env = [("OPENAI_BASE_URL", "api.openai.com")];
        let err =
            Settings::from_text("", Path::new("c.toml"), &env, &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("OPENAI_BASE_URL"), "{err}");
    }
}
