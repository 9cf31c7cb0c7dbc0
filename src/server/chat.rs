//! `POST /api/chat` and `POST /api/chat/stream`: a turn of the one agent loop, in a new
//! session or one named by `session_id`, saved like every conversation. The stream sends
//! Server-Sent Events as the turn happens — `delta` for each piece of text the provider
//! sends, `tool_call`, `tool_result`, then `done` or `error`. API turns use the daemon's
//! policy: nobody can approve, so shell commands need `heartbeat.allow_bash` — unless the
//! client says a person is there to answer (`"approvals": true`, as the web page does):
//! then the turn follows `tools.approval` as at the prompt, each question goes down the
//! stream as an `approval` event, and the answer comes back on
//! `POST /api/chat/approvals/{id}`.
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
use super::http::{
    ApiError, ApiResponse, cancel_when_closed, ok_json, parse_json, read_body, sse, sse_error,
    sse_response,
};
use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, LogObserver, Observer, TurnError, TurnReport};
use crate::cancel::Cancel;
use crate::conversation::ToolCall;
use crate::provider::ProviderError;
use crate::session::{Loaded, Session, Sessions};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatBody {
    message: String,
    session_id: Option<String>,
    model: Option<String>,
    /// A person is there to answer approval questions (streams only).
    #[serde(default)]
    approvals: bool,
}

/// Marks a session busy for as long as a turn runs in it.
pub struct Busy {
    state: Arc<State>,
    id: String,
}

impl Busy {
    /// The session's id.
    pub fn id(&self) -> &str {
        &self.id
    }
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
    /// The user's new message; `None` goes on from the conversation as it stands (an
    /// OpenAI client's tool results).
    pub message: Option<String>,
    _permit: OwnedSemaphorePermit,
    _busy: Option<Busy>,
}

impl Turn {
    /// A turn in `session`: a saved one marked `busy` (see [`open_session`]), or, with
    /// no mark, one that is not saved (the OpenAI endpoint's: the client keeps the history).
    pub fn new(
        agent: Agent,
        session: Session,
        busy: Option<Busy>,
        message: Option<String>,
        permit: OwnedSemaphorePermit,
    ) -> Turn {
        Turn {
            agent,
            session,
            session_id: busy
                .as_ref()
                .map(|busy| busy.id.clone())
                .unwrap_or_default(),
            message,
            _permit: permit,
            _busy: busy,
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
            let outcome = match turn.message.clone() {
                Some(message) => {
                    turn.agent
                        .turn(&mut turn.session, &message, &mut observer, &cancel)
                        .await
                }
                None => {
                    turn.agent
                        .resume(&mut turn.session, &mut observer, &cancel)
                        .await
                }
            };
            if let Some(busy) = &turn._busy {
                super::quiet::after_turn(&busy.state, &busy.id).await;
            }
            (turn, observer, outcome)
        })
        .await
        .map_err(|err| ApiError::internal(format!("the turn stopped unexpectedly: {err}")))
    }
}

/// Cancels the signal when dropped.
pub(crate) struct CancelOnDrop(pub Cancel);

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

/// Refuses a turn no model can answer: LocalGPT chose the model itself (no key set), it
/// is Ollama's and Ollama does not answer, and the built-in model is not installed. Nobody
/// is at a terminal to be offered it, so the error names the one command.
/// It may try to connect to Ollama, so it runs off the async workers.
pub(crate) async fn check_answerable(state: &Arc<State>, model: &str) -> Result<(), ApiError> {
    let (state, model) = (state.clone(), model.to_string());
    super::api::blocking(move || {
        crate::offer::answerable_model(&state.home, &state.settings, &model, false)
            .map(|_| ())
            .map_err(|err| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_model", err.to_string())
            })
    })
    .await
}

/// A permit for one more concurrent turn, or 429.
pub(crate) fn permit(state: &State) -> Result<OwnedSemaphorePermit, ApiError> {
    state.turns.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_turns",
            "as many chat turns as server.max_concurrent_turns are running; try again shortly",
        )
    })
}

async fn prepare(
    state: &Arc<State>,
    request: Request<Incoming>,
    streaming: bool,
) -> Result<(Turn, bool), ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: ChatBody = parse_json(&bytes)?;
    if body.message.trim().is_empty() {
        return Err(ApiError::invalid("`message` is empty"));
    }
    if body.approvals && !streaming {
        return Err(ApiError::invalid(
            "`approvals` needs the stream (POST /api/chat/stream), where the questions go",
        ));
    }
    let permit = permit(state)?;
    let model = body.model.unwrap_or_else(|| state.env.model.clone());
    check_answerable(state, &model).await?;
    let home = &state.home;
    // With a person to answer, the policy is the prompt's: `tools.approval` decides.
    let policy = if body.approvals {
        crate::policy::Policy::new(home, &home.workspace(), &state.env.config.tools)
    } else {
        state.env.policy()
    };
    let agent = Agent::new(home, &state.env.config, &model, policy)
        .map_err(|err| provider_error(&err))?
        .for_person();
    let (session, busy, _) = open_session(state, body.session_id.as_deref(), &model, "api")?;
    let always = state
        .always
        .lock()
        .ok()
        .and_then(|always| always.get(&busy.id).cloned())
        .unwrap_or_default();
    Ok((
        Turn::new(
            agent.with_always_allowed(always),
            session,
            Some(busy),
            Some(body.message),
            permit,
        ),
        body.approvals,
    ))
}

