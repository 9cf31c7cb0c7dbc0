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
pub(crate) fn may_be_calls(start: &str) -> bool {
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
            let body = strip_fence(body.trim());
            // A call is a JSON object from its first character: "Here is JSON: {…}" is prose.
            if !body.starts_with('{') {
                return None;
            }
            let Some(value) = read_json(body) else {
                // Past repair: if it plainly calls an offered tool, the call goes through
                // with its text as the arguments, which the tool refuses, telling the
                // model what was wrong: it is asked again.
                let name = broken_call_name(body, offered)?;
                return Some(ToolCall {
                    id: id(index),
                    name,
                    arguments: Value::String(body.to_string()),
                });
            };
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

/// JSON as small models write it: as is, or repaired — trailing commas dropped, and
/// the brackets and a string it left open closed.
fn read_json(text: &str) -> Option<Value> {
    if let Ok(value) = serde_json::from_str(text) {
        return Some(value);
    }
    let mut repaired = String::with_capacity(text.len() + 4);
    let mut open: Vec<char> = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            repaired.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => open.push('}'),
            '[' => open.push(']'),
            '}' | ']' => {
                if open.pop() != Some(c) {
                    return None;
                }
                // `{"a": 1,}`: the comma before a closing bracket goes.
                drop_trailing_comma(&mut repaired);
            }
            _ => {}
        }
        repaired.push(c);
    }
    if in_string {
        repaired.push('"');
    }
    while let Some(close) = open.pop() {
        drop_trailing_comma(&mut repaired);
        repaired.push(close);
    }
    serde_json::from_str(&repaired).ok()
}

fn drop_trailing_comma(text: &mut String) {
    let kept = text.trim_end();
    if kept.ends_with(',') {
        // The comma is one byte, so what is kept ends on a character boundary.
        let length = kept.len() - 1;
        text.truncate(length);
    }
}

/// The offered tool a call that cannot be read names (`"name": "list_dir"`), if any.
fn broken_call_name(text: &str, offered: &[String]) -> Option<String> {
    offered
        .iter()
        .find(|tool| {
            text.contains(&format!("\"name\": \"{tool}\""))
                || text.contains(&format!("\"name\":\"{tool}\""))
        })
        .cloned()
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
    fn broken_json_is_repaired_or_handed_to_the_tool_to_refuse() {
        let repaired = parse(
            "<tool_call>{\"name\": \"list_dir\", \"arguments\": {\"path\": \".\",}",
            &offered(),
            |i| i.to_string(),
        )
        .unwrap();
        assert_eq!(repaired[0].arguments, json!({"path": "."}));
        let unterminated = parse(
            "{\"name\": \"read_file\", \"parameters\": {\"path\": \"a.txt",
            &offered(),
            |i| i.to_string(),
        )
        .unwrap();
        assert_eq!(unterminated[0].arguments, json!({"path": "a.txt"}));
        // Beyond repair, but plainly a call of list_dir: its text goes to the tool, whose
        // refusal tells the model what to fix.
        let broken = parse(
            "<tool_call>{\"name\": \"list_dir\", \"arguments\": {path: .}}</tool_call>",
            &offered(),
            |i| i.to_string(),
        )
        .unwrap();
        assert_eq!(broken[0].name, "list_dir");
        assert!(broken[0].arguments.is_string());
    }

    #[test]
    fn answers_that_only_look_like_calls_stay_answers() {
        for text in [
            "Here is JSON: {\"name\": \"list_dir\"}",
            "{\"name\": \"rm_rf\", \"arguments\": {}}",
            "{\"city\": \"Lyon\"}",
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
