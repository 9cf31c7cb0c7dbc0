//! What the real APIs refuse, refused the same way: the fake provider checks every request
//! against these rules and answers 400 with the provider's own wording, so a test fails
//! where production would. The wording is taken from errors the real services return.

use serde_json::Value;

/// A refusal: the HTTP status and the provider's error body.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub body: Value,
}

fn openai(message: String, param: Option<String>) -> Refusal {
    Refusal {
        status: 400,
        body: serde_json::json!({"error": {
            "message": message, "type": "invalid_request_error", "param": param, "code": null,
        }}),
    }
}

fn anthropic(message: String) -> Refusal {
    Refusal {
        status: 400,
        body: serde_json::json!({"type": "error", "error": {
            "type": "invalid_request_error", "message": message,
        }}),
    }
}

fn ollama(message: String) -> Refusal {
    Refusal {
        status: 400,
        body: serde_json::json!({ "error": message }),
    }
}

/// OpenAI Chat Completions.
pub fn check_openai(body: &Value) -> Result<(), Refusal> {
    if body["model"].as_str().is_none_or(str::is_empty) {
        return Err(openai(
            "you must provide a model parameter".into(),
            Some("model".into()),
        ));
    }
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err(openai(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.".into(),
            Some("messages".into()),
        ));
    };
    if body.get("stream_options").is_some() && body["stream"] != true {
        return Err(openai(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.".into(),
            Some("stream_options".into()),
        ));
    }
    if let Some(t) = body["temperature"].as_f64()
        && !(0.0..=2.0).contains(&t)
    {
        return Err(openai(
            format!(
                "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {t} instead."
            ),
            Some("temperature".into()),
        ));
    }
    check_openai_tools(body)?;
    check_openai_choice(body, messages)?;
    let mut index = 0;
    while index < messages.len() {
        let message = &messages[index];
        let role = message["role"].as_str().unwrap_or_default();
        match role {
            "system" | "developer" | "user" => {
                for (part_index, part) in message["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let url = part["image_url"]["url"].as_str().unwrap_or_default();
                    let valid = match part["type"].as_str() {
                        Some("text") => part["text"].is_string(),
                        Some("image_url") => {
                            role == "user"
                                && (url.starts_with("data:image/") || url.starts_with("http"))
                        }
                        _ => false,
                    };
                    if !valid {
                        return Err(openai(
                            format!(
                                "Invalid content part at messages[{index}].content[{part_index}]."
                            ),
                            Some(format!("messages.[{index}].content.[{part_index}]")),
                        ));
                    }
                }
                if message.get("content").is_none_or(Value::is_null) {
                    return Err(openai(
                        "Invalid value for 'content': expected a string, got null.".to_string(),
                        Some(format!("messages.[{index}].content")),
                    ));
                }
            }
            "assistant" => {
                let calls = message["tool_calls"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if calls.is_empty() && message.get("content").is_none_or(Value::is_null) {
                    return Err(openai(
                        "Invalid value for 'content': expected a string, got null.".into(),
                        Some(format!("messages.[{index}].content")),
                    ));
                }
                if !calls.is_empty() {
                    let mut pending: Vec<String> = Vec::new();
                    for call in &calls {
                        if call["type"] != "function"
                            || call["function"]["name"].as_str().is_none()
                            || !call["function"]["arguments"].is_string()
                        {
                            return Err(openai(
                                "Invalid 'tool_calls': each needs an id, type \"function\" and function.name and function.arguments (a string).".into(),
                                Some(format!("messages.[{index}].tool_calls")),
                            ));
                        }
                        pending.push(call["id"].as_str().unwrap_or_default().to_string());
                    }
                    let mut next = index + 1;
                    while let Some(tool) = messages.get(next).filter(|m| m["role"] == "tool") {
                        let id = tool["tool_call_id"].as_str().unwrap_or_default();
                        let Some(at) = pending.iter().position(|p| p == id) else {
                            return Err(openai(
                                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.".into(),
                                Some(format!("messages.[{next}].role")),
                            ));
                        };
                        pending.remove(at);
                        next += 1;
                    }
                    if !pending.is_empty() {
                        return Err(openai(
                            format!(
                                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                                pending.join(", ")
                            ),
                            Some(format!("messages.[{index}].role")),
                        ));
                    }
                    index = next;
                    continue;
                }
            }
            "tool" => {
                return Err(openai(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.".into(),
                    Some(format!("messages.[{index}].role")),
                ));
            }
            other => {
                return Err(openai(
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                    ),
                    Some(format!("messages[{index}].role")),
                ));
            }
        }
        index += 1;
    }
    Ok(())
}

