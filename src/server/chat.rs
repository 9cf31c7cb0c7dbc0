//! `POST /api/chat` and `POST /api/chat/stream`: a turn of the one agent loop, in a new
//! session or one named by `session_id`, saved like every conversation. The stream sends
//! Server-Sent Events as the turn happens — `delta` for each piece of text the provider
//! sends, `tool_call`, `tool_result`, then `done` or `error`. API turns use the daemon's
//! policy: nobody can approve, so shell commands need `heartbeat.allow_bash`.
//!
//! A turn runs on a task of its own: a client that goes away (a closed stream, a dropped
//! request) cancels it, and the agent loop closes the round itself, so the session stays
//! one the provider accepts when it is continued.

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
use crate::agent::{Agent, Approval, LogObserver, Observer, TurnError, TurnReport};
use crate::cancel::Cancel;
use crate::conversation::ToolCall;
use crate::provider::ProviderError;
use crate::session::{Session, Sessions};

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
    pub session: Session,
    pub session_id: String,
    pub message: String,
    _permit: OwnedSemaphorePermit,
    _busy: Option<Busy>,
}

impl Turn {
    /// A turn that is not saved (the OpenAI endpoint's: the client keeps the history).
    pub fn ephemeral(
        agent: Agent,
        session: Session,
        message: String,
        permit: OwnedSemaphorePermit,
    ) -> Turn {
        Turn {
            agent,
            session,
            session_id: String::new(),
            message,
            _permit: permit,
            _busy: None,
        }
    }

    /// Runs the turn on a task of its own. Dropping the returned future (the client went
    /// away) cancels the turn, which then ends its round cleanly; `cancel` can also be set
    /// from outside (a closed stream).
    pub async fn run<O: Observer + 'static>(
        self,
        observer: O,
        cancel: Cancel,
    ) -> Result<(Turn, O, Result<TurnReport, TurnError>), ApiError> {
        let _cancel_when_dropped = CancelOnDrop(cancel.clone());
        let mut turn = self;
        let mut observer = observer;
        tokio::spawn(async move {
            let outcome = turn
                .agent
                .turn(&mut turn.session, &turn.message, &mut observer, &cancel)
                .await;
            (turn, observer, outcome)
        })
        .await
        .map_err(|err| ApiError::internal(format!("the turn stopped unexpectedly: {err}")))
    }
}

/// Cancels the signal when dropped.
pub struct CancelOnDrop(pub Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
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
    let agent = Agent::new(home, &state.env.config, &model, state.env.policy())
        .map_err(|err| provider_error(&err))?;
    let (session, busy) = match &body.session_id {
        Some(id) => {
            let entry = Sessions::new(home).find(id).map_err(|err| match err {
                crate::session::SessionError::Io { .. } => ApiError::internal(err.to_string()),
                _ => ApiError::not_found(err.to_string()),
            })?;
            // Marked busy before it is read, so two requests never continue it at once.
            let busy = Busy::mark(state, &entry.id)?;
            let (session, _) = Session::resume(&entry, &model)
                .map_err(|err| ApiError::internal(format!("cannot read session {id}: {err}")))?;
            (session, busy)
        }
        None => {
            let session = Session::start(home, &model, "api");
            let id = session
                .id()
                .ok_or_else(|| ApiError::internal("cannot start a session: see the log"))?
                .to_string();
            let busy = Busy::mark(state, &id)?;
            (session, busy)
        }
    };
    Ok(Turn {
        agent,
        session_id: busy.id.clone(),
        session,
        message: body.message,
        _permit: permit,
        _busy: Some(busy),
    })
}

impl Busy {
    fn mark(state: &Arc<State>, id: &str) -> Result<Busy, ApiError> {
        let mut busy = state
            .busy
            .lock()
            .map_err(|_| ApiError::internal("the session table is unavailable"))?;
        if !busy.insert(id.to_string()) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "session_busy",
                format!("session {id} is answering another message; try again when it is done"),
            ));
        }
        Ok(Busy {
            state: state.clone(),
            id: id.to_string(),
        })
    }
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
    let turn = prepare(&state, request).await?;
    let (turn, _, outcome) = turn.run(LogObserver, Cancel::new()).await?;
    let report = outcome.map_err(|err| provider_error(&err.source))?;
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
    let cancel = Cancel::new();
    let closed = (sender.clone(), cancel.clone());
    let watcher = tokio::spawn(async move {
        // The client went away: the turn stops and closes its round; the transcript
        // keeps what happened.
        closed.0.closed().await;
        closed.1.cancel();
    });
    let events = Events {
        sender: sender.clone(),
    };
    tokio::spawn(async move {
        let outcome = turn.run(events, cancel).await;
        watcher.abort();
        let last = match outcome {
            Ok((turn, _, Ok(report))) if !report.interrupted => sse(
                Some("done"),
                &json!({"session_id": turn.session_id, "reply": report.text,
                        "tool_calls": report.tool_calls.len(), "usage": report.usage}),
            ),
            Ok((_, _, Ok(_))) => return,
            Ok((_, _, Err(err))) => {
                let error = provider_error(&err.source);
                sse(
                    Some("error"),
                    &json!({"code": error.code, "message": error.message}),
                )
            }
            Err(error) => sse(
                Some("error"),
                &json!({"code": error.code, "message": error.message}),
            ),
        };
        let _ = sender.send(last);
    });
    Ok(response)
}
