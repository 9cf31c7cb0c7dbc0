//! `config set`: change one setting in the file, keeping every comment and the layout
//! the person wrote, and refuse — leaving the file byte-for-byte unchanged — any key that
//! does not exist or value that would not load.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, Value};

use super::error::{ConfigError, Origin, Problem};
use super::keys::{display_key, is_known, parse_key, suggest};
use super::parse::parse_config;

/// Sets `key` to `raw_value` in the file at `path` (the annotated default when there is
/// none yet), under the file's lock: another change at the same moment waits, then
/// changes what this one wrote. Returns the new text, or `None` when nothing changed.
pub(crate) fn set_in_file(
    path: &Path,
    key: &str,
    raw_value: &str,
) -> Result<Option<String>, ConfigError> {
    /// The file's lock or write failing, or the change refused.
    enum Failed {
        Io(std::io::Error),
        Refused(ConfigError),
    }
    impl From<std::io::Error> for Failed {
        fn from(err: std::io::Error) -> Failed {
            Failed::Io(err)
        }
    }
    let existed = path.exists();
    // A config kept in a dotfiles repository and linked here is changed where it lives;
    // the locked writer itself never writes through a link.
    let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut updated = String::new();
    let changed = crate::home::try_update_locked(&real, Some(super::CONFIG_MODE), |text| {
        let text = if text.is_empty() && !existed {
            super::TEMPLATE
        } else {
            text
        };
        updated = set_value(text, path, key, raw_value).map_err(Failed::Refused)?;
        Ok::<_, Failed>(updated.clone())
    });
    match changed {
        Ok(changed) => Ok(changed.then_some(updated)),
        Err(Failed::Refused(err)) => Err(err),
        Err(Failed::Io(source)) => Err(ConfigError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Returns `text` with `key` set to `raw_value`, after checking that the result loads.
///
/// `raw_value` is read as a TOML value when it is one (`8080`, `true`, `["a", "b"]`,
/// `"quoted"`), and as a plain string otherwise (`gpt-4o`), so people rarely need quotes.
/// A bare word that parses as another type (`123` for a name) falls back to a string when
/// the setting wants one.
pub(crate) fn set_value(
    text: &str,
    path: &Path,
    key: &str,
    raw_value: &str,
) -> Result<String, ConfigError> {
    let parts = parse_key(key)?;
    if !is_known(&parts) {
        return Err(ConfigError::UnknownKey {
            key: display_key(&parts),
            suggestion: suggest(&parts),
        });
    }
    let doc: DocumentMut = text.parse().map_err(|_| {
        // Report the syntax error against the file as it is, with its line.
        match parse_config(text, path) {
            Err(err) => err,
            Ok(_) => ConfigError::invalid(Problem {
                origin: Origin::File {
                    path: path.to_path_buf(),
                    location: None,
                },
                key: None,
                message: "the file is not valid TOML".to_string(),
                hint: "Fix it with `localgpt config edit`.".to_string(),
            }),
        }
    })?;

    let mut first_error = None;
    for value in candidate_values(raw_value) {
        let mut attempt = doc.clone();
        let was_present = insert(&mut attempt, &parts, value.clone(), path)?;
        let edited = attempt.to_string();
        match parse_config(&edited, path) {
            Ok(_) => {
                if !was_present
                    && let Some(uncommented) = uncomment_default(text, &parts, &value)
                    && same_data(&uncommented, &edited)
                {
                    return Ok(uncommented);
                }
                return Ok(edited);
            }
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    let err = first_error.unwrap_or_else(|| ConfigError::BadKey {
        key: key.to_string(),
        message: "no value to set".to_string(),
    });
    Err(as_argument_error(err, &parts, text, path))
}

fn candidate_values(raw: &str) -> Vec<Value> {
    let mut values = Vec::new();
    if let Ok(value) = raw.trim().parse::<Value>() {
        values.push(value);
    }
    let already_string = values.first().is_some_and(Value::is_str);
    if !already_string {
        values.push(Value::from(raw));
    }
    values
}

/// Sets the value, creating missing sections as needed. Returns whether the key existed.
fn insert(
    doc: &mut DocumentMut,
    parts: &[String],
    value: Value,
    path: &Path,
) -> Result<bool, ConfigError> {
    let Some((last, parents)) = parts.split_last() else {
        return Err(ConfigError::BadKey {
            key: String::new(),
            message: "empty key".to_string(),
        });
    };
    let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for (depth, part) in parents.iter().enumerate() {
        let entry = table.entry(part).or_insert_with(|| {
            let mut new = Table::new();
            // Only the innermost table gets a `[header]`; `[providers]` stays implicit.
            new.set_implicit(true);
            Item::Table(new)
        });
        table = entry.as_table_like_mut().ok_or_else(|| {
            ConfigError::invalid(Problem {
                origin: Origin::File {
                    path: path.to_path_buf(),
                    location: None,
                },
                key: Some(display_key(&parts[..=depth])),
                message: "this is a value in the file, but the setting needs a section here"
                    .to_string(),
                hint: "Fix it with `localgpt config edit`.".to_string(),
            })
        })?;
    }
    if let Some(existing) = table.get_mut(last) {
        if let Some(old) = existing.as_value() {
            let mut value = value;
            *value.decor_mut() = old.decor().clone();
            *existing = Item::Value(value);
            return Ok(true);
        }
        *existing = Item::Value(value);
        return Ok(true);
    }
    table.insert(last, Item::Value(value));
    Ok(false)
}

/// The template documents each setting as a commented-out default (`# port = 31327`)
/// under its section. Setting such a key replaces that line, so the value sits under its
/// explanation rather than at the end of the section.
fn uncomment_default(text: &str, parts: &[String], value: &Value) -> Option<String> {
    let (last, parents) = parts.split_last()?;
    let header = format!("[{}]", display_key(parents));
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let body_start = if parents.is_empty() {
        0
    } else {
        lines.iter().position(|line| line.trim() == header)? + 1
    };
    let key_repr = toml_edit::Key::new(last.as_str())
        .display_repr()
        .into_owned();
    let target = lines[body_start..]
        .iter()
        .take_while(|line| !line.trim_start().starts_with('['))
        .position(|line| is_commented_assignment(line, &key_repr))?
        + body_start;
    let ending = if lines[target].ends_with("\r\n") {
        "\r\n"
    } else if lines[target].ends_with('\n') {
        "\n"
    } else {
        ""
    };
    let mut clean = value.clone();
    clean.decor_mut().clear();
    let replacement = format!("{key_repr} = {clean}{ending}");
    let mut out = String::with_capacity(text.len() + replacement.len());
    for (index, line) in lines.iter().enumerate() {
        out.push_str(if index == target { &replacement } else { line });
    }
    Some(out)
}

fn is_commented_assignment(line: &str, key: &str) -> bool {
    line.trim_start()
        .strip_prefix('#')
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix(key))
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// Whether two TOML texts hold the same data, whatever their layout.
fn same_data(a: &str, b: &str) -> bool {
    match (a.parse::<toml::Table>(), b.parse::<toml::Table>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// An error about the value being set is reported as the argument's fault; the line in
/// the edited text would point at a file the person never saw.
fn as_argument_error(
    err: ConfigError,
    parts: &[String],
    original: &str,
    path: &Path,
) -> ConfigError {
    let key = display_key(parts);
    match err {
        ConfigError::Invalid(mut problem) if problem.key.as_deref() == Some(key.as_str()) => {
            problem.origin = Origin::Argument;
            problem.hint = format!(
                "{} was left unchanged. `localgpt config show` shows the current values.",
                path.display()
            );
            ConfigError::Invalid(problem)
        }
        // Something else in the file is wrong; say so about the file as it stands.
        other => parse_config(original, path).err().unwrap_or(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# LocalGPT settings\n\n[server]\n# Port for the API.\n# port = 31327\nenabled = false # keep off\n";

    fn set(text: &str, key: &str, value: &str) -> Result<String, ConfigError> {
        set_value(text, Path::new("config.toml"), key, value)
    }

    #[test]
    fn replaces_an_existing_value_and_keeps_its_comment() {
        let out = set(TEXT, "server.enabled", "true").unwrap();
        assert!(out.contains("enabled = true # keep off"), "{out}");
        assert!(out.starts_with("# LocalGPT settings\n"));
    }

    #[test]
    fn uncomments_the_documented_default() {
        let out = set(TEXT, "server.port", "8080").unwrap();
        assert!(out.contains("# Port for the API.\nport = 8080\n"), "{out}");
        assert!(!out.contains("# port = 31327"));
    }

    #[test]
    fn creates_missing_sections() {
        let out = set(TEXT, "providers.openrouter.kind", "openai");
        // A named provider also needs a base_url, so this alone must be refused …
        assert!(out.is_err());
        // … while a built-in one accepts a single key.
        let out = set(
            TEXT,
            "providers.openai.base_url",
            "http://localhost:1234/v1",
        )
        .unwrap();
        assert!(
            out.contains("[providers.openai]\nbase_url = \"http://localhost:1234/v1\""),
            "{out}"
        );
        assert!(!out.contains("[providers]\n"), "{out}");
    }

    #[test]
    fn bare_words_are_strings_and_numbers_fall_back_to_strings() {
        let out = set("", "agent.model", "gpt-4o").unwrap();
        assert!(out.contains("model = \"gpt-4o\""), "{out}");
        let out = set("", "agent.model", "123").unwrap();
        assert!(out.contains("model = \"123\""), "{out}");
    }

    #[test]
    fn refuses_unknown_keys_with_a_suggestion() {
        match set(TEXT, "server.prot", "1") {
            Err(ConfigError::UnknownKey { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some("server.port"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_invalid_values_naming_the_key() {
        let err = set(TEXT, "server.port", "-1").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("server.port"), "{message}");
        assert!(message.contains("unchanged"), "{message}");
        let err = set(TEXT, "providers.openai.kind", "gemini").unwrap_err();
        assert!(err.to_string().contains("openai"), "{err}");
    }
}
