//! A Chat Completions request as OpenAI's reference defines it, turned into what the agent
//! takes: the conversation, the client's tools and instructions, and [`Sampling`]. Every
//! field is either used, or refused by name (400): none is dropped without a word. The
//! few that change nothing about the answer (`user`, `metadata`, `store`…) are accepted.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::http::ApiError;
use crate::conversation::{Image, Message, ToolCall};
use crate::provider::{ResponseFormat, Sampling, ToolChoice, ToolSpec};

/// Fields that describe the caller or storage on OpenAI's side, not the answer.
pub(super) const NO_EFFECT: [&str; 7] = [
    "user",
    "metadata",
    "store",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
];

#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub stop: Option<Stop>,
    pub seed: Option<i64>,
    pub top_p: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub response_format: Option<Value>,
    #[serde(default)]
    pub tools: Vec<Value>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub n: Option<u32>,
    /// LocalGPT's own switches: `{"tools": false}` offers the model none of LocalGPT's
    /// tools (a plain model for clients that bring their own).
    pub localgpt: Option<LocalGptOptions>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocalGptOptions {
    #[serde(default = "yes")]
    pub tools: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Content,
    #[serde(default)]
    pub tool_calls: Vec<WireCall>,
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireCall {
    pub id: String,
    pub function: WireFunction,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFunction {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// A message's content: text, or (newer clients) an array of parts.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
    #[default]
    None,
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
    pub image_url: Option<ImageUrl>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ImageUrl {
    pub url: String,
}

impl Content {
    /// The text, and the images of `image_url` parts; other parts are refused (naming
    /// where), not dropped.
    pub fn read(&self, at: &str) -> Result<(String, Vec<Image>), ApiError> {
        match self {
            Content::Text(text) => Ok((text.clone(), Vec::new())),
            Content::Parts(parts) => {
                let mut texts = Vec::new();
                let mut images = Vec::new();
                for (index, part) in parts.iter().enumerate() {
                    let here = format!("{at}[{index}]");
                    match (part.kind.as_str(), &part.image_url) {
                        ("text", _) => texts.push(part.text.as_str()),
                        ("image_url", Some(image)) => {
                            images.push(Image::from_url(&image.url).map_err(|why| {
                                ApiError::bad_request(format!("`{here}`: {why}")).with_param(&here)
                            })?)
                        }
                        (kind, _) => {
                            return Err(ApiError::bad_request(format!(
                                "`{here}`: `{kind}` parts are not supported: LocalGPT passes \
                                 text and images to its models"
                            ))
                            .with_param(&here));
                        }
                    }
                }
                Ok((texts.join("\n"), images))
            }
            Content::None => Ok((String::new(), Vec::new())),
        }
    }

    /// The text; images are refused here (in messages that are not the user's).
    pub fn text(&self, at: &str) -> Result<String, ApiError> {
        let (text, images) = self.read(at)?;
        if !images.is_empty() {
            return Err(ApiError::bad_request(format!(
                "`{at}`: only the user's messages can hold images"
            ))
            .with_param(at));
        }
        Ok(text)
    }
}

/// What the agent runs: the conversation so far, and the user's new message — `None`
/// when the conversation ends with the client's tool results (the turn goes on).
pub(crate) struct Conversation {
    pub history: Vec<Message>,
    pub user: Option<String>,
    pub instructions: Option<String>,
}

pub fn conversation(messages: &[ChatMessage]) -> Result<Conversation, ApiError> {
    let Some(last) = messages.last() else {
        return Err(ApiError::bad_request("`messages` is empty").with_param("messages"));
    };
    if !matches!(last.role.as_str(), "user" | "tool") {
        return Err(ApiError::bad_request(format!(
            "the last message must be from the user, or the results of your tools \
             (`tool`), not `{}`",
            last.role
        ))
        .with_param("messages"));
    }
    let mut instructions = Vec::new();
    let mut history = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let at = format!("messages[{index}].content");
        if message.role == "user" {
            let (content, images) = message.content.read(&at)?;
            history.push(Message::User { content, images });
            continue;
        }
        let content = message.content.text(&at)?;
        match message.role.as_str() {
            "system" | "developer" => instructions.push(content),
            "assistant" => history.push(Message::Assistant {
                content,
                tool_calls: message
                    .tool_calls
                    .iter()
                    .map(|call| ToolCall {
                        id: call.id.clone(),
                        name: call.function.name.clone(),
                        arguments: serde_json::from_str(&call.function.arguments)
                            .unwrap_or(Value::String(call.function.arguments.clone())),
                    })
                    .collect(),
            }),
            "tool" => {
                let call_id = message.tool_call_id.clone().ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "messages[{index}]: a `tool` message needs `tool_call_id`"
                    ))
                    .with_param(&format!("messages[{index}].tool_call_id"))
                })?;
                let name = history
                    .iter()
                    .rev()
                    .find_map(|earlier| match earlier {
                        Message::Assistant { tool_calls, .. } => tool_calls
                            .iter()
                            .find(|call| call.id == call_id)
                            .map(|call| call.name.clone()),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "messages[{index}]: no earlier assistant message has a tool call `{call_id}`"
                        ))
                        .with_param(&format!("messages[{index}].tool_call_id"))
                    })?;
                history.push(Message::Tool {
                    call_id,
                    name,
                    content,
                    is_error: false,
                });
            }
            other => {
                return Err(
                    ApiError::bad_request(format!("unknown message role `{other}`"))
                        .with_param(&format!("messages[{index}].role")),
                );
            }
        }
    }
    // The user's new message, when it has no pictures; one with pictures stays in the
    // history, which the turn then answers as it stands.
    let user = match history.last() {
        Some(Message::User { images, .. }) if images.is_empty() => match history.pop() {
            Some(Message::User { content, .. }) => Some(content),
            _ => None,
        },
        _ => None,
    };
    Ok(Conversation {
        history,
        user,
        instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
    })
}

