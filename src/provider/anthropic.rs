//! Anthropic Messages, streaming (`POST {base_url}/v1/messages`, server-sent events).
//!
//! The base URL has no `/v1`, as the official SDKs read `ANTHROPIC_BASE_URL`. The system
//! prompt is the `system` field; tool calls are `tool_use` blocks whose input arrives as
//! `input_json_delta` fragments; tool results go back as `tool_result` blocks in one user
//! message, after the assistant message that asked for them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::retry::{self, Target};
use super::{
    ChatRequest, Completion, Endpoint, Event, HttpSettings, Message, Provider, ProviderError,
    StopReason, ToolCall, Usage, parse_arguments,
};

const API_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    endpoint: Endpoint,
}

impl Anthropic {
    pub fn new(
        name: &str,
        base_url: &str,
        key: Option<String>,
        settings: &HttpSettings,
    ) -> Result<Anthropic, ProviderError> {
        let label = super::display_label(name, "anthropic", "Anthropic");
        let url = format!("{}/v1/messages", base_url.trim_end_matches('/'));
        Ok(Anthropic {
            endpoint: Endpoint::new(label, url, key, settings)?,
        })
    }
}

/// An image as a Messages content block: its data, or a link Anthropic fetches.
fn image_block(image: &crate::conversation::Image) -> Value {
    match image {
        crate::conversation::Image::Data { media_type, data } => json!({"type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data}}),
        crate::conversation::Image::Link { url } => {
            json!({"type": "image", "source": {"type": "url", "url": url}})
        }
    }
}

pub(crate) fn request_body(request: &ChatRequest) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    for message in &request.messages {
        match message {
            Message::User { content, images } => {
                // Text after tool results joins their message, after them: Anthropic wants
                // the results first in the user turn that answers the calls.
                let after_results = messages.last_mut().filter(|last| {
                    last["role"] == "user"
                        && last["content"]
                            .as_array()
                            .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
                });
                let mut blocks: Vec<Value> = images.iter().map(image_block).collect();
                // Anthropic refuses an empty text block; a picture alone is a message.
                if !content.is_empty() || images.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                match after_results.and_then(|last| last["content"].as_array_mut()) {
                    Some(earlier) => earlier.extend(blocks),
                    None if images.is_empty() => {
                        messages.push(json!({"role": "user", "content": content}));
                    }
                    None => messages.push(json!({"role": "user", "content": blocks})),
                }
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::new();
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                for call in tool_calls {
                    let input = match &call.arguments {
                        Value::Object(_) => call.arguments.clone(),
                        // The API insists on an object; keep what the model sent.
                        other => json!({"input": other}),
                    };
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                }
                if blocks.is_empty() {
                    blocks.push(json!({"type": "text", "text": "(no answer)"}));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
            Message::Tool {
                call_id,
                content,
                is_error,
                ..
            } => {
                let block = json!({
                    "type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error,
                });
                // Results of one round of calls share a single user message.
                let joins_previous = messages.last().is_some_and(|last| {
                    last["role"] == "user"
                        && last["content"].as_array().is_some_and(|blocks| {
                            !blocks.is_empty() && blocks.iter().all(|b| b["type"] == "tool_result")
                        })
                });
                match messages.last_mut() {
                    Some(last) if joins_previous => {
                        if let Some(blocks) = last["content"].as_array_mut() {
                            blocks.push(block);
                        }
                    }
                    _ => messages.push(json!({"role": "user", "content": [block]})),
                }
            }
        }
    }
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens,
        "system": request.system,
        "messages": messages,
        "stream": true,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| json!({"name": tool.name, "description": tool.description, "input_schema": tool.parameters}))
            .collect();
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    request.sampling.apply_anthropic(&mut body);
    body
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    input_json: String,
}

#[async_trait]
impl Provider for Anthropic {
    fn name(&self) -> &str {
        &self.endpoint.label
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Completion, ProviderError> {
        let body = request_body(request);
        let target = Target {
            provider: &self.endpoint.label,
            url: &self.endpoint.url,
            unreachable_hint: "Check the address (ANTHROPIC_BASE_URL or providers.*.base_url) and your network.",
        };
        let response = retry::send(&self.endpoint.settings.retry, &target, || {
            let builder = self
                .endpoint
                .client
                .post(&self.endpoint.url)
                .header("anthropic-version", API_VERSION)
                .json(&body);
            match &self.endpoint.key {
                Some(key) => builder.header("x-api-key", key),
                None => builder,
            }
        })
        .await?;

        let mut completion = Completion::default();
        let mut usage = Usage::default();
        let mut calls: BTreeMap<u64, PartialCall> = BTreeMap::new();
        let mut stop = None;
        let mut finished = false;
        let mut events = response.bytes_stream().eventsource();
        while let Some(event) = events.next().await {
            let event = event.map_err(|err| {
                super::sse_failure(
                    &self.endpoint.label,
                    err,
                    &completion.text,
                    &self.endpoint.settings,
                )
            })?;
            if event.event == "ping" || event.data.is_empty() {
                continue;
            }
            let data: Value =
                serde_json::from_str(&event.data).map_err(|err| ProviderError::Protocol {
                    provider: self.endpoint.label.clone(),
                    detail: format!("a `{}` event is not JSON ({err})", event.event),
                })?;
            match data["type"].as_str().unwrap_or(event.event.as_str()) {
                "message_start" => {
                    usage.input_tokens = data["message"]["usage"]["input_tokens"]
                        .as_u64()
                        .unwrap_or(0);
                }
                "content_block_start" => {
                    let block = &data["content_block"];
                    if block["type"] == "tool_use" {
                        let index = data["index"].as_u64().unwrap_or(0);
                        calls.insert(
                            index,
                            PartialCall {
                                id: block["id"].as_str().unwrap_or_default().to_string(),
                                name: block["name"].as_str().unwrap_or_default().to_string(),
                                input_json: String::new(),
                            },
                        );
                    }
                }
                "content_block_delta" => {
                    let delta = &data["delta"];
                    match delta["type"].as_str() {
                        Some("text_delta") => {
                            if let Some(text) = delta["text"].as_str().filter(|t| !t.is_empty()) {
                                completion.apply(Event::TextDelta(text.to_string()), sink);
                            }
                        }
                        Some("input_json_delta") => {
                            let index = data["index"].as_u64().unwrap_or(0);
                            if let (Some(call), Some(part)) =
                                (calls.get_mut(&index), delta["partial_json"].as_str())
                            {
                                call.input_json.push_str(part);
                            }
                        }
                        _ => {}
                    }
                }
                "content_block_stop" => {
                    let index = data["index"].as_u64().unwrap_or(0);
                    if let Some(call) = calls.remove(&index) {
                        completion.apply(
                            Event::ToolCall(ToolCall {
                                id: call.id,
                                name: call.name,
                                arguments: parse_arguments(&call.input_json),
                            }),
                            sink,
                        );
                    }
                }
                "message_delta" => {
                    if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                        stop = Some(match reason {
                            "end_turn" | "stop_sequence" => StopReason::EndTurn,
                            "tool_use" => StopReason::ToolUse,
                            "max_tokens" => StopReason::MaxTokens,
                            _ => StopReason::Other,
                        });
                    }
                    if let Some(output) = data["usage"]["output_tokens"].as_u64() {
                        usage.output_tokens = output;
                    }
                }
                "message_stop" => {
                    finished = true;
                    break;
                }
                "error" => {
                    return Err(ProviderError::Protocol {
                        provider: self.endpoint.label.clone(),
                        detail: data["error"]["message"]
                            .as_str()
                            .unwrap_or("error in stream")
                            .to_string(),
                    });
                }
                _ => {}
            }
        }
        if !finished {
            return Err(ProviderError::StreamCut {
                provider: self.endpoint.label.clone(),
                detail: "the connection closed before the answer was complete".to_string(),
                partial: completion.text,
            });
        }
        completion.apply(Event::Usage(usage), sink);
        completion.apply(Event::Done(stop.unwrap_or(StopReason::EndTurn)), sink);
        Ok(completion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_results_follow_their_call_in_one_user_message() {
        let request = ChatRequest {
            model: "claude-x".into(),
            system: "be brief".into(),
            messages: vec![
                Message::user("hi"),
                Message::Assistant {
                    content: "checking".into(),
                    tool_calls: vec![
                        ToolCall {
                            id: "a".into(),
                            name: "bash".into(),
                            arguments: json!({"command": "ls"}),
                        },
                        ToolCall {
                            id: "b".into(),
                            name: "bash".into(),
                            arguments: json!("not an object"),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "a".into(),
                    name: "bash".into(),
                    content: "x".into(),
                    is_error: false,
                },
                Message::Tool {
                    call_id: "b".into(),
                    name: "bash".into(),
                    content: "y".into(),
                    is_error: true,
                },
                Message::user("go on"),
            ],
            tools: vec![],
            temperature: None,
            max_tokens: 100,
            sampling: Default::default(),
            context_window: 8192,
        };
        let body = request_body(&request);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        // Text that follows the results joins their turn, after them.
        let answer = messages[2]["content"].as_array().unwrap();
        assert_eq!(answer.len(), 3);
        assert_eq!(answer[2], json!({"type": "text", "text": "go on"}));
        assert_eq!(body["system"], "be brief");
        assert_eq!(
            messages[1]["content"][2]["input"],
            json!({"input": "not an object"})
        );
        let results = messages[2]["content"].as_array().unwrap();
        assert_eq!(results[1]["is_error"], true);
    }
}
