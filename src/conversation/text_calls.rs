//! Tool calls a model wrote as text instead of sending them as calls: Qwen's and Hermes'
//! `<tool_call>{"name": …, "arguments": …}</tool_call>`, Llama 3.x's JSON
//! (`{"name": …, "parameters": …}`, after `<|python_tag|>` or alone). Served through
//! Ollama, such models often answer this way; the calls are taken as calls only when the
//! whole answer is calls and each names a tool that was offered, so an answer that merely
//! shows some JSON stays an answer.

use serde_json::Value;

use super::ToolCall;

const HERMES_OPEN: &str = "<tool_call>";
const HERMES_CLOSE: &str = "</tool_call>";
const PYTHON_TAG: &str = "<|python_tag|>";

/// Whether an answer that begins with `start` may turn out to be calls written as text
/// (its text is then held back until the answer is complete).
pub fn may_be_calls(start: &str) -> bool {
    let start = start.trim_start();
    [HERMES_OPEN, PYTHON_TAG, "{", "```"].iter().any(|opening| {
        start.starts_with(opening) || opening.starts_with(start) && !start.is_empty()
    })
}

/// The calls in `text`, if it is nothing but calls of the `offered` tools; `id` names
/// the n-th call.
pub fn parse(
    text: &str,
    offered: &[String],
    id: impl Fn(usize) -> String,
) -> Option<Vec<ToolCall>> {
    let text = text.trim();
    let bodies: Vec<&str> = if text.starts_with(HERMES_OPEN) {
        let mut bodies = Vec::new();
        let mut rest = text;
        while let Some(after) = rest.trim_start().strip_prefix(HERMES_OPEN) {
            let (body, tail) = after.split_once(HERMES_CLOSE).unwrap_or((after, ""));
            bodies.push(body);
            rest = tail;
        }
        if !rest.trim().is_empty() {
            return None;
        }
        bodies
    } else {
        let text = text.strip_prefix(PYTHON_TAG).unwrap_or(text);
        let text = strip_fence(text);
        // Llama 3.x separates several calls with `;` or new lines; one JSON object is
        // the common case, so it is tried whole first.
        if serde_json::from_str::<Value>(text).is_ok() {
            vec![text]
        } else {
            text.split([';', '\n'])
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect()
        }
    };
    if bodies.is_empty() {
        return None;
    }
    bodies
        .iter()
        .enumerate()
        .map(|(index, body)| {
            let value: Value = serde_json::from_str(strip_fence(body.trim())).ok()?;
            let name = value["name"].as_str()?;
            if !offered.iter().any(|tool| tool == name) {
                return None;
            }
            let arguments = match value.get("arguments").or_else(|| value.get("parameters")) {
                // Some models send the arguments as a JSON string.
                Some(Value::String(text)) => serde_json::from_str(text).ok()?,
                Some(arguments @ Value::Object(_)) => arguments.clone(),
                None | Some(Value::Null) => Value::Object(serde_json::Map::new()),
                Some(_) => return None,
            };
            Some(ToolCall {
                id: id(index),
                name: name.to_string(),
                arguments,
            })
        })
        .collect()
}

fn strip_fence(text: &str) -> &str {
    let text = text.trim();
    match text.strip_prefix("```") {
        Some(fenced) => fenced
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .trim()
            .strip_suffix("```")
            .unwrap_or(fenced)
            .trim(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn offered() -> Vec<String> {
        vec!["list_dir".to_string(), "read_file".to_string()]
    }

    fn names(calls: &[ToolCall]) -> Vec<&str> {
        calls.iter().map(|call| call.name.as_str()).collect()
    }

    #[test]
    fn hermes_and_qwen_calls_are_read() {
        let text = "<tool_call>\n{\"name\": \"list_dir\", \"arguments\": {\"path\": \".\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"read_file\", \"arguments\": \"{\\\"path\\\": \\\"a\\\"}\"}\n</tool_call>";
        let calls = parse(text, &offered(), |i| format!("c{i}")).unwrap();
        assert_eq!(names(&calls), ["list_dir", "read_file"]);
        assert_eq!(calls[0].arguments, json!({"path": "."}));
        assert_eq!(calls[1].arguments, json!({"path": "a"}));
        assert_eq!(calls[1].id, "c1");
    }

    #[test]
    fn llama3_calls_are_read() {
        for text in [
            "{\"name\": \"list_dir\", \"parameters\": {\"path\": \"src\"}}",
            "<|python_tag|>{\"name\": \"list_dir\", \"parameters\": {\"path\": \"src\"}}",
            "```json\n{\"name\": \"list_dir\", \"parameters\": {\"path\": \"src\"}}\n```",
        ] {
            let calls =
                parse(text, &offered(), |i| i.to_string()).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(calls[0].arguments, json!({"path": "src"}), "{text}");
        }
        let two = "{\"name\": \"list_dir\", \"parameters\": {}}; {\"name\": \"read_file\", \"parameters\": {\"path\": \"x\"}}";
        assert_eq!(
            names(&parse(two, &offered(), |i| i.to_string()).unwrap()),
            ["list_dir", "read_file"]
        );
    }

    #[test]
    fn answers_that_only_look_like_calls_stay_answers() {
        for text in [
            "Here is JSON: {\"name\": \"list_dir\"}",
            "{\"name\": \"rm_rf\", \"arguments\": {}}",
            "{\"city\": \"Lyon\"}",
            "<tool_call>{\"name\": \"list_dir\"</tool_call>",
            "<tool_call>{\"name\": \"list_dir\", \"arguments\": {}}</tool_call> and then some prose",
            "",
        ] {
            assert!(
                parse(text, &offered(), |i| i.to_string()).is_none(),
                "{text}"
            );
        }
        assert!(may_be_calls("  <tool"));
        assert!(may_be_calls("{\"na"));
        assert!(!may_be_calls("The answer"));
    }
}
