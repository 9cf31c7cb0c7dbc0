//! A Responses API request (`POST /v1/responses`) read into what the agent takes: the
//! input items as messages, the client's function tools, and [`Sampling`]. As with Chat
//! Completions, every field is used or refused by name.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::http::ApiError;
use super::openai_request::{LocalGptOptions, NO_EFFECT, function_tool};
use crate::conversation::{Image, Message, ToolCall};
use crate::provider::{ResponseFormat, Sampling, ToolChoice, ToolSpec};

#[derive(Debug, Deserialize)]
pub(super) struct ResponsesRequest {
    pub model: String,
    pub input: Value,
    pub instructions: Option<String>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub tools: Vec<Value>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub previous_response_id: Option<String>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub max_output_tokens: Option<u32>,
    pub text: Option<Value>,
    pub store: Option<bool>,
    pub localgpt: Option<LocalGptOptions>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The input, read: messages to add, results for calls the previous response left to the
/// client, and the user's new message.
#[derive(Default)]
pub(super) struct Input {
    pub messages: Vec<Message>,
    pub outputs: Vec<(String, String)>,
    pub user: Option<String>,
    pub instructions: Vec<String>,
}

pub(super) fn bad(at: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("`{at}`: {why}")).with_param(at)
}

/// A message's text and pictures (`input_image` parts); other parts are refused.
fn content_of(content: &Value, at: &str) -> Result<(String, Vec<Image>), ApiError> {
    match content {
        Value::String(text) => Ok((text.clone(), Vec::new())),
        Value::Array(parts) => {
            let mut texts = Vec::new();
            let mut images = Vec::new();
            for (index, part) in parts.iter().enumerate() {
                let here = format!("{at}[{index}]");
                match part["type"].as_str() {
                    Some("input_text" | "output_text" | "text") => {
                        texts.push(part["text"].as_str().unwrap_or_default().to_string());
                    }
                    Some("input_image") => {
                        let url = part["image_url"].as_str().ok_or_else(|| {
                            bad(
                                &here,
                                "an image needs an `image_url` (file ids are not supported)",
                            )
                        })?;
                        images.push(Image::from_url(url).map_err(|why| bad(&here, why))?);
                    }
                    Some(other) => {
                        return Err(bad(
                            &here,
                            format!(
                                "`{other}` parts are not supported: LocalGPT passes text and images to its models"
                            ),
                        ));
                    }
                    None => return Err(bad(&here, "a part needs a `type`")),
                }
            }
            Ok((texts.join("\n"), images))
        }
        Value::Null => Ok((String::new(), Vec::new())),
        _ => Err(bad(at, "text, or an array of parts")),
    }
}

/// Text only: pictures belong in the user's messages.
fn text_of(content: &Value, at: &str) -> Result<String, ApiError> {
    let (text, images) = content_of(content, at)?;
    if !images.is_empty() {
        return Err(bad(at, "only the user's messages can hold images"));
    }
    Ok(text)
}

pub(super) fn read_input(input: &Value) -> Result<Input, ApiError> {
    let mut read = Input::default();
    let items = match input {
        Value::String(text) => {
            read.user = Some(text.clone());
            return Ok(read);
        }
        Value::Array(items) => items,
        _ => return Err(bad("input", "text, or an array of items")),
    };
    for (index, item) in items.iter().enumerate() {
        let at = format!("input[{index}]");
        let kind = item["type"]
            .as_str()
            .unwrap_or(if item.get("role").is_some() {
                "message"
            } else {
                ""
            });
        match kind {
            "message" if item["role"] == "user" => {
                let (content, images) = content_of(&item["content"], &format!("{at}.content"))?;
                read.messages.push(Message::User { content, images });
            }
            "message" => {
                let content = text_of(&item["content"], &format!("{at}.content"))?;
                match item["role"].as_str() {
                    Some("system" | "developer") => read.instructions.push(content),
                    Some("assistant") => read.messages.push(Message::assistant(content)),
                    _ => {
                        return Err(bad(
                            &format!("{at}.role"),
                            "user, assistant, system or developer",
                        ));
                    }
                }
            }
            "function_call" => {
                let call = ToolCall {
                    id: item["call_id"]
                        .as_str()
                        .ok_or_else(|| bad(&format!("{at}.call_id"), "required"))?
                        .to_string(),
                    name: item["name"]
                        .as_str()
                        .ok_or_else(|| bad(&format!("{at}.name"), "required"))?
                        .to_string(),
                    arguments: {
                        let text = item["arguments"].as_str().unwrap_or("{}");
                        serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))
                    },
                };
                match read.messages.last_mut() {
                    Some(Message::Assistant { tool_calls, .. }) => tool_calls.push(call),
                    _ => read.messages.push(Message::Assistant {
                        content: String::new(),
                        tool_calls: vec![call],
                    }),
                }
            }
            "function_call_output" => {
                let call_id = item["call_id"]
                    .as_str()
                    .ok_or_else(|| bad(&format!("{at}.call_id"), "required"))?
                    .to_string();
                let output = text_of(&item["output"], &format!("{at}.output"))?;
                let name = read
                    .messages
                    .iter()
                    .rev()
                    .find_map(|message| match message {
                        Message::Assistant { tool_calls, .. } => tool_calls
                            .iter()
                            .find(|call| call.id == call_id)
                            .map(|call| call.name.clone()),
                        _ => None,
                    });
                match name {
                    Some(name) => read.messages.push(Message::Tool {
                        call_id,
                        name,
                        content: output,
                        is_error: false,
                    }),
                    // A call of the previous response's.
                    None => read.outputs.push((call_id, output)),
                }
            }
            other => {
                return Err(bad(
                    &at,
                    format!(
                        "items of type `{other}` are not supported (message, function_call, function_call_output)"
                    ),
                ));
            }
        }
    }
    // A last message with pictures stays among the messages; the turn answers them.
    if let Some(Message::User { images, .. }) = read.messages.last()
        && images.is_empty()
        && let Some(Message::User { content, .. }) = read.messages.pop()
    {
        read.user = Some(content);
    }
    Ok(read)
}

