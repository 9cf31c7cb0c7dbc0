//! Script errors as people want to read them: `file:line:column: message`, the source
//! line with a caret under the spot, the chain of functions and imports it came through,
//! and for a binding called with the wrong arguments, the signatures that exist.

use std::collections::HashMap;

use rhai::{EvalAltResult, Position};

use super::catalog::{FnDoc, signatures_of};
use crate::config::ScriptConfig;

/// Source texts by name: the main script and every module it imported.
pub type Sources = HashMap<String, String>;

/// A script failure, ready to print.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ScriptError {
    pub message: String,
}

pub fn describe(
    err: &EvalAltResult,
    main: &str,
    sources: &Sources,
    docs: &[FnDoc],
    limits: &ScriptConfig,
) -> ScriptError {
    let mut chain = Vec::new();
    let mut current = err;
    let mut source = main.to_string();
    loop {
        match current {
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                chain.push(format!(
                    "in module `{name}`, imported at {}",
                    place(&source, *pos)
                ));
                source = name.clone();
                current = inner;
            }
            EvalAltResult::ErrorInFunctionCall(function, function_source, inner, pos) => {
                chain.push(format!(
                    "in function `{function}`, called at {}",
                    place(&source, *pos)
                ));
                if !function_source.is_empty() {
                    source = function_source.clone();
                }
                current = inner;
            }
            _ => break,
        }
    }
    let position = current.position();
    let mut message = format!(
        "{}: {}",
        place(&source, position),
        explain(current, docs, limits)
    );
    if let Some(excerpt) = excerpt(sources.get(&source).map(String::as_str), position) {
        message.push_str(&excerpt);
    }
    for link in chain.iter().rev() {
        message.push_str(&format!("\n  {link}"));
    }
    ScriptError { message }
}

pub(crate) fn timeout_message(limits: &ScriptConfig) -> String {
    format!(
        "stopped: the script ran longer than script.timeout_secs ({} s)",
        limits.timeout_secs
    )
}

fn place(source: &str, position: Position) -> String {
    match (position.line(), position.position()) {
        (Some(line), Some(column)) => format!("{source}:{line}:{column}"),
        (Some(line), None) => format!("{source}:{line}"),
        _ => source.to_string(),
    }
}

/// The message without Rhai's own "(line 3, position 9)" suffix, which the place says,
/// and with the limits named where one was hit.
fn explain(err: &EvalAltResult, docs: &[FnDoc], limits: &ScriptConfig) -> String {
    match err {
        EvalAltResult::ErrorTooManyOperations(..) => format!(
            "stopped after {} operations (script.max_operations): an endless loop?",
            limits.max_operations
        ),
        EvalAltResult::ErrorStackOverflow(..) => format!(
            "calls nested too deeply (script.max_call_depth = {}): runaway recursion?",
            limits.max_call_depth
        ),
        // Rhai names the kind of value; the message names the setting that bounds it.
        EvalAltResult::ErrorDataTooLarge(what, ..) if what.contains("string") => format!(
            "a string is longer than script.max_string_kb = {} KB",
            limits.max_string_kb
        ),
        EvalAltResult::ErrorDataTooLarge(what, ..) if what.contains("map") => format!(
            "a map has more entries than script.max_map_len = {}",
            limits.max_map_len
        ),
        EvalAltResult::ErrorDataTooLarge(what, ..) if what.contains("array") => format!(
            "an array has more elements than script.max_array_len = {}",
            limits.max_array_len
        ),
        EvalAltResult::ErrorDataTooLarge(what, ..) => format!(
            "{what} is over the limit (script.max_string_kb = {}, max_array_len = {}, max_map_len = {})",
            limits.max_string_kb, limits.max_array_len, limits.max_map_len
        ),
        EvalAltResult::ErrorTerminated(token, ..) => match token.clone().into_string().as_deref() {
            Ok("timeout") => timeout_message(limits),
            Ok("memory") => format!(
                "stopped: the script held more than script.max_memory_mb ({} MB)",
                limits.max_memory_mb
            ),
            _ => "stopped: the script was cancelled".to_string(),
        },
        EvalAltResult::ErrorFunctionNotFound(signature, ..) => {
            let name = signature.split([' ', '(']).next().unwrap_or(signature);
            let known = signatures_of(docs, name);
            if known.is_empty() {
                format!("there is no function {signature}")
            } else {
                format!(
                    "{name} cannot be called with {}; it takes:\n    {}",
                    arguments_of(signature),
                    known.join("\n    ")
                )
            }
        }
        EvalAltResult::ErrorModuleNotFound(name, ..) => format!(
            "there is no module `{name}`: the standard ones are {}, and a file is imported by its \
             path (\"./helpers\")",
            super::resolver::STDLIB
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        EvalAltResult::ErrorRuntime(value, ..) => value.to_string(),
        other => strip_position(&other.to_string()),
    }
}

/// "ask (i64, bool)" → "(i64, bool)".
fn arguments_of(signature: &str) -> String {
    signature
        .find('(')
        .and_then(|start| signature.get(start..))
        .map_or_else(|| "these arguments".to_string(), str::to_string)
}

fn strip_position(text: &str) -> String {
    match text.rfind(" (line ").and_then(|at| text.get(..at)) {
        Some(message) if text.ends_with(')') => message.to_string(),
        _ => text.to_string(),
    }
}

/// The line the error is on, with a caret under its column.
fn excerpt(text: Option<&str>, position: Position) -> Option<String> {
    let line_number = position.line()?;
    let line = text?.lines().nth(line_number.checked_sub(1)?)?;
    let column = position.position().unwrap_or(1);
    let gutter = " ".repeat(line_number.to_string().len());
    Some(format!(
        "\n {gutter} |\n {line_number} | {line}\n {gutter} | {}^",
        " ".repeat(column.saturating_sub(1))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_stripped_from_messages() {
        assert_eq!(
            strip_position("Variable not found: x (line 3, position 9)"),
            "Variable not found: x"
        );
        assert_eq!(strip_position("no position"), "no position");
        assert_eq!(arguments_of("ask (i64, bool)"), "(i64, bool)");
    }

    #[test]
    fn the_excerpt_points_at_the_column() {
        let text = "let a = 1;\nlet b = oops;\n";
        let excerpt = excerpt(Some(text), Position::new(2, 9)).unwrap();
        assert!(
            excerpt.contains(" 2 | let b = oops;\n   |         ^"),
            "{excerpt}"
        );
        assert!(super::excerpt(Some(text), Position::new(9, 1)).is_none());
    }
}