fn check_openai_choice(body: &Value, messages: &[Value]) -> Result<(), Refusal> {
    let tools = body["tools"].as_array().cloned().unwrap_or_default();
    for field in ["tool_choice", "parallel_tool_calls"] {
        if body.get(field).is_some() && tools.is_empty() {
            return Err(openai(
                format!(
                    "Invalid value for '{field}': '{field}' is only allowed when 'tools' are specified."
                ),
                Some(field.into()),
            ));
        }
    }
    if let Some(name) = body["tool_choice"]["function"]["name"].as_str()
        && !tools.iter().any(|tool| tool["function"]["name"] == name)
    {
        return Err(openai(
            format!("Invalid value for 'tool_choice': function '{name}' not found in 'tools'."),
            Some("tool_choice".into()),
        ));
    }
    if body["response_format"]["type"] == "json_object"
        && !messages
            .iter()
            .any(|m| m["content"].to_string().to_lowercase().contains("json"))
    {
        return Err(openai(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.".into(),
            Some("messages".into()),
        ));
    }
    if body.get("max_tokens").is_some() && body.get("max_completion_tokens").is_some() {
        return Err(openai(
            "Invalid request: 'max_tokens' and 'max_completion_tokens' cannot both be set.".into(),
            Some("max_tokens".into()),
        ));
    }
    Ok(())
}

