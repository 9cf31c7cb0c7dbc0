//! The OpenAI-compatible endpoint: `POST /v1/chat/completions` (streamed or not) and
//! `GET /v1/models[/{id}]`, so any OpenAI client or agent framework can talk to LocalGPT —
//! with the assistant's memory and tools beside the client's own (a call of the client's
//! ends the response; the client's results resume the turn). `model` may be `localgpt`
//! (the configured model) or any model LocalGPT can reach. The client sends the whole
//! conversation each time, so these turns are not saved as sessions. The request is read
//! in [`super::openai_request`]: every field is used or refused by name. The Responses API
//! is [`super::responses`]; embeddings [`super::embeddings`].

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::State;
use super::chat::{Turn, permit, provider_error};
use super::http::{
    ApiError, ApiResponse, cancel_when_closed, ok_json, parse_json, read_body, sse_response,
};
use super::openai_request::{CompletionRequest, conversation};
use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, LogObserver, Observer, TurnReport};
use crate::cancel::Cancel;
use crate::conversation::ToolCall;
use crate::session::Session;

/// The name that means "whatever LocalGPT is configured to use".
const DEFAULT_MODEL: &str = "localgpt";

/// A `/v1` handler's error in OpenAI's shape, which OpenAI's clients read.
pub fn v1(result: Result<ApiResponse, ApiError>) -> Result<ApiResponse, ApiError> {
    Ok(result.unwrap_or_else(ApiError::into_openai_response))
}

fn completion_id() -> String {
    random_id("chatcmpl")
}

/// `prefix-` and 24 random hex digits.
pub(crate) fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// The model a request names, as LocalGPT routes it; an unknown one is OpenAI's 404.
pub(super) async fn known_model(state: &State, requested: &str) -> Result<String, ApiError> {
    let model = if requested == DEFAULT_MODEL || requested.is_empty() {
        return Ok(state.env.model.clone());
    } else {
        requested.to_string()
    };
    if model == state.env.model || model_exists(state, &model).await {
        Ok(model)
    } else {
        Err(model_not_found(&model))
    }
}

/// Whether a model name leads anywhere: an installed built-in model, a model Ollama has
/// pulled (it is asked), or one of a hosted provider's (only a request would tell).
async fn model_exists(state: &State, model: &str) -> bool {
    let config = &state.env.config;
    let route = crate::provider::resolve_model(model, config);
    let http = crate::net::HttpSettings::from_config(config);
    let models_dir = crate::models::models_dir(&state.home);
    match crate::provider::build_provider(&route, config, &http, &models_dir) {
        Ok(provider) => provider.has_model(&route.model).await.unwrap_or(true),
        // A missing key is reported when the model is used; a built-in model that is not
        // installed does not exist here.
        Err(_) => route.kind != crate::config::ProviderKind::Local,
    }
}

pub fn model_not_found(model: &str) -> ApiError {
    ApiError::new(
        hyper::StatusCode::NOT_FOUND,
        "model_not_found",
        format!("The model `{model}` does not exist or you do not have access to it."),
    )
    .with_param("model")
}

