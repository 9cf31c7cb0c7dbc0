//! OpenAI Chat Completions, streaming (`POST {base_url}/chat/completions`, server-sent
//! events). Also every OpenAI-compatible server: LM Studio, vLLM, llama.cpp, OpenRouter.
//!
//! The base URL ends in `/v1`, as the official SDKs read `OPENAI_BASE_URL`. Tool-call
//! arguments arrive as string fragments keyed by index and are assembled here.

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

pub struct OpenAi {
    endpoint: Endpoint,
}

impl OpenAi {
    pub fn new(
        name: &str,
        base_url: &str,
        key: Option<String>,
        settings: &HttpSettings,
    ) -> Result<OpenAi, ProviderError> {
        let label = super::display_label(name, "openai", "OpenAI");
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        Ok(OpenAi {
            endpoint: Endpoint::new(label, url, key, settings)?,
        })
    }
}

pub(crate) fn request_body(request: &ChatRequest) -> Value {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    for message in &request.messages {
        messages.push(match message {
            Message::User { content, images } if images.is_empty() => {
                json!({"role": "user", "content": content})
            }
            Message::User { content, images } => {
                let mut parts = vec![json!({"type": "text", "text": content})];
                parts.extend(
                    images
                        .iter()
                        .map(|image| json!({"type": "image_url", "image_url": {"url": image.url()}})),
                );
                json!({"role": "user", "content": parts})
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut value = json!({"role": "assistant", "content": content});
                if !tool_calls.is_empty() {
                    value["tool_calls"] = tool_calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": call.arguments.to_string()},
                            })
                        })
                        .collect();
                }
                value
            }
            Message::Tool {
                call_id, content, ..
            } => json!({"role": "tool", "tool_call_id": call_id, "content": content}),
        });
    }
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !request.tools.is_empty() {
        body["tools"] = super::function_tools(&request.tools);
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    request.sampling.apply_openai(&mut body);
    body
}

/// A tool call being assembled from its streamed pieces.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[async_trait]
impl Provider for OpenAi {
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
            unreachable_hint: "Check the address (OPENAI_BASE_URL or providers.*.base_url) and your network.",
        };
        let response = retry::send(&self.endpoint.settings.retry, &target, || {
            let builder = self.endpoint.client.post(&self.endpoint.url).json(&body);
            match &self.endpoint.key {
                Some(key) => builder.bearer_auth(key),
                None => builder,
            }
        })
        .await?;

        let mut completion = Completion::default();
        let mut calls: BTreeMap<u64, PartialCall> = BTreeMap::new();
        let mut finish: Option<StopReason> = None;
        let mut done = false;
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
            if event.data.trim() == "[DONE]" {
                done = true;
                break;
            }
            let chunk: Value =
                serde_json::from_str(&event.data).map_err(|err| ProviderError::Protocol {
                    provider: self.endpoint.label.clone(),
                    detail: format!("a stream chunk is not JSON ({err})"),
                })?;
            if let Some(error) = chunk.get("error") {
                return Err(ProviderError::Protocol {
                    provider: self.endpoint.label.clone(),
                    detail: error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error in stream")
                        .to_string(),
                });
            }
            if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
                completion.apply(
                    Event::Usage(Usage {
                        input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
                        output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
                    }),
                    sink,
                );
            }
            let Some(choice) = chunk["choices"].get(0) else {
                continue;
            };
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                completion.apply(Event::TextDelta(text.to_string()), sink);
            }
            if let Some(pieces) = delta["tool_calls"].as_array() {
                for piece in pieces {
                    let index = piece["index"].as_u64().unwrap_or(0);
                    let call = calls.entry(index).or_default();
                    if let Some(id) = piece["id"].as_str() {
                        call.id = id.to_string();
                    }
                    if let Some(name) = piece["function"]["name"].as_str() {
                        call.name.push_str(name);
                    }
                    if let Some(arguments) = piece["function"]["arguments"].as_str() {
                        call.arguments.push_str(arguments);
                    }
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                finish = Some(match reason {
                    "stop" => StopReason::EndTurn,
                    "tool_calls" | "function_call" => StopReason::ToolUse,
                    "length" => StopReason::MaxTokens,
                    _ => StopReason::Other,
                });
            }
        }
        if !done && finish.is_none() {
            return Err(ProviderError::StreamCut {
                provider: self.endpoint.label.clone(),
                detail: "the connection closed before the answer was complete".to_string(),
                partial: completion.text,
            });
        }
        for (index, call) in calls {
            let id = if call.id.is_empty() {
                super::generated_call_id(index as usize)
            } else {
                call.id
            };
            completion.apply(
                Event::ToolCall(ToolCall {
                    id,
                    name: call.name,
                    arguments: parse_arguments(&call.arguments),
                }),
                sink,
            );
        }
        let reason = match finish {
            Some(reason) => reason,
            None if completion.tool_calls.is_empty() => StopReason::EndTurn,
            None => StopReason::ToolUse,
        };
        completion.apply(Event::Done(reason), sink);
        Ok(completion)
    }
}
