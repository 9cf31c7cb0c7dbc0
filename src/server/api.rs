//! The native routes besides chat: health and status, sessions, memory, skills, scripts,
//! the heartbeat, and the OpenAPI description. Blocking work (SQLite, scripts) runs on
//! the blocking pool, never on the threads that serve connections.

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use hyper::Request;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

use super::State;
use super::chat::CancelOnDrop;
use super::http::{ApiError, ApiResponse, ok_json, parse_json, query_pairs, read_body};
use crate::cancel::Cancel;
use crate::heartbeat::history::{HEARTBEAT_TASK, History};
use crate::heartbeat::tasks;
use crate::memory::semantic::Mode;
use crate::memory::{Freshness, Memory, MemoryError};
use crate::script::{Outcome, OutputSink, RunContext, Script, ScriptHost};
use crate::session::{SessionError, Sessions, load};

/// The OpenAPI 3.1 description of every route (kept true by a test against the table).
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

pub fn health() -> Result<ApiResponse, ApiError> {
    ok_json(&json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

pub fn openapi() -> Result<ApiResponse, ApiError> {
    let spec: Value =
        serde_json::from_str(OPENAPI).map_err(|err| ApiError::internal(err.to_string()))?;
    ok_json(&spec)
}

/// Runs `work` on the blocking pool, turning a panic into a 500.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| {
        let what = match err.try_into_panic() {
            Ok(panic) => crate::report::panic_message(panic.as_ref()),
            Err(err) => err.to_string(),
        };
        tracing::info!("a request failed with an internal error: {what}");
        ApiError::internal(format!(
            "internal error (a bug in LocalGPT; the log has details): {what}"
        ))
    })?
}

type Slot = Mutex<Option<(NaiveDate, Memory)>>;

/// Runs `work` with one of the server's memory connections, opening it on first use (and
/// again on a new day, whose daily log it must watch).
pub(super) async fn with_memory<T: Send + 'static>(
    state: Arc<State>,
    work: impl FnOnce(&mut Memory) -> Result<T, MemoryError> + Send + 'static,
) -> Result<T, ApiError> {
    blocking(move || {
        let slots: &[Slot] = &state.memory_slots;
        // Start at a different slot each time, so waiting requests spread over all of them.
        let start = state
            .next_slot
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let count = slots.len().max(1);
        let mut guard = (0..count)
            .find_map(|i| slots.get((start + i) % count)?.try_lock().ok())
            .or_else(|| slots.get(start % count).and_then(|slot| slot.lock().ok()))
            .ok_or_else(|| ApiError::internal("the memory index is unavailable"))?;
        let today = crate::memory::today();
        if guard.as_ref().is_none_or(|(day, _)| *day != today) {
            let memory = Memory::open(&state.home, &state.env.config.memory, today)
                .map_err(|err| ApiError::internal(err.to_string()))?;
            *guard = Some((today, memory));
        }
        let (_, memory) = guard
            .as_mut()
            .ok_or_else(|| ApiError::internal("the memory index is unavailable"))?;
        work(memory).map_err(|err| match err {
            MemoryError::NotMemory(_) | MemoryError::Pattern { .. } => {
                ApiError::invalid(err.to_string())
            }
            other => ApiError::internal(other.to_string()),
        })
    })
    .await
}

pub async fn status(state: &Arc<State>) -> Result<ApiResponse, ApiError> {
    let memory = with_memory(state.clone(), |memory| memory.stats())
        .await
        .ok();
    let sessions = Sessions::new(&state.home)
        .entries()
        .map(|e| e.len())
        .unwrap_or(0);
    ok_json(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "model": state.env.model,
        "memory": memory,
        "sessions": sessions,
        "heartbeat": heartbeat_summary(state),
    }))
}

pub fn sessions(state: &Arc<State>, query: Option<&str>) -> Result<ApiResponse, ApiError> {
    let limit = query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == "limit")
        .map(|(_, value)| {
            value
                .parse::<usize>()
                .map_err(|_| ApiError::invalid(format!("`limit` must be a number, not `{value}`")))
        })
        .transpose()?
        .unwrap_or(50);
    let list = Sessions::new(&state.home)
        .list(limit)
        .map_err(|err| ApiError::internal(err.to_string()))?;
    let sessions: Vec<Value> = list
        .into_iter()
        .map(|(entry, loaded)| {
            let last_active: chrono::DateTime<chrono::Utc> = entry.modified.into();
            json!({"id": entry.id, "title": loaded.title, "model": loaded.model,
                   "source": loaded.source, "started": loaded.started, "turns": loaded.turns,
                   "last_active": last_active.to_rfc3339()})
        })
        .collect();
    ok_json(&json!({"sessions": sessions}))
}