pub async fn completions(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: CompletionRequest = parse_json(&bytes)?;
    body.refuse_unsupported()?;
    let sampling = body.sampling()?;
    let client_tools = body.client_tools()?;
    let conversation = conversation(&body.messages)?;
    let model = known_model(&state, &body.model).await?;
    super::chat::check_answerable(&state, &model).await?;
    let own_tools = body.localgpt.as_ref().is_none_or(|options| options.tools);
    let mut agent = Agent::new(&state.home, &state.env.config, &model, state.env.policy())
        .map_err(|err| provider_error(&err))?
        .for_person()
        .with_temperature(body.temperature)
        .with_instructions(conversation.instructions);
    if let Some(field) = sampling.unsupported_by(agent.route().kind) {
        return Err(ApiError::bad_request(format!(
            "`{field}` is not supported by {} models ({model})",
            agent.route().kind.name()
        ))
        .with_param(field));
    }
    let images: Vec<crate::conversation::Image> = conversation
        .history
        .iter()
        .flat_map(|message| match message {
            crate::conversation::Message::User { images, .. } => images.clone(),
            _ => Vec::new(),
        })
        .collect();
    if let Some(why) = agent.refuses_images(&images).await {
        return Err(ApiError::bad_request(format!("image parts: {why}")).with_param("messages"));
    }
    if !client_tools.is_empty() && !agent.takes_tools() {
        return Err(ApiError::bad_request(format!(
            "`tools`: {model} is not offered tools by LocalGPT"
        ))
        .with_param("tools"));
    }
    if !own_tools {
        agent = agent.without_tools();
    }
    let agent = agent
        .with_client_tools(client_tools)
        .with_sampling(sampling);
    let permit = permit(&state)?;
    let turn = Turn::new(
        agent,
        Session::ephemeral(conversation.history),
        None,
        conversation.user,
        permit,
    );
    let id = completion_id();
    let created = chrono::Utc::now().timestamp();
    let shown_model = body.model.clone();
    if !body.stream {
        let (_, _, outcome) = turn.run(LogObserver, Cancel::new()).await?;
        let report = outcome.map_err(|err| provider_error(&err.source))?;
        let mut message = json!({"role": "assistant", "content": report.text});
        if !report.client_calls.is_empty() {
            message["tool_calls"] = wire_calls(&report.client_calls, false);
        }
        return ok_json(&json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": shown_model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason(&report),
            }],
            "usage": usage(&report),
        }));
    }
    let include_usage = body
        .stream_options
        .as_ref()
        .is_some_and(|options| options.include_usage);
    let (sender, receiver) = mpsc::unbounded_channel();
    let response = sse_response(receiver);
    let chunks = Chunks {
        id,
        created,
        model: shown_model,
        sender: sender.clone(),
        include_usage,
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
                if !report.client_calls.is_empty() {
                    chunks.send(
                        json!({"tool_calls": wire_calls(&report.client_calls, true)}),
                        None,
                    );
                }
                chunks.send(json!({}), Some(finish_reason(&report)));
                if chunks.include_usage {
                    chunks.send_usage(&report);
                }
            }
            Err(err) => {
                let error = provider_error(&err.source);
                let body = json!({"error": {"message": error.message, "type": "api_error", "code": error.code}});
                let _ = chunks.sender.send(Bytes::from(format!("data: {body}\n\n")));
            }
        }
        let _ = chunks.sender.send(Bytes::from_static(b"data: [DONE]\n\n"));
    });
    Ok(response)
}

fn finish_reason(report: &TurnReport) -> &'static str {
    if !report.client_calls.is_empty() {
        "tool_calls"
    } else if report.hit_round_limit {
        "length"
    } else {
        "stop"
    }
}

fn usage(report: &TurnReport) -> Value {
    let (prompt, completion) = (report.usage.input_tokens, report.usage.output_tokens);
    json!({"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion})
}

/// Tool calls as OpenAI sends them: in a message, or (streamed) with their `index`.
fn wire_calls(calls: &[ToolCall], streamed: bool) -> Value {
    calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let mut wire = json!({"id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": call.arguments.to_string()}});
            if streamed {
                wire["index"] = json!(index);
            }
            wire
        })
        .collect()
}

/// `chat.completion.chunk` events, as OpenAI streams them.
struct Chunks {
    id: String,
    created: i64,
    model: String,
    sender: mpsc::UnboundedSender<Bytes>,
    include_usage: bool,
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

    /// The last chunk `stream_options.include_usage` asks for: no choices, the usage.
    fn send_usage(&self, report: &TurnReport) {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage(report),
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

/// `GET /v1/models/{id}`: the model, if LocalGPT can reach it.
pub async fn model(state: &Arc<State>, id: &str) -> Result<ApiResponse, ApiError> {
    known_model(state, id).await?;
    let created = chrono::Utc::now().timestamp();
    ok_json(&json!({"id": id, "object": "model", "created": created, "owned_by": "localgpt"}))
}
