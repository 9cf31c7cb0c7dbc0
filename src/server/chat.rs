//! `POST /api/chat` and `POST /api/chat/stream`: a turn of the one agent loop, in a new
//! session or one named by `session_id`, saved like every conversation. The stream sends
//! Server-Sent Events as the turn happens — `delta` for each piece of text the provider
//! sends, `tool_call`, `tool_result`, then `done` or `error`. API turns use the daemon's
//! policy: nobody can approve, so shell commands need `heartbeat.allow_bash`.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::State;
use super::http::{ApiError, ApiResponse, ok_json, parse_json, read_body, sse, sse_response};
use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, LogObserver, Observer, TurnReport};
use crate::provider::{Message, ProviderError, ToolCall};
use crate::session::{Sessions, Transcript, load};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatBody {
    message: String,
    session_id: Option<String>,
    model: Option<String>,
}

/// Marks a session busy for as long as a turn runs in it.
pub struct Busy {
    state: Arc<State>,
    id: String,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.state.busy.lock() {
            busy.remove(&self.id);
        }
    }
}

/// A turn ready to run.
pub struct Turn {
    pub agent: Agent,
    pub conversation: Vec<Message>,
    pub transcript: Option<Transcript>,
    pub session_id: String,
    pub message: String,
    _permit: OwnedSemaphorePermit,
    _busy: Busy,
}

/// The provider error as the API reports it.
pub fn provider_error(err: &ProviderError) -> ApiError {
    match err {
        ProviderError::MissingKey { .. } | ProviderError::Setup(_) => {
            ApiError::invalid(err.to_string())
        }
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", err.to_string()),
    }
}

/// A permit for one more concurrent turn, or 429.
pub fn permit(state: &State) -> Result<OwnedSemaphorePermit, ApiError> {
    state.turns.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_turns",
            "as many chat turns as server.max_concurrent_turns are running; try again shortly",
        )
    })
}

async fn prepare(state: &Arc<State>, request: Request<Incoming>) -> Result<Turn, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: ChatBody = parse_json(&bytes)?;
    if body.message.trim().is_empty() {
        return Err(ApiError::invalid("`message` is empty"));
    }
    let permit = permit(state)?;
    let model = body.model.unwrap_or_else(|| state.env.model.clone());
    let home = &state.home;
    let (conversation, transcript, session_id) = match &body.session_id {
        Some(id) => {
            let entry = Sessions::new(home).find(id).map_err(|err| match err {
                crate::session::SessionError::Io { .. } => ApiError::internal(err.to_string()),
                _ => ApiError::not_found(err.to_string()),
            })?;
            let loaded = load(&entry.path)
                .map_err(|err| ApiError::internal(format!("cannot read session {id}: {err}")))?;
            let transcript = Transcript::resume(&entry, &model).ok();
            (loaded.messages, transcript, entry.id)
        }
        None => {
            let transcript = Transcript::start(home, &model, "api", chrono::Local::now())
                .map_err(|err| ApiError::internal(format!("cannot start a session: {err}")))?;
            let id = transcript.id.clone();
            (Vec::new(), Some(transcript), id)
        }
    };
    {
        let mut busy = state
            .busy
            .lock()
            .map_err(|_| ApiError::internal("the session table is unavailable"))?;
        if !busy.insert(session_id.clone()) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "session_busy",
                format!(
                    "session {session_id} is answering another message; try again when it is done"
                ),
            ));
        }
    }
    let busy = Busy {
        state: state.clone(),
        id: session_id.clone(),
    };
    let agent = Agent::new(home, &state.env.config, &model, state.env.policy(), true)
        .map_err(|err| provider_error(&err))?;
    Ok(Turn {
        agent,
        conversation,
        transcript,
        session_id,
        message: body.message,
        _permit: permit,
        _busy: busy,
    })
}

pub fn tool_calls(report: &TurnReport) -> Vec<Value> {
    report
        .tool_calls
        .iter()
        .map(|(call, output)| {
            json!({"id": call.id, "name": call.name, "arguments": call.arguments,
                   "output": output.content, "is_error": output.is_error})
        })
        .collect()
}

pub async fn chat(state: Arc<State>, request: Request<Incoming>) -> Result<ApiResponse, ApiError> {
    let mut turn = prepare(&state, request).await?;
    let report = turn
        .agent
        .turn(
            &mut turn.conversation,
            &turn.message,
            turn.transcript.as_ref(),
            &mut LogObserver,
        )
        .await
        .map_err(|err| provider_error(&err.source))?;
    ok_json(&json!({
        "session_id": turn.session_id,
        "reply": report.text,
        "tool_calls": tool_calls(&report),
        "usage": report.usage,
    }))
}

/// Sends the turn's events down the stream as they happen.
struct Events {
    sender: mpsc::UnboundedSender<Bytes>,
}

#[async_trait]
impl Observer for Events {
    fn text(&mut self, delta: &str) {
        let _ = self
            .sender
            .send(sse(Some("delta"), &json!({"text": delta})));
    }
    fn tool_call(&mut self, call: &ToolCall) {
        let event = json!({"id": call.id, "name": call.name, "arguments": call.arguments});
        let _ = self.sender.send(sse(Some("tool_call"), &event));
    }
    fn tool_result(&mut self, call: &ToolCall, output: &ToolOutput) {
        let event = json!({"id": call.id, "name": call.name, "output": output.content,
                           "is_error": output.is_error});
        let _ = self.sender.send(sse(Some("tool_result"), &event));
    }
    async fn approve(&mut self, _request: &str) -> Option<Approval> {
        None
    }
}

pub async fn stream(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let turn = prepare(&state, request).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut response = sse_response(receiver);
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&turn.session_id) {
        headers.insert("x-session-id", id);
    }
    tokio::spawn(async move {
        // The whole turn moves here (not just the fields used), so that its permit and
        // busy mark last as long as the turn does.
        let mut turn = turn;
        let mut events = Events {
            sender: sender.clone(),
        };
        let outcome = tokio::select! {
            outcome = turn.agent.turn(
                &mut turn.conversation,
                &turn.message,
                turn.transcript.as_ref(),
                &mut events,
            ) => Some(outcome),
            // The client went away: stop the turn; the transcript keeps what happened.
            () = sender.closed() => None,
        };
        let last = match outcome {
            Some(Ok(report)) => sse(
                Some("done"),
                &json!({"session_id": turn.session_id, "reply": report.text,
                        "tool_calls": report.tool_calls.len(), "usage": report.usage}),
            ),
            Some(Err(err)) => {
                let error = provider_error(&err.source);
                sse(
                    Some("error"),
                    &json!({"code": error.code, "message": error.message}),
                )
            }
            None => return,
        };
        let _ = sender.send(last);
    });
    Ok(response)
}