fn find_session(state: &State, id: &str) -> Result<crate::session::Entry, ApiError> {
    Sessions::new(&state.home)
        .find(id)
        .map_err(|err| match err {
            SessionError::Io { .. } => ApiError::internal(err.to_string()),
            _ => ApiError::not_found(err.to_string()),
        })
}

pub fn session(state: &Arc<State>, id: &str) -> Result<ApiResponse, ApiError> {
    let entry = find_session(state, id)?;
    let loaded = load(&entry.path).map_err(|err| ApiError::internal(err.to_string()))?;
    let config = &state.env.config;
    let route = crate::provider::resolve_model(&loaded.model, config);
    let context = json!({
        "tokens": crate::agent::context::estimate_messages(&loaded.messages),
        "window": crate::agent::context::context_window(config, &loaded.model, &route.model),
    });
    ok_json(
        &json!({"id": entry.id, "title": loaded.title, "model": loaded.model,
                    "source": loaded.source, "started": loaded.started, "turns": loaded.turns,
                    "messages": loaded.messages, "context": context}),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    title: String,
}

/// `PATCH /api/sessions/{id}`: a new title, recorded in the transcript like the automatic
/// one (the newest title wins).
pub(crate) async fn rename_session(
    state: Arc<State>,
    id: &str,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: RenameBody = parse_json(&bytes)?;
    let title = body.title.trim().to_string();
    if title.is_empty() {
        return Err(ApiError::invalid("`title` is empty"));
    }
    let entry = find_session(&state, id)?;
    let transcript = crate::session::Transcript {
        id: entry.id.clone(),
        path: entry.path.clone(),
    };
    let record = crate::session::Record::Title {
        title: title.clone(),
    };
    blocking(move || {
        transcript
            .write(&record)
            .map_err(|err| ApiError::internal(format!("cannot rename {}: {err}", entry.id)))
    })
    .await?;
    ok_json(&json!({"id": id, "title": title}))
}

/// `GET /api/models`: what the page's model picker offers — the model in effect, those
/// used in recent sessions, those with settings of their own, and the built-in one when
/// it is installed. Any other name can be typed.
pub fn models(state: &Arc<State>) -> Result<ApiResponse, ApiError> {
    let mut names = vec![state.env.model.clone()];
    if let Ok(recent) = Sessions::new(&state.home).list(50) {
        names.extend(recent.into_iter().map(|(_, loaded)| loaded.model));
    }
    names.extend(state.env.config.models.keys().cloned());
    if crate::models::chat::is_installed(
        &crate::models::models_dir(&state.home).join(crate::models::chat::MODEL_NAME),
    ) {
        names.push(crate::provider::local::model_id());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| !name.is_empty() && seen.insert(name.clone()));
    ok_json(&json!({"default": state.env.model, "models": names}))
}

pub(crate) fn delete_session(state: &Arc<State>, id: &str) -> Result<ApiResponse, ApiError> {
    let entry = find_session(state, id)?;
    if state.busy.lock().is_ok_and(|busy| busy.contains(&entry.id)) {
        return Err(ApiError::new(
            hyper::StatusCode::TOO_MANY_REQUESTS,
            "session_busy",
            format!(
                "session {} is answering a message; delete it when it is done",
                entry.id
            ),
        ));
    }
    std::fs::remove_file(&entry.path).map_err(|err| {
        ApiError::internal(format!("cannot delete {}: {err}", entry.path.display()))
    })?;
    ok_json(&json!({"deleted": entry.id}))
}

pub async fn memory_search(
    state: Arc<State>,
    query: Option<&str>,
) -> Result<ApiResponse, ApiError> {
    let pairs = query_pairs(query);
    let text = pairs
        .iter()
        .find(|(key, _)| key == "q")
        .map(|(_, value)| value.clone())
        .ok_or_else(|| ApiError::invalid("the query parameter `q` is missing"))?;
    let limit = match pairs.iter().find(|(key, _)| key == "limit") {
        Some((_, value)) => value
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("`limit` must be 1-100, not `{value}`")))?,
        None => 10,
    };
    let asked = pairs
        .iter()
        .find(|(key, _)| key == "mode")
        .map(|(_, value)| {
            Mode::parse(value).ok_or_else(|| {
                ApiError::invalid(format!(
                    "`mode` must be keyword, semantic or hybrid, not `{value}`"
                ))
            })
        })
        .transpose()?;
    let embedder = match asked {
        Some(Mode::Keyword) => None,
        _ => state.embedder.get(&state.home, &state.env.config),
    };
    let mode = match (asked, &embedder) {
        (Some(Mode::Semantic | Mode::Hybrid), None) => {
            return Err(ApiError::invalid(
                "semantic search needs the embedding model (`localgpt models install minilm` installs it)",
            ));
        }
        (Some(mode), _) => mode,
        (None, Some(_)) => Mode::Hybrid,
        (None, None) => Mode::Keyword,
    };
    let min_score = pairs
        .iter()
        .find(|(key, _)| key == "min_score")
        .map(|(_, value)| match value.parse::<f64>() {
            Ok(score) if (0.0..=1.0).contains(&score) => Ok(score),
            _ => Err(ApiError::invalid(format!(
                "`min_score` must be a number from 0 to 1, not `{value}`"
            ))),
        })
        .transpose()?
        .unwrap_or(0.0);
    let options = crate::memory::Options {
        limit,
        mode,
        min_score,
    };
    let hits = with_memory(state, move |memory| {
        memory.find(&text, options, Freshness::Quick, embedder.as_deref())
    })
    .await?;
    ok_json(&json!({"results": hits, "mode": mode}))
}