impl ResponsesRequest {
    pub(super) fn refuse_unsupported(&self) -> Result<(), ApiError> {
        for (name, value) in &self.rest {
            // As in Chat Completions; `truncation` too, since LocalGPT compacts anyway.
            if NO_EFFECT.contains(&name.as_str()) || name == "truncation" || value.is_null() {
                continue;
            }
            let unused = match name.as_str() {
                "include" => value.as_array().is_some_and(Vec::is_empty),
                "background" => *value == Value::Bool(false),
                _ => false,
            };
            if !unused {
                let why = match name.as_str() {
                    "reasoning" | "include" | "background" | "conversation" | "prompt"
                    | "max_tool_calls" | "top_logprobs" => "LocalGPT does not support this",
                    _ => "not a field LocalGPT knows",
                };
                return Err(bad(name, why));
            }
        }
        Ok(())
    }

    pub(super) fn sampling(&self) -> Result<Sampling, ApiError> {
        let response_format = match self.text.as_ref().map(|text| &text["format"]) {
            None | Some(Value::Null) => None,
            Some(format) => match format["type"].as_str() {
                Some("text") => None,
                Some("json_object") => Some(ResponseFormat::JsonObject),
                Some("json_schema") => Some(ResponseFormat::JsonSchema {
                    name: format["name"]
                        .as_str()
                        .ok_or_else(|| bad("text.format.name", "required"))?
                        .to_string(),
                    schema: format.get("schema").cloned().unwrap_or(Value::Null),
                    strict: format["strict"].as_bool().unwrap_or(false),
                }),
                _ => return Err(bad("text.format", "type text, json_object or json_schema")),
            },
        };
        let tool_choice = match &self.tool_choice {
            None => None,
            Some(choice) => Some(match choice.as_str() {
                Some("auto") => ToolChoice::Auto,
                Some("none") => ToolChoice::None,
                Some("required") => ToolChoice::Required,
                _ => match (choice["type"].as_str(), choice["name"].as_str()) {
                    (Some("function"), Some(name)) => ToolChoice::Named(name.to_string()),
                    _ => {
                        return Err(bad(
                            "tool_choice",
                            "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"name\": …}",
                        ));
                    }
                },
            }),
        };
        Ok(Sampling {
            max_tokens: self.max_output_tokens,
            top_p: self.top_p,
            response_format,
            tool_choice,
            parallel_tool_calls: self.parallel_tool_calls,
            ..Sampling::default()
        })
    }

    /// The client's function tools (Responses' flat shape).
    pub(super) fn client_tools(&self) -> Result<Vec<ToolSpec>, ApiError> {
        self.tools
            .iter()
            .enumerate()
            .map(|(index, tool)| function_tool(&format!("tools[{index}]"), tool, tool, ""))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_items_become_the_conversation() {
        let read = read_input(&json!([
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Rome\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "hot"},
            {"type": "function_call_output", "call_id": "earlier", "output": "from before"},
        ]))
        .unwrap();
        assert_eq!(read.instructions, ["Be brief."]);
        assert_eq!(read.messages.len(), 3);
        assert!(matches!(&read.messages[2], Message::Tool { name, .. } if name == "get_weather"));
        assert_eq!(
            read.outputs,
            [("earlier".to_string(), "from before".to_string())]
        );
        assert_eq!(read.user, None);
        assert_eq!(
            read_input(&json!("hi")).unwrap().user.as_deref(),
            Some("hi")
        );
        for bad in [
            json!(5),
            json!([{"type": "reasoning"}]),
            json!([{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]),
        ] {
            assert!(read_input(&bad).is_err(), "{bad}");
        }
    }
}
