//! The effective configuration as TOML, for `config show` and `config get`: every
//! setting with its value after defaults, environment and flags, API keys masked, and a
//! comment beside each value that did not come from the file.

use toml_edit::{DocumentMut, Item, Value};

use super::error::ConfigError;
use super::keys::{display_key, is_known, parse_key, suggest};
use super::settings::{Settings, Source};

/// The effective configuration, annotated with where overridden values came from.
pub(crate) fn effective_document(settings: &Settings) -> DocumentMut {
    // Serialising our own structs cannot fail; an empty document is a safe fallback.
    let text = toml::to_string(&settings.config).unwrap_or_default();
    let mut doc: DocumentMut = text.parse().unwrap_or_default();
    for (key, source) in &settings.sources {
        let Ok(parts) = parse_key(key) else { continue };
        if let Some(value) = value_mut(&mut doc, &parts) {
            value
                .decor_mut()
                .set_suffix(format!("  # {}", describe(source)));
        }
    }
    doc
}

fn describe(source: &Source) -> String {
    match source {
        Source::Env(var) => format!("from ${var}"),
        Source::Flag(flag) => format!("from {flag}"),
        Source::Auto(reason) => reason.clone(),
    }
}

fn value_mut<'a>(doc: &'a mut DocumentMut, parts: &[String]) -> Option<&'a mut Value> {
    let mut item: &mut Item = doc.as_item_mut();
    for part in parts {
        item = item.as_table_like_mut()?.get_mut(part)?;
    }
    item.as_value_mut()
}

/// The effective value of one setting, formatted for a shell: strings bare, other values
/// as TOML, sections as TOML tables. `Ok(None)` means a valid setting with no value.
pub(crate) fn get_value(settings: &Settings, key: &str) -> Result<Option<String>, ConfigError> {
    let parts = parse_key(key)?;
    let doc = effective_document(settings);
    let mut item: &Item = doc.as_item();
    for part in &parts {
        match item.as_table_like().and_then(|table| table.get(part)) {
            Some(inner) => item = inner,
            None if is_known(&parts) => return Ok(None),
            None => {
                return Err(ConfigError::UnknownKey {
                    key: display_key(&parts),
                    suggestion: suggest(&parts),
                });
            }
        }
    }
    Ok(Some(match item {
        Item::Value(Value::String(text)) => text.value().clone(),
        Item::Value(value) => {
            let mut clean = value.clone();
            clean.decor_mut().clear();
            clean.to_string()
        }
        Item::Table(table) => {
            let mut section = DocumentMut::new();
            for (name, inner) in table.iter() {
                section.insert(name, inner.clone());
            }
            section.to_string().trim_end().to_string()
        }
        other => other.to_string().trim().to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::Overrides;
    use std::path::Path;

    fn settings(text: &str, env: &[(&str, &str)]) -> Settings {
        Settings::from_text(text, Path::new("c.toml"), &env, &Overrides::default()).unwrap()
    }

    #[test]
    fn shows_defaults_masks_keys_and_names_sources() {
        let settings = settings("", &[("OPENAI_API_KEY", "sk-secret-value-1234567")]);
        let shown = effective_document(&settings).to_string();
        assert!(shown.contains("port = 31327"), "{shown}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(
            shown.contains("api_key = \"****4567\"  # from $OPENAI_API_KEY"),
            "{shown}"
        );
    }

    #[test]
    fn gets_values_sections_and_unset_settings() {
        let settings = settings("[server]\nport = 9000\n", &[]);
        assert_eq!(
            get_value(&settings, "server.port").unwrap().as_deref(),
            Some("9000")
        );
        assert_eq!(
            get_value(&settings, "providers.ollama.base_url")
                .unwrap()
                .as_deref(),
            Some("http://localhost:11434")
        );
        let section = get_value(&settings, "server").unwrap().unwrap();
        assert!(section.contains("bind = \"127.0.0.1\""), "{section}");
        assert_eq!(
            get_value(&settings, "providers.openai.api_key").unwrap(),
            None
        );
        assert!(matches!(
            get_value(&settings, "server.prot"),
            Err(ConfigError::UnknownKey { .. })
        ));
    }
}
