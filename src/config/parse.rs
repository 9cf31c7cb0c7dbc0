//! Turning the text of `config.toml` into a [`Config`], or into an error that points at
//! the line, column and key that are wrong. Unknown keys are collected, not fatal: a
//! setting from a newer version, or a typo, should not stop the assistant from starting.

use std::path::Path;

use toml_edit::Document;

use super::error::{ConfigError, Location, Origin, Problem};
use super::keys::{display_key, ignored_path_parts, is_known, suggest};
use super::schema::Config;
use super::spans::{key_at_offset, span_of_key};

/// A key the schema does not know, and where it is.
#[derive(Debug, Clone)]
pub struct UnknownKey {
    pub key: String,
    pub line: Option<usize>,
    pub suggestion: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Parsed {
    pub config: Config,
    pub unknown: Vec<UnknownKey>,
}

const FIX_HINT: &str = "Fix it with `localgpt config edit`, or set a valid value with \
                        `localgpt config set KEY VALUE`.";

/// Parses and validates configuration text that came from `path`.
pub(crate) fn parse_config(text: &str, path: &Path) -> Result<Parsed, ConfigError> {
    let mut ignored = Vec::new();
    let deserializer =
        toml::de::Deserializer::parse(text).map_err(|err| toml_problem(text, path, &err))?;
    let config: Config = serde_ignored::deserialize(deserializer, |ignored_path| {
        ignored.push(ignored_path_parts(&ignored_path));
    })
    .map_err(|err| toml_problem(text, path, &err))?;

    if let Err(invalid) = config.validate() {
        let parts: Vec<String> = invalid.key.split('.').map(String::from).collect();
        let location = Document::parse(text)
            .ok()
            .and_then(|doc| span_of_key(&doc, &parts))
            .map(|span| Location::from_span(text, span));
        return Err(ConfigError::invalid(Problem {
            origin: Origin::File {
                path: path.to_path_buf(),
                location,
            },
            key: Some(invalid.key),
            message: invalid.message,
            hint: FIX_HINT.to_string(),
        }));
    }

    let unknown = if ignored.is_empty() {
        Vec::new()
    } else {
        let doc = Document::parse(text).ok();
        ignored
            .into_iter()
            .filter(|parts| !is_known(parts))
            .map(|parts| UnknownKey {
                key: display_key(&parts),
                line: doc
                    .as_ref()
                    .and_then(|doc| span_of_key(doc, &parts))
                    .map(|span| Location::from_span(text, span).line),
                suggestion: suggest(&parts),
            })
            .collect::<Vec<_>>()
    };
    let mut unknown = unknown;
    unknown.sort_by_key(|key| key.line.unwrap_or(usize::MAX));
    Ok(Parsed { config, unknown })
}

fn toml_problem(text: &str, path: &Path, err: &toml::de::Error) -> ConfigError {
    let span = err.span();
    let key = span.as_ref().and_then(|span| {
        Document::parse(text)
            .ok()
            .and_then(|doc| key_at_offset(&doc, span.start))
            .map(|parts| display_key(&parts))
    });
    let hint = if key.is_some() {
        FIX_HINT
    } else {
        "This is a TOML syntax error; fix it with `localgpt config edit`."
    };
    ConfigError::invalid(Problem {
        origin: Origin::File {
            path: path.to_path_buf(),
            location: span.map(|span| Location::from_span(text, span)),
        },
        key,
        message: plain_words(err.message().trim()),
        hint: hint.to_string(),
    })
}

/// serde names Rust types in its messages ("expected u16"); say what they mean.
const TYPE_WORDS: [(&str, &str); 7] = [
    ("expected u16", "expected a whole number from 0 to 65535"),
    (
        "expected u32",
        "expected a whole number from 0 to 4294967295",
    ),
    ("expected u64", "expected a whole number of 0 or more"),
    ("expected usize", "expected a whole number of 0 or more"),
    ("expected f64", "expected a number"),
    (
        "expected IP address",
        "expected an IP address such as 127.0.0.1",
    ),
    (
        "expected a sequence",
        "expected a list such as [\"a\", \"b\"]",
    ),
];

fn plain_words(message: &str) -> String {
    let text = TYPE_WORDS
        .iter()
        .fold(message.to_string(), |text, (rust, plain)| {
            text.replace(rust, plain)
        });
    // "expected struct ServerConfig": the Rust name means nothing to the reader.
    match text.split_once("expected struct ") {
        Some((before, _)) => format!("{before}expected a section of settings, not a single value"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> Problem {
        match parse_config(text, Path::new("config.toml")) {
            Err(ConfigError::Invalid(problem)) => *problem,
            other => panic!("expected a problem, got {other:?}"),
        }
    }

    fn line_of(problem: &Problem) -> usize {
        match &problem.origin {
            Origin::File {
                location: Some(at), ..
            } => at.line,
            other => panic!("no location in {other:?}"),
        }
    }

    #[test]
    fn empty_text_is_all_defaults() {
        let parsed = parse_config("", Path::new("c.toml")).unwrap();
        assert_eq!(parsed.config.server.port, 31327);
        assert!(parsed.unknown.is_empty());
    }

    #[test]
    fn syntax_error_points_at_its_line() {
        let problem = problem("[server]\nport = = 3\n");
        assert_eq!(line_of(&problem), 2);
    }

    #[test]
    fn wrong_type_names_the_key_and_line() {
        let problem = problem("[server]\nenabled = false\nport = \"eighty\"\n");
        assert_eq!(problem.key.as_deref(), Some("server.port"));
        assert_eq!(line_of(&problem), 3);
    }

    #[test]
    fn negative_port_is_rejected_at_its_line() {
        let problem = problem("\n[server]\nport = -1\n");
        assert_eq!(problem.key.as_deref(), Some("server.port"));
        assert_eq!(line_of(&problem), 3);
        assert!(problem.to_string().contains("port = -1"));
        assert!(
            problem.message.contains("from 0 to 65535"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn unknown_provider_kind_lists_the_valid_ones() {
        let problem = problem("[providers.local]\nkind = \"gemini\"\n");
        assert_eq!(problem.key.as_deref(), Some("providers.local.kind"));
        assert!(problem.message.contains("openai"), "{}", problem.message);
    }

    #[test]
    fn validation_errors_point_at_the_key() {
        let problem = problem("[logging]\nlevel = \"shouting\"\n");
        assert_eq!(problem.key.as_deref(), Some("logging.level"));
        assert_eq!(line_of(&problem), 2);
    }

    #[test]
    fn unknown_keys_are_warnings_with_suggestions() {
        let parsed =
            parse_config("[server]\nprot = 80\n[extra]\nx = 1\n", Path::new("c.toml")).unwrap();
        let keys: Vec<_> = parsed.unknown.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["server.prot", "extra"]);
        assert_eq!(parsed.unknown[0].suggestion.as_deref(), Some("server.port"));
        assert_eq!(parsed.unknown[0].line, Some(2));
    }
}
