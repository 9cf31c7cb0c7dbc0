//! LLM providers behind one trait: OpenAI Chat Completions (and any compatible server),
//! Anthropic Messages, Ollama and the Claude CLI. Each speaks its own wire format and
//! streams; all turn what they receive into the same [`Event`]s.
//!
//! - [`route`]: model name → provider (`gpt-*` → OpenAI, `claude-*` → Anthropic, …).
//! - [`retry`]: backoff with jitter on 429, 5xx and connection errors, honouring
//!   `Retry-After`.
//! - [`openai`], [`anthropic`], [`ollama`], [`claude_cli`]: the wire formats.
//! - [`sampling`]: what a caller asks beyond the conversation (token limit, stop, seed,
//!   JSON output, tool choice…), in each wire format, and what each provider lacks.

pub mod anthropic;
pub mod claude_cli;
mod error;
mod held;
pub mod local;
pub mod ollama;
pub mod openai;
mod retry;
mod route;
mod sampling;

use async_trait::async_trait;
use serde::Serialize;

use crate::conversation::{Message, ToolCall};
use crate::net::{HttpSettings, http_client, innermost_cause};
pub(crate) use error::ProviderError;
pub(crate) use retry::{Target, send as send_with_retries};
pub(crate) use route::{ModelRoute, build_provider, resolve_model};
pub(crate) use sampling::{ResponseFormat, Sampling, ToolChoice};

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The model as the provider knows it (the routing prefix removed).
    pub model: String,
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub temperature: Option<f32>,
    pub max_tokens: u32,
    /// The caller's further wishes, checked against the provider before the turn.
    pub sampling: Sampling,
    /// The tokens the agent keeps the conversation under: Ollama is told to take that
    /// many (its own default would cut the start of the prompt without a word).
    pub context_window: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// The model wants tools run.
    ToolUse,
    /// The answer hit the token limit.
    MaxTokens,
    Other,
}

/// What a provider reports while it streams.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    TextDelta(String),
    ToolCall(ToolCall),
    Usage(Usage),
    Done(StopReason),
}

/// A whole answer, assembled from the stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub stop_reason: Option<StopReason>,
}

impl Completion {
    /// Records an event, and hands it on to the caller's sink.
    fn apply(&mut self, event: Event, sink: &mut (dyn FnMut(Event) + Send)) {
        match &event {
            Event::TextDelta(text) => self.text.push_str(text),
            Event::ToolCall(call) => self.tool_calls.push(call.clone()),
            Event::Usage(usage) => {
                self.usage.input_tokens = self.usage.input_tokens.max(usage.input_tokens);
                self.usage.output_tokens = self.usage.output_tokens.max(usage.output_tokens);
            }
            Event::Done(reason) => self.stop_reason = Some(*reason),
        }
        sink(event);
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name as used in messages ("OpenAI", "Ollama at http://…").
    fn name(&self) -> &str;

    /// Sends the conversation and streams the answer: every event goes to `sink` as it
    /// arrives, and the whole answer comes back at the end. A stream cut part-way is an
    /// error that carries the text received so far.
    async fn stream(
        &self,
        request: &ChatRequest,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Completion, ProviderError>;

    /// Whether the provider has this model, where it can say so cheaply (Ollama lists
    /// what is pulled); `None` when only a request would tell.
    async fn has_model(&self, _model: &str) -> Option<bool> {
        None
    }

    /// What the provider says of a model it serves (Ollama's `/api/show`), learnt once
    /// per process; unknown fields stay `None`.
    async fn model_info(&self, _model: &str) -> ModelInfo {
        ModelInfo::default()
    }
}

/// What a provider can tell about one of its models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelInfo {
    /// The tokens the model was trained to take.
    pub context_length: Option<u64>,
    /// Whether it can call tools.
    pub tools: Option<bool>,
    /// Whether it takes pictures.
    pub vision: Option<bool>,
}

/// The endpoint, key and client an HTTP provider sends to.
pub(crate) struct Endpoint {
    /// How messages name the provider ("OpenAI", "`lmstudio`").
    label: String,
    url: String,
    key: Option<String>,
    client: reqwest::Client,
    settings: HttpSettings,
}

impl Endpoint {
    fn new(
        label: String,
        url: String,
        key: Option<String>,
        settings: &HttpSettings,
    ) -> Result<Endpoint, ProviderError> {
        Ok(Endpoint {
            label,
            url,
            key,
            client: http_client(settings)?,
            settings: settings.clone(),
        })
    }
}

/// Tools as OpenAI-style function declarations (OpenAI and Ollama both take these).
fn function_tools(tools: &[ToolSpec]) -> serde_json::Value {
    tools
        .iter()
        .map(|tool| {
            serde_json::json!({"type": "function", "function": {
                "name": tool.name, "description": tool.description, "parameters": tool.parameters,
            }})
        })
        .collect()
}

/// How messages name a provider: "OpenAI" for the built-in one, "`lmstudio`" for an
/// endpoint the user named.
fn display_label(name: &str, builtin_name: &str, builtin_label: &str) -> String {
    if name == builtin_name {
        builtin_label.to_string()
    } else {
        format!("`{name}`")
    }
}

/// Ids for tool calls from providers that give none (Ollama).
fn generated_call_id(index: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("call_{nanos:08x}_{index}")
}

/// Parses tool-call arguments; text that is not JSON is kept as a string so the tool can
/// report the problem to the model instead of the turn failing.
fn parse_arguments(text: &str) -> serde_json::Value {
    if text.trim().is_empty() {
        return serde_json::Value::Object(serde_json::Map::new());
    }
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

/// A failure while reading a stream: a silence longer than the idle timeout, or the
/// connection breaking. Text received so far travels with the error.
fn stream_failure(
    provider: &str,
    err: &reqwest::Error,
    partial: &str,
    settings: &HttpSettings,
) -> ProviderError {
    if err.is_timeout() && partial.is_empty() {
        return ProviderError::Timeout {
            provider: provider.to_string(),
            seconds: settings.idle_timeout.as_secs(),
        };
    }
    let detail = if err.is_timeout() {
        format!("nothing arrived for {} s", settings.idle_timeout.as_secs())
    } else {
        innermost_cause(err)
    };
    ProviderError::StreamCut {
        provider: provider.to_string(),
        detail,
        partial: partial.to_string(),
    }
}

/// The same for a server-sent-event stream, which can also fail to parse.
fn sse_failure(
    provider: &str,
    err: eventsource_stream::EventStreamError<reqwest::Error>,
    partial: &str,
    settings: &HttpSettings,
) -> ProviderError {
    match err {
        eventsource_stream::EventStreamError::Transport(err) => {
            stream_failure(provider, &err, partial, settings)
        }
        other => ProviderError::Protocol {
            provider: provider.to_string(),
            detail: other.to_string(),
        },
    }
}