impl CompletionRequest {
    /// Refuses what LocalGPT cannot do, by the field's name.
    pub(crate) fn refuse_unsupported(&self) -> Result<(), ApiError> {
        for (name, value) in &self.rest {
            if NO_EFFECT.contains(&name.as_str()) || value.is_null() {
                continue;
            }
            let unused = match name.as_str() {
                "logprobs" => *value == Value::Bool(false),
                "logit_bias" => value.as_object().is_some_and(Map::is_empty),
                "modalities" => *value == serde_json::json!(["text"]),
                _ => false,
            };
            if unused {
                continue;
            }
            let why = match name.as_str() {
                "logprobs" | "top_logprobs" => "token log-probabilities are not reported",
                "logit_bias" | "audio" | "prediction" | "web_search_options"
                | "reasoning_effort" | "verbosity" | "modalities" => {
                    "LocalGPT does not pass this on to its models"
                }
                "functions" | "function_call" => "use `tools` and `tool_choice`",
                _ => "not a field LocalGPT knows",
            };
            return Err(ApiError::bad_request(format!("`{name}`: {why}")).with_param(name));
        }
        if let Some(options) = &self.stream_options
            && let Some(name) = options.rest.keys().next()
        {
            return Err(
                ApiError::bad_request(format!("`stream_options.{name}` is not supported"))
                    .with_param("stream_options"),
            );
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::bad_request(
                "`n`: LocalGPT gives one choice per request (its tools act on your files, \
                 so it does not run a turn several times); send several requests",
            )
            .with_param("n"));
        }
        Ok(())
    }

    pub fn sampling(&self) -> Result<Sampling, ApiError> {
        if self.max_tokens.is_some() && self.max_completion_tokens.is_some() {
            return Err(ApiError::bad_request(
                "give `max_completion_tokens` or `max_tokens`, not both",
            )
            .with_param("max_tokens"));
        }
        Ok(Sampling {
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            stop: match &self.stop {
                None => Vec::new(),
                Some(Stop::One(one)) => vec![one.clone()],
                Some(Stop::Many(many)) => many.clone(),
            },
            seed: self.seed,
            top_p: self.top_p,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            response_format: self.response_format()?,
            tool_choice: self.tool_choice()?,
            parallel_tool_calls: self.parallel_tool_calls,
        })
    }

    fn response_format(&self) -> Result<Option<ResponseFormat>, ApiError> {
        let Some(format) = &self.response_format else {
            return Ok(None);
        };
        let bad = |why: &str| {
            ApiError::bad_request(format!("`response_format`: {why}")).with_param("response_format")
        };
        match format["type"].as_str() {
            Some("text") => Ok(None),
            Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
            Some("json_schema") => {
                let spec = &format["json_schema"];
                let name = spec["name"]
                    .as_str()
                    .ok_or_else(|| bad("`json_schema.name` is required"))?;
                Ok(Some(ResponseFormat::JsonSchema {
                    name: name.to_string(),
                    schema: spec.get("schema").cloned().unwrap_or(Value::Null),
                    strict: spec["strict"].as_bool().unwrap_or(false),
                }))
            }
            Some(other) => Err(bad(&format!(
                "type `{other}` is not one of text, json_object, json_schema"
            ))),
            None => Err(bad("needs a `type`")),
        }
    }

    fn tool_choice(&self) -> Result<Option<ToolChoice>, ApiError> {
        let Some(choice) = &self.tool_choice else {
            return Ok(None);
        };
        let choice = match choice.as_str() {
            Some("auto") => ToolChoice::Auto,
            Some("none") => ToolChoice::None,
            Some("required") => ToolChoice::Required,
            _ => match choice["function"]["name"].as_str() {
                Some(name) if choice["type"] == "function" => ToolChoice::Named(name.to_string()),
                _ => {
                    return Err(ApiError::bad_request(
                        "`tool_choice`: \"none\", \"auto\", \"required\" or \
                         {\"type\": \"function\", \"function\": {\"name\": …}}",
                    )
                    .with_param("tool_choice"));
                }
            },
        };
        Ok(Some(choice))
    }

    /// The client's function tools.
    pub(crate) fn client_tools(&self) -> Result<Vec<ToolSpec>, ApiError> {
        self.tools
            .iter()
            .enumerate()
            .map(|(index, tool)| {
                function_tool(
                    &format!("tools[{index}]"),
                    tool,
                    &tool["function"],
                    "function.",
                )
            })
            .collect()
    }
}

