//! The OpenAI-compatible endpoint: `POST /v1/chat/completions` (streamed or not) and
//! `GET /v1/models`, so any OpenAI client can talk to LocalGPT — with the assistant's
//! memory and tools. `model` may be `localgpt` (the configured model) or any model name
//! LocalGPT routes. The client sends the whole conversation each time, so these turns are
//! not saved as sessions. Fields OpenAI has and LocalGPT does not use (`n`, `top_p`,
//! `user`, `stream_options`…) are accepted and ignored, as OpenAI's own SDKs send them.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use hyper::Request;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::State;
use super::chat::{Turn, permit, provider_error};
use super::http::{
    ApiError, ApiResponse, cancel_when_closed, ok_json, parse_json, read_body, sse_response,
};
use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, LogObserver, Observer};
use crate::cancel::Cancel;
use crate::conversation::{Message, ToolCall};
use crate::session::Session;

/// The name that means "whatever LocalGPT is configured to use".
const DEFAULT_MODEL: &str = "localgpt";

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    temperature: Option<f32>,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Content,
}

/// A message's content: text, or (newer clients) an array of parts.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
    #[default]
    None,
}

#[derive(Debug, Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

impl Content {
    fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter(|part| part.kind == "text")
                .map(|part| part.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            Content::None => String::new(),
        }
    }
}

fn completion_id() -> String {
    random_id("chatcmpl")
}

/// `prefix-` and 24 random hex digits.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// The conversation before the last message, and the last (user) message. The client's
/// system messages become instructions at the top of the turn: LocalGPT's own system
/// prompt (memory, tools) stays.
fn split(messages: &[ChatMessage]) -> Result<(Vec<Message>, String), ApiError> {
    let Some((last, earlier)) = messages.split_last() else {
        return Err(ApiError::invalid("`messages` is empty"));
    };
    if last.role != "user" {
        return Err(ApiError::invalid(format!(
            "the last message must be from the user, not `{}`",
            last.role
        )));
    }
    let mut instructions = Vec::new();
    let mut history = Vec::new();
    for message in earlier {
        let content = message.content.text();
        match message.role.as_str() {
            "system" | "developer" => instructions.push(content),
            "user" => history.push(Message::User { content }),
            "assistant" => history.push(Message::Assistant {
                content,
                tool_calls: Vec::new(),
            }),
            // Tool results of the client's own tools have no place in LocalGPT's turn.
            "tool" | "function" => {}
            other => return Err(ApiError::invalid(format!("unknown message role `{other}`"))),
        }
    }
    let mut user = last.content.text();
    if !instructions.is_empty() {
        user = format!(
            "[Instructions from the client]\n{}\n\n{user}",
            instructions.join("\n")
        );
    }
    Ok((history, user))
}

pub async fn completions(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: CompletionRequest = parse_json(&bytes)?;
    let (conversation, user) = split(&body.messages)?;
    let model = if body.model == DEFAULT_MODEL || body.model.is_empty() {
        state.env.model.clone()
    } else {
        body.model.clone()
    };
    let permit = permit(&state)?;
    let agent = Agent::new(&state.home, &state.env.config, &model, state.env.policy())
        .map_err(|err| provider_error(&err))?
        .with_temperature(body.temperature);
    let turn = Turn::ephemeral(agent, Session::ephemeral(conversation), user, permit);
    let id = completion_id();
    let created = chrono::Utc::now().timestamp();
    let shown_model = body.model.clone();
    if !body.stream {
        let (_, _, outcome) = turn.run(LogObserver, Cancel::new()).await?;
        let report = outcome.map_err(|err| provider_error(&err.source))?;
        let (prompt, completion) = (report.usage.input_tokens, report.usage.output_tokens);
        return ok_json(&json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": shown_model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": report.text},
                "logprobs": null,
                "finish_reason": if report.hit_round_limit { "length" } else { "stop" },
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }));
    }
    let (sender, receiver) = mpsc::unbounded_channel();
    let response = sse_response(receiver);
    let chunks = Chunks {
        id,
        created,
        model: shown_model,
        sender: sender.clone(),
    };
    chunks.send(json!({"role": "assistant", "content": ""}), None);
    let cancel = Cancel::new();
    // The client went away: stop the turn.
    let watcher = cancel_when_closed(&sender, &cancel);
    tokio::spawn(async move {
        let outcome = turn.run(chunks, cancel).await;
        watcher.abort();
        let Ok((_, chunks, outcome)) = outcome else {
            return;
        };
        match outcome {
            Ok(report) if report.interrupted => return,
            Ok(report) => {
                let reason = if report.hit_round_limit {
                    "length"
                } else {
                    "stop"
                };
                chunks.send(json!({}), Some(reason));
            }
            Err(err) => {
                let error = provider_error(&err.source);
                let body = json!({"error": {"message": error.message, "type": error.code, "code": error.code}});
                let _ = chunks.sender.send(Bytes::from(format!("data: {body}\n\n")));
            }
        }
        let _ = chunks.sender.send(Bytes::from_static(b"data: [DONE]\n\n"));
    });
    Ok(response)
}

/// `chat.completion.chunk` events, as OpenAI streams them.
struct Chunks {
    id: String,
    created: i64,
    model: String,
    sender: mpsc::UnboundedSender<Bytes>,
}

impl Chunks {
    fn send(&self, delta: Value, finish_reason: Option<&str>) {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        });
        let _ = self.sender.send(Bytes::from(format!("data: {chunk}\n\n")));
    }
}

#[async_trait]
impl Observer for Chunks {
    fn text(&mut self, delta: &str) {
        self.send(json!({"content": delta}), None);
    }
    fn tool_call(&mut self, call: &ToolCall) {
        // LocalGPT runs its own tools; the client sees their work in the answer.
        LogObserver.tool_call(call);
    }
    fn tool_result(&mut self, _call: &ToolCall, _output: &ToolOutput) {}
    async fn approve(&mut self, _request: &str) -> Option<Approval> {
        None
    }
}

pub fn models(state: &Arc<State>) -> Result<ApiResponse, ApiError> {
    let created = chrono::Utc::now().timestamp();
    let mut names = vec![DEFAULT_MODEL.to_string(), state.env.model.clone()];
    names.dedup();
    let data: Vec<Value> = names
        .iter()
        .map(|name| json!({"id": name, "object": "model", "created": created, "owned_by": "localgpt"}))
        .collect();
    ok_json(&json!({"object": "list", "data": data}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, text: &str) -> ChatMessage {
        ChatMessage {
            role: role.to_string(),
            content: Content::Text(text.to_string()),
        }
    }

    #[test]
    fn conversations_split_into_history_and_the_new_message() {
        let (history, user) = split(&[
            message("system", "Answer in French."),
            message("user", "hi"),
            message("assistant", "salut"),
            message("user", "how are you?"),
        ])
        .unwrap();
        assert_eq!(history.len(), 2);
        assert!(user.starts_with("[Instructions from the client]\nAnswer in French."));
        assert!(user.ends_with("how are you?"));
        assert!(split(&[message("assistant", "x")]).is_err());
        assert!(split(&[]).is_err());
        let parts: ChatMessage = serde_json::from_value(json!({"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}},
            {"type": "text", "text": "b"}]}))
        .unwrap();
        assert_eq!(parts.content.text(), "a\nb");
    }
}
