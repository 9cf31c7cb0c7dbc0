//! Skills over the API: `GET /api/skills` (kind, origin, availability and why not),
//! `POST /api/skills/{name}/run` (the whole output when it ends) and
//! `POST /api/skills/{name}/stream` (Server-Sent Events as it goes: `output` lines of a Rhai
//! skill, `delta`s of a prompt skill's answer, then `done` or `error`) — all through the
//! one entry point, `Skills::invoke`, as an API caller.

use std::sync::Arc;

use hyper::Request;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::State;
use super::api::{blocking, run_context};
use super::chat::{Turn, permit, provider_error};
use super::http::{
    ApiError, ApiResponse, cancel_when_closed, ok_json, parse_json, read_body, sse, sse_error,
    sse_response,
};
use crate::agent::{Agent, LogObserver, Observer};
use crate::cancel::Cancel;
use crate::script::OutputSink;
use crate::session::Session;
use crate::skills::{Args, Caller, Invocation, SkillError, Skills, invoke};

pub fn skills(state: &Arc<State>) -> Result<ApiResponse, ApiError> {
    let skills = Skills::discover(&state.home, &state.env.config).with_syntax_checked();
    let list: Vec<Value> = skills
        .all()
        .iter()
        .map(|skill| {
            json!({"name": skill.name, "kind": skill.kind.label(), "origin": skill.origin.label(),
                   "description": skill.description, "usage": skill.usage,
                   "user_invocable": skill.user_invocable, "model_invocable": skill.model_invocable,
                   "problem": skill.problem.as_ref().or(skill.unavailable.as_ref())})
        })
        .collect();
    ok_json(&json!({"skills": list}))
}

/// A skill's arguments as a client sends them: one text, as typed, or a list of words.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SkillArgs {
    Text(String),
    List(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkillBody {
    args: Option<SkillArgs>,
}

/// What running `name` with the request's arguments means, as an API caller.
async fn invocation(
    state: &State,
    name: &str,
    request: Request<Incoming>,
) -> Result<Invocation, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: SkillBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        SkillBody::default()
    } else {
        parse_json(&bytes)?
    };
    let args = match body.args {
        Some(SkillArgs::Text(text)) => Args::Typed(text),
        Some(SkillArgs::List(list)) => Args::Words(list),
        None => Args::none(),
    };
    Skills::discover(&state.home, &state.env.config)
        .invoke(name, &args, Caller::Api)
        .map_err(|err| match err {
            SkillError::NotFound { .. } => ApiError::not_found(err.to_string()),
            _ => ApiError::invalid(err.to_string()),
        })
}

pub async fn run_skill(
    state: Arc<State>,
    name: &str,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let invocation = invocation(&state, name, request).await?;
    let (skill, args) = match invocation {
        Invocation::Prompt { skill, message } => {
            let turn = prompt_turn(&state, message)?;
            let (_, _, outcome) = turn.run(LogObserver, Cancel::new()).await?;
            let report = outcome.map_err(|err| provider_error(&err.source))?;
            return ok_json(&json!({"skill": skill.name, "output": report.text, "error": null}));
        }
        Invocation::Rhai { skill, args } => (skill, args),
    };
    let workspace = state.home.workspace();
    let captured = crate::script::Captured::new();
    let output = captured.sink(None);
    let (run, _stop_if_dropped) = run_context(&state, workspace, output);
    let outcome = blocking(move || Ok(invoke::run_rhai(&skill, run, args))).await?;
    let output = captured.text();
    let error = invoke::failure(&outcome);
    ok_json(&json!({"skill": name, "output": output, "error": error}))
}

/// A prompt skill's message as a one-off turn, counted against the server's concurrent
/// turns. Nobody is there to approve, so the agent has the daemon's policy.
fn prompt_turn(state: &State, message: String) -> Result<Turn, ApiError> {
    let permit = permit(state)?;
    let agent = Agent::new(
        &state.home,
        &state.env.config,
        &state.env.model,
        state.env.policy(),
    )
    .map_err(|err| provider_error(&err))?;
    Ok(Turn::new(
        agent,
        Session::ephemeral(Vec::new()),
        None,
        Some(message),
        permit,
    ))
}

/// Sends a prompt skill's answer down the stream as it comes.
struct Deltas(mpsc::UnboundedSender<bytes::Bytes>);

#[async_trait::async_trait]
impl Observer for Deltas {
    fn text(&mut self, delta: &str) {
        let _ = self.0.send(sse(Some("delta"), &json!({"text": delta})));
    }
    fn tool_call(&mut self, _call: &crate::conversation::ToolCall) {}
    fn tool_result(
        &mut self,
        _call: &crate::conversation::ToolCall,
        _output: &crate::agent::tools::ToolOutput,
    ) {
    }
    async fn approve(&mut self, _request: &str) -> Option<crate::agent::Approval> {
        None
    }
}

pub(crate) async fn stream_skill(
    state: Arc<State>,
    name: &str,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let invocation = invocation(&state, name, request).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    let response = sse_response(receiver);
    let name = name.to_string();
    match invocation {
        Invocation::Prompt { message, .. } => {
            let turn = prompt_turn(&state, message)?;
            let cancel = Cancel::new();
            let watcher = cancel_when_closed(&sender, &cancel);
            tokio::spawn(async move {
                let last = match turn.run(Deltas(sender.clone()), cancel).await {
                    Ok((_, _, Ok(_))) => sse(Some("done"), &json!({"skill": name, "error": null})),
                    Ok((_, _, Err(err))) => sse_error(&provider_error(&err.source)),
                    Err(error) => sse_error(&error),
                };
                watcher.abort();
                let _ = sender.send(last);
            });
        }
        Invocation::Rhai { skill, args } => {
            let lines = sender.clone();
            let output: OutputSink = Arc::new(move |text: &str| {
                let _ = lines.send(sse(Some("output"), &json!({"text": text})));
            });
            let workspace = state.home.workspace();
            let (run, stop_if_dropped) = run_context(&state, workspace, output);
            let closed = sender.clone();
            tokio::spawn(async move {
                // The page went away: the script is stopped.
                closed.closed().await;
                drop(stop_if_dropped);
            });
            tokio::spawn(async move {
                let outcome = blocking(move || Ok(invoke::run_rhai(&skill, run, args))).await;
                let error = match outcome {
                    Ok(outcome) => invoke::failure(&outcome),
                    Err(err) => Some(err.message),
                };
                let _ = sender.send(sse(Some("done"), &json!({"skill": name, "error": error})));
            });
        }
    }
    Ok(response)
}
