//! `config.toml`: the schema with its defaults ([`schema`]), loading with errors that
//! point at the line and key ([`parse`]), environment and flag overrides ([`settings`]),
//! comment-preserving edits ([`edit`]) and the effective view ([`view`]).
//!
//! Every later module reads its settings from [`Settings::config`]; nothing else parses
//! the file.

mod edit;
mod error;
mod keys;
mod parse;
pub mod schema;
pub mod secret;
mod settings;
mod spans;
mod validate;
mod view;

pub(crate) use edit::set_in_file;
#[cfg(test)]
pub(crate) use edit::set_value;
pub(crate) use error::ConfigError;
pub use error::Origin;
pub(crate) use keys::display_key;
#[cfg(test)]
pub(crate) use parse::parse_config;
pub(crate) use schema::{ApprovalMode, McpTransport, McpTrust, ProviderConfig};
pub use schema::{Config, McpServerConfig, SandboxMode, ToolsConfig};
pub(crate) use schema::{ProviderKind, ScriptConfig};
pub use secret::BaseUrl;
pub use secret::Secret;
pub(crate) use secret::{is_secret_var, without_password};
pub(crate) use settings::{Overrides, Settings, Source};
pub(crate) use view::{effective_document, get_value};

/// The annotated file written by `config init` and on first run.
pub(crate) const TEMPLATE: &str = include_str!("template.toml");

/// `config.toml` holds API keys: it is written readable by its owner only.
pub(crate) const CONFIG_MODE: u32 = 0o600;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_template_loads_to_the_defaults() {
        let parsed = parse_config(TEMPLATE, Path::new("config.toml")).unwrap();
        assert!(parsed.unknown.is_empty(), "{:?}", parsed.unknown);
        let defaults = toml::to_string(&Config::default()).unwrap();
        let mut from_template = parsed.config;
        // The template lists the built-in providers as empty sections.
        from_template
            .providers
            .retain(|_, p| p.kind.is_some() || p.base_url.is_some());
        assert_eq!(toml::to_string(&from_template).unwrap(), defaults);
    }

    #[test]
    fn every_commented_default_in_the_template_can_be_set() {
        // Uncommenting a documented default must give a file that loads.
        let mut section = Vec::new();
        // A commented-out `# [section]` is an example block, not documented defaults.
        let mut in_example = false;
        let mut checked = 0;
        for line in TEMPLATE.lines() {
            if let Some(header) = line.strip_prefix('[') {
                section = header
                    .trim_end_matches(']')
                    .split('.')
                    .map(String::from)
                    .collect();
                in_example = false;
            }
            in_example |= line.starts_with("# [");
            let Some(rest) = line.strip_prefix("# ") else {
                continue;
            };
            let Some((key, value)) = rest.split_once(" = ") else {
                continue;
            };
            if in_example || key.contains(' ') {
                continue;
            }
            checked += 1;
            let value = value.split("  #").next().unwrap_or(value).trim();
            let mut full = section.join(".");
            full.push('.');
            full.push_str(key);
            set_value(TEMPLATE, Path::new("config.toml"), &full, value)
                .unwrap_or_else(|err| panic!("{full} = {value}: {err}"));
        }
        assert!(
            checked >= 10,
            "only {checked} defaults found in the template"
        );
    }
}
