//! Configuration errors that say what is wrong, where, and how to fix it.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the configuration file {path}: {source}. It was left unchanged.")]
    Write { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Invalid(Box<Problem>),
    #[error(
        "there is no setting `{key}`{}. `localgpt config show` lists every setting.",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
    )]
    UnknownKey {
        key: String,
        suggestion: Option<String>,
    },
    #[error("`{key}` is not a valid setting name: {message}")]
    BadKey { key: String, message: String },
}

impl ConfigError {
    pub fn invalid(problem: Problem) -> ConfigError {
        ConfigError::Invalid(Box::new(problem))
    }
}

/// Where a bad value came from.
#[derive(Debug, Clone)]
pub enum Origin {
    File {
        path: PathBuf,
        location: Option<Location>,
    },
    Env {
        var: String,
    },
    /// A value given on the command line, such as `config set KEY VALUE`.
    Argument,
}

/// A position in the file, with the text of its line for the excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub line_text: String,
    /// How many characters to underline.
    pub width: usize,
}

impl Location {
    /// Finds the line and column of a byte span. A span that falls inside a multi-byte
    /// character or past the end is clamped, never a panic.
    pub(crate) fn from_span(text: &str, span: Range<usize>) -> Location {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.clamp(start, text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_text = text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let column = text[line_start..start].chars().count() + 1;
        let width = text[start..end.min(line_end)].chars().count().max(1);
        Location {
            line: text[..start].matches('\n').count() + 1,
            column,
            line_text,
            width,
        }
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// One specific problem with the configuration.
#[derive(Debug, Clone)]
pub struct Problem {
    pub origin: Origin,
    /// Dotted key, when the problem belongs to one.
    pub key: Option<String>,
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self
            .key
            .as_ref()
            .map(|key| format!(" (setting `{key}`)"))
            .unwrap_or_default();
        match &self.origin {
            Origin::File { path, location } => {
                write!(f, "invalid configuration in {}", path.display())?;
                if let Some(at) = location {
                    write!(f, ", line {}, column {}", at.line, at.column)?;
                }
                write!(f, "{key}: {}", self.message)?;
                if let Some(at) = location {
                    let number = at.line.to_string();
                    let pad = " ".repeat(number.len());
                    write!(
                        f,
                        "\n\n {pad} |\n {number} | {}\n {pad} | {}{}\n",
                        at.line_text,
                        " ".repeat(at.column.saturating_sub(1)),
                        "^".repeat(at.width)
                    )?;
                }
            }
            Origin::Env { var } => {
                write!(
                    f,
                    "invalid value in the environment variable {var}{key}: {}",
                    self.message
                )?;
            }
            Origin::Argument => match &self.key {
                Some(key) => write!(f, "cannot set `{key}`: {}", self.message)?,
                None => write!(f, "invalid value: {}", self.message)?,
            },
        }
        if !self.hint.is_empty() {
            write!(f, "\n{}", self.hint)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let text = "[a]\nname = \"é\" x\n";
        let span = text.find('x').unwrap()..text.find('x').unwrap() + 1;
        let at = Location::from_span(text, span);
        assert_eq!((at.line, at.column, at.width), (2, 12, 1));
        assert_eq!(at.line_text, "name = \"é\" x");
    }

    #[test]
    fn location_never_panics_on_odd_spans() {
        let text = "é";
        let at = Location::from_span(text, 1..99);
        assert_eq!(at.line, 1);
        #[allow(clippy::reversed_empty_ranges)] // A backwards span is the point of the test.
        let at = Location::from_span("", 5..2);
        assert_eq!(at.column, 1);
    }
}