/// A client's function tool: `tool` is the entry at `at` (`{"type": "function", …}`) and
/// `function` the object holding its name, description and parameters — the entry itself
/// in the Responses API, its `function` in Chat Completions (`prefix` names the way there).
pub(crate) fn function_tool(
    at: &str,
    tool: &Value,
    function: &Value,
    prefix: &str,
) -> Result<ToolSpec, ApiError> {
    if tool["type"] != "function" {
        return Err(ApiError::bad_request(format!(
            "`{at}`: only tools of type \"function\" are supported"
        ))
        .with_param(at));
    }
    let name = function["name"].as_str().unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        let field = format!("{at}.{prefix}name");
        return Err(ApiError::bad_request(format!(
            "`{field}` must be letters, digits, `_` and `-`"
        ))
        .with_param(&field));
    }
    Ok(ToolSpec {
        name: name.to_string(),
        description: function["description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        parameters: function
            .get("parameters")
            .filter(|schema| !schema.is_null())
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(value: Value) -> Vec<ChatMessage> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_conversation_ends_in_a_new_message_or_the_clients_tool_results() {
        let asked = conversation(&messages(json!([
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "salut"},
            {"role": "user", "content": [{"type": "text", "text": "how"}, {"type": "text", "text": "are you?"}]},
        ])))
        .unwrap();
        assert_eq!(asked.history.len(), 2);
        assert_eq!(asked.user.as_deref(), Some("how\nare you?"));
        assert_eq!(asked.instructions.as_deref(), Some("Answer in French."));

        let answered = conversation(&messages(json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ])))
        .unwrap();
        assert_eq!(answered.user, None);
        assert!(matches!(
            &answered.history[2],
            Message::Tool { name, content, .. } if name == "get_weather" && content == "sunny"
        ));

        for bad in [
            json!([]),
            json!([{"role": "assistant", "content": "x"}]),
            json!([{"role": "tool", "tool_call_id": "nope", "content": "x"}]),
            json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]),
            json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]),
            json!([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]),
        ] {
            assert!(conversation(&messages(bad.clone())).is_err(), "{bad}");
        }
    }
}