pub(crate) async fn memory_stats(state: Arc<State>) -> Result<ApiResponse, ApiError> {
    let stats = with_memory(state, |memory| memory.stats()).await?;
    ok_json(&stats)
}

pub(crate) async fn memory_reindex(state: Arc<State>) -> Result<ApiResponse, ApiError> {
    let report = with_memory(state, |memory| memory.reindex(false, &mut |_, _| {})).await?;
    ok_json(&json!({"report": format!("{report:?}")}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryBody {
    text: String,
}

pub async fn memory_add(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: MemoryBody = parse_json(&bytes)?;
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid("`text` is empty"));
    }
    let home = state.home.clone();
    let path = blocking(move || {
        crate::memory::append_daily(&home, chrono::Local::now(), &body.text).map_err(|err| {
            let message = format!("cannot write the daily log: {err}");
            // A link that leads out of the workspace is the request's problem, not ours.
            if err.kind() == std::io::ErrorKind::InvalidInput {
                ApiError::invalid(message)
            } else {
                ApiError::internal(message)
            }
        })
    })
    .await?;
    // Indexed and embedded before the answer, so a search right after finds it; the note
    // is saved whatever happens here.
    let embedder = state.embedder.get(&state.home, &state.env.config);
    let written = path.clone();
    if let Err(err) = with_memory(state.clone(), move |memory| {
        memory.note_written(&written, embedder.as_deref())
    })
    .await
    {
        tracing::warn!(
            "{} was saved but not indexed yet: {}",
            path.display(),
            err.message
        );
    }
    ok_json(&json!({"path": path.display().to_string()}))
}

/// A run context for work the API starts, printing to `output`, with the daemon's
/// policy. The run stops when the returned guard is dropped: a client that goes away
/// stops its script.
pub(super) fn run_context(
    state: &State,
    script_dir: std::path::PathBuf,
    output: OutputSink,
) -> (RunContext, CancelOnDrop) {
    let cancel = Cancel::new();
    let run = RunContext::new(
        state.home.clone(),
        state.env.config.clone(),
        state.env.policy(),
        state.env.runtime.clone(),
    )
    .with_model(state.env.model.clone())
    .with_cancel(cancel.clone())
    .with_script_dir(script_dir)
    .with_output(output);
    (run, CancelOnDrop(cancel))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptBody {
    source: Option<String>,
    path: Option<String>,
    #[serde(default)]
    args: Vec<String>,
}

pub(crate) async fn run_script(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: ScriptBody = parse_json(&bytes)?;
    let policy = state.env.policy();
    let (script, dir) = match (body.source, body.path) {
        (Some(source), None) => (
            Script {
                name: "<request>".to_string(),
                text: source,
                args: body.args,
            },
            state.home.workspace(),
        ),
        (None, Some(path)) => {
            let resolved = policy.resolve_read(&path).map_err(ApiError::invalid)?;
            let text = std::fs::read_to_string(&resolved)
                .map_err(|err| ApiError::invalid(format!("cannot read {path}: {err}")))?;
            let dir = resolved
                .parent()
                .map_or_else(|| state.home.workspace(), std::path::Path::to_path_buf);
            (
                Script {
                    name: path,
                    text,
                    args: body.args,
                },
                dir,
            )
        }
        _ => return Err(ApiError::invalid("give exactly one of `source` and `path`")),
    };
    let captured = crate::script::Captured::new();
    let output = captured.sink(None);
    let (run, _stop_if_dropped) = run_context(&state, dir, output);
    let run = Arc::new(run);
    let outcome = blocking(move || Ok(ScriptHost::shared().run(&run, &script))).await?;
    let output = captured.text();
    let (value, error, exit_code) = match outcome {
        Ok(Outcome::Finished(value)) => (
            crate::script::context::from_dynamic(&value)
                .unwrap_or(Value::String(value.to_string())),
            Value::Null,
            0,
        ),
        Ok(Outcome::Exit(code)) => (Value::Null, Value::Null, code),
        Err(err) => (Value::Null, Value::String(err.message), 1),
    };
    ok_json(&json!({"output": output, "value": value, "error": error, "exit_code": exit_code}))
}

fn heartbeat_summary(state: &State) -> Value {
    let found = tasks::discover(&state.home, &state.env.config);
    let running = crate::heartbeat::daemon::running_pid(&state.home)
        .ok()
        .flatten();
    json!({"tasks": found.len(), "daemon_pid": running,
           "check_enabled": state.env.config.heartbeat.enabled})
}

pub fn heartbeat(state: &Arc<State>) -> Result<ApiResponse, ApiError> {
    let config = &state.env.config;
    let zone = config.heartbeat.zone();
    let history =
        History::open(&state.home.index_db()).map_err(|err| ApiError::internal(err.to_string()))?;
    let now = chrono::Utc::now();
    let list: Vec<Value> = tasks::discover(&state.home, config)
        .iter()
        .map(|task| {
            let (schedule, words, next) = match &task.schedule {
                Ok(schedule) => (
                    Some(schedule.expression().to_string()),
                    Some(schedule.describe()),
                    schedule.next_after(now, zone),
                ),
                Err(_) => (None, None, None),
            };
            json!({"name": task.name, "description": task.description, "schedule": schedule,
                   "schedule_words": words, "next": next, "problem": task.problem(),
                   "last": history.last(&task.name).ok().flatten()})
        })
        .collect();
    let text = crate::heartbeat::check::heartbeat_text(&state.home);
    ok_json(&json!({
        "tasks": list,
        "check": {
            "enabled": config.heartbeat.enabled,
            "interval": config.heartbeat.interval,
            "active_hours": config.heartbeat.active_hours,
            "has_work": crate::heartbeat::check::has_work(&text),
            "last": history.last(HEARTBEAT_TASK).ok().flatten(),
        },
        "daemon_pid": crate::heartbeat::daemon::running_pid(&state.home).ok().flatten(),
    }))
}

pub(crate) async fn run_task(state: Arc<State>, name: &str) -> Result<ApiResponse, ApiError> {
    let task = tasks::discover(&state.home, &state.env.config)
        .into_iter()
        .find(|task| task.name == name)
        .ok_or_else(|| ApiError::not_found(format!("there is no scheduled task `{name}`")))?;
    if let Some(problem) = task.problem() {
        return Err(ApiError::invalid(format!(
            "{}: {problem}",
            task.path.display()
        )));
    }
    let env = state.env.clone();
    let home = state.home.clone();
    let run = blocking(move || {
        let run = crate::heartbeat::runner::run_task(&env, &task, "api", Cancel::new(), None);
        History::open(&home.index_db())
            .and_then(|history| history.record(&run))
            .map_err(|err| ApiError::internal(err.to_string()))?;
        Ok(run)
    })
    .await?;
    ok_json(&run)
}