fn check_openai_tools(body: &Value) -> Result<(), Refusal> {
    for (index, tool) in body["tools"].as_array().into_iter().flatten().enumerate() {
        let name = tool["function"]["name"].as_str().unwrap_or_default();
        if !valid_name(name, 64) {
            return Err(openai(
                format!(
                    "Invalid 'tools[{index}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                ),
                Some(format!("tools[{index}].function.name")),
            ));
        }
        let parameters = &tool["function"]["parameters"];
        if tool["type"] != "function"
            || !parameters.is_object()
            || parameters.get("type").is_some_and(|kind| kind != "object")
        {
            return Err(openai(
                format!(
                    "Invalid schema for function '{name}': schema must be a JSON Schema of 'type: \"object\"'."
                ),
                Some(format!("tools[{index}].function.parameters")),
            ));
        }
        if let Some(keyword) = ["oneOf", "anyOf", "allOf", "enum", "not"]
            .into_iter()
            .find(|keyword| parameters.get(keyword).is_some())
        {
            return Err(openai(
                format!(
                    "Invalid schema for function '{name}': schema must have type 'object' and not have '{keyword}' at the top level."
                ),
                Some(format!("tools[{index}].function.parameters")),
            ));
        }
    }
    Ok(())
}

fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Anthropic Messages.
pub fn check_anthropic(headers: &[(String, String)], body: &Value) -> Result<(), Refusal> {
    let header = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !header("x-api-key") {
        return Err(Refusal {
            status: 401,
            body: serde_json::json!({"type": "error", "error": {
                "type": "authentication_error", "message": "x-api-key header is required"}}),
        });
    }
    if !header("anthropic-version") {
        return Err(anthropic("anthropic-version: header is required".into()));
    }
    if body["model"].as_str().is_none_or(str::is_empty) {
        return Err(anthropic("model: Field required".into()));
    }
    if body["max_tokens"].as_u64().is_none_or(|n| n == 0) {
        return Err(anthropic("max_tokens: Field required".into()));
    }
    if let Some(t) = body["temperature"].as_f64()
        && !(0.0..=1.0).contains(&t)
    {
        return Err(anthropic(format!("temperature: range: 0..1 (got {t})")));
    }
    for (index, tool) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if !valid_name(tool["name"].as_str().unwrap_or_default(), 128) {
            return Err(anthropic(format!(
                "tools.{index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            )));
        }
        if tool["input_schema"]["type"] != "object" {
            return Err(anthropic(format!(
                "tools.{index}.custom.input_schema.type: Input should be 'object'"
            )));
        }
    }
    let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err(anthropic(
            "messages: at least one message is required".into(),
        ));
    };
    let mut seen_ids: Vec<String> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Err(anthropic(format!(
                "messages.{index}.role: Input should be 'user' or 'assistant'"
            )));
        }
        if index == 0 && role != "user" {
            return Err(anthropic(
                "messages: first message must use the \"user\" role".into(),
            ));
        }
        let content = blocks(&message["content"]);
        let is_last = index + 1 == messages.len();
        if content.is_empty() && !(is_last && role == "assistant") {
            return Err(anthropic(format!(
                "messages.{index}: all messages must have non-empty content except for the optional final assistant message"
            )));
        }
        for (at, block) in content.iter().enumerate() {
            if block["type"] == "text" && block["text"].as_str().is_none_or(|t| t.trim().is_empty())
            {
                return Err(anthropic(
                    "messages: text content blocks must contain non-whitespace text".into(),
                ));
            }
            if block["type"] == "image" {
                let source = &block["source"];
                let valid = match source["type"].as_str() {
                    Some("base64") => {
                        ["image/jpeg", "image/png", "image/gif", "image/webp"]
                            .contains(&source["media_type"].as_str().unwrap_or_default())
                            && source["data"]
                                .as_str()
                                .is_some_and(|d| !d.starts_with("data:"))
                    }
                    Some("url") => source["url"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("http")),
                    _ => false,
                };
                if !valid || role != "user" {
                    return Err(anthropic(format!(
                        "messages.{index}.content.{at}.image.source: Input does not match any of the expected source types"
                    )));
                }
            }
        }
        // Results answer the calls of the message right before, and come first.
        let results: Vec<&str> = content
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .filter_map(|b| b["tool_use_id"].as_str())
            .collect();
        if !results.is_empty() {
            let first_other = content.iter().position(|b| b["type"] != "tool_result");
            let last_result = content.iter().rposition(|b| b["type"] == "tool_result");
            if let (Some(other), Some(result)) = (first_other, last_result)
                && other < result
            {
                return Err(anthropic(format!(
                    "messages.{index}: `tool_result` blocks must come before any other content in a user message"
                )));
            }
            let asked = if index == 0 {
                Vec::new()
            } else {
                tool_use_ids(&messages[index - 1])
            };
            if let Some((at, id)) = results
                .iter()
                .enumerate()
                .find(|(_, id)| !asked.iter().any(|a| a == *id))
            {
                return Err(anthropic(format!(
                    "messages.{index}.content.{at}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                )));
            }
        }
        let uses = tool_use_ids(message);
        for id in &uses {
            if seen_ids.contains(id) {
                return Err(anthropic(format!(
                    "messages.{index}: `tool_use` ids must be unique: {id}"
                )));
            }
            seen_ids.push(id.clone());
        }
        if !uses.is_empty() {
            let answered: Vec<String> = messages
                .get(index + 1)
                .filter(|next| next["role"] == "user")
                .map(|next| {
                    blocks(&next["content"])
                        .iter()
                        .filter(|b| b["type"] == "tool_result")
                        .filter_map(|b| b["tool_use_id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<&str> = uses
                .iter()
                .filter(|id| !answered.contains(id))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(anthropic(format!(
                    "messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    missing.join(", ")
                )));
            }
        }
        for block in content.iter().filter(|b| b["type"] == "tool_use") {
            if !block["input"].is_object() {
                return Err(anthropic(format!(
                    "messages.{index}.content: tool_use.input: Input should be a valid dictionary"
                )));
            }
        }
    }
    Ok(())
}

/// A message's content as blocks (a string is one text block).
fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) if text.is_empty() => Vec::new(),
        Value::String(text) => vec![serde_json::json!({"type": "text", "text": text})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

fn tool_use_ids(message: &Value) -> Vec<String> {
    if message["role"] != "assistant" {
        return Vec::new();
    }
    blocks(&message["content"])
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .filter_map(|b| b["id"].as_str().map(str::to_string))
        .collect()
}

/// Ollama's `/api/chat`: lenient about order, strict about types (Go's JSON decoding).
pub fn check_ollama(body: &Value) -> Result<(), Refusal> {
    if body["model"].as_str().is_none_or(str::is_empty) {
        return Err(ollama("model is required".into()));
    }
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or_default();
        if !["system", "user", "assistant", "tool"].contains(&role) {
            return Err(ollama(format!("invalid role: {role}")));
        }
        if !message["content"].is_string() && !message["content"].is_null() {
            return Err(ollama(
                "json: cannot unmarshal array into Go struct field Message.messages.content of type string".into(),
            ));
        }
        for image in message["images"].as_array().into_iter().flatten() {
            // Go decodes `images` as []byte: base64 text, no data: prefix.
            let text = image.as_str().unwrap_or_default();
            if text.is_empty()
                || !text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            {
                return Err(ollama("illegal base64 data at input byte 4".into()));
            }
        }
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            let arguments = &call["function"]["arguments"];
            if !arguments.is_object() {
                return Err(ollama(format!(
                    "json: cannot unmarshal {} into Go struct field ToolCallFunction.messages.tool_calls.function.arguments of type api.ToolCallFunctionArguments",
                    json_kind(arguments)
                )));
            }
        }
    }
    Ok(())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