/// A saved session to run a turn in, marked busy (one turn at a time): the one `id`
/// names (with what its file held), or a new one started by `source`.
pub(crate) fn open_session(
    state: &Arc<State>,
    id: Option<&str>,
    model: &str,
    source: &str,
) -> Result<(Session, Busy, Option<Loaded>), ApiError> {
    let home = &state.home;
    match id {
        Some(id) => {
            let entry = Sessions::new(home).find(id).map_err(|err| match err {
                crate::session::SessionError::Io { .. } => ApiError::internal(err.to_string()),
                _ => ApiError::not_found(err.to_string()),
            })?;
            // Marked busy before it is read, so two requests never continue it at once.
            let busy = Busy::mark(state, &entry.id)?;
            let (session, loaded) = Session::resume(&entry, model)
                .map_err(|err| ApiError::internal(format!("cannot read session {id}: {err}")))?;
            Ok((session, busy, Some(loaded)))
        }
        None => {
            let session = Session::start(home, model, source);
            let id = session
                .id()
                .ok_or_else(|| ApiError::internal("cannot start a session: see the log"))?
                .to_string();
            let busy = Busy::mark(state, &id)?;
            Ok((session, busy, None))
        }
    }
}

impl Busy {
    pub(super) fn mark(state: &Arc<State>, id: &str) -> Result<Busy, ApiError> {
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
    let (turn, _) = prepare(&state, request, false).await?;
    let (turn, _, outcome) = turn.run(LogObserver, Cancel::new()).await?;
    let report = outcome.map_err(|err| provider_error(&err.source))?;
    ok_json(&json!({
        "session_id": turn.session_id,
        "reply": report.text,
        "tool_calls": tool_calls(&report),
        "usage": report.usage,
        "recalled": report.recalled,
    }))
}

/// Sends the turn's events down the stream as they happen; with a person there, asks
/// them the approval questions.
struct Events {
    sender: mpsc::UnboundedSender<Bytes>,
    /// Where answers arrive, when a person is there to give them.
    asks: Option<Arc<State>>,
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
    fn notice(&mut self, text: &str) {
        let _ = self
            .sender
            .send(sse(Some("notice"), &json!({"text": text})));
    }
    fn recalled(&mut self, notes: &[crate::memory::recall::Recalled]) {
        let _ = self
            .sender
            .send(sse(Some("recalled"), &json!({"notes": notes})));
    }
    async fn approve(&mut self, request: &str) -> Option<Approval> {
        let state = self.asks.as_ref()?;
        let id = super::openai::random_id("approval");
        let (answer, answered) = tokio::sync::oneshot::channel();
        state.approvals.lock().ok()?.insert(id.clone(), answer);
        let _ = self.sender.send(sse(
            Some("approval"),
            &json!({"id": id, "request": request}),
        ));
        // Cancelled (the stream closed, the stop button): the turn drops this wait.
        let answer = answered.await.ok();
        if let Ok(mut approvals) = state.approvals.lock() {
            approvals.remove(&id);
        }
        answer
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalBody {
    answer: String,
}

/// `POST /api/chat/approvals/{id}`: a person's answer to a question a stream asked.
pub async fn answer(
    state: Arc<State>,
    id: &str,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: ApprovalBody = parse_json(&bytes)?;
    let approval = match body.answer.as_str() {
        "yes" => Approval::Yes,
        "no" => Approval::No,
        "always" => Approval::Always,
        other => {
            return Err(ApiError::invalid(format!(
                "`answer` is yes, no or always, not `{other}`"
            )));
        }
    };
    let waiting = state
        .approvals
        .lock()
        .map_err(|_| ApiError::internal("the approval table is unavailable"))?
        .remove(id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no question {id} is waiting (answered already, or its turn ended)"
            ))
        })?;
    let _ = waiting.send(approval);
    ok_json(&json!({"answered": id}))
}

pub async fn stream(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let (turn, approvals) = prepare(&state, request, true).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut response = sse_response(receiver);
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&turn.session_id) {
        headers.insert("x-session-id", id);
    }
    let cancel = Cancel::new();
    // The client went away: the turn stops and closes its round; the transcript keeps
    // what happened.
    let watcher = cancel_when_closed(&sender, &cancel);
    let events = Events {
        sender: sender.clone(),
        asks: approvals.then(|| state.clone()),
    };
    let state = state.clone();
    tokio::spawn(async move {
        let outcome = turn.run(events, cancel).await;
        watcher.abort();
        if let Ok((turn, _, _)) = &outcome
            && let Ok(mut always) = state.always.lock()
        {
            always.insert(turn.session_id.clone(), turn.agent.always_allowed().clone());
        }
        let last = match outcome {
            Ok((turn, _, Ok(report))) if !report.interrupted => sse(
                Some("done"),
                &json!({"session_id": turn.session_id, "reply": report.text,
                "tool_calls": report.tool_calls.len(), "usage": report.usage,
                "context": {
                    "tokens": crate::agent::context::estimate_messages(turn.session.messages()),
                    "window": turn.agent.context_window(),
                }}),
            ),
            Ok((_, _, Ok(_))) => return,
            Ok((_, _, Err(err))) => sse_error(&provider_error(&err.source)),
            Err(error) => sse_error(&error),
        };
        let _ = sender.send(last);
    });
    Ok(response)
}
