//! The daemon's side for the web page: `GET /api/heartbeat/runs` (the history, newest first,
//! with output) and `POST /api/heartbeat/check` (the HEARTBEAT.md check now, recorded like
//! the scheduled ones). The task list and `POST /api/heartbeat/{task}/run` are in `api`.

use std::sync::Arc;

use chrono::{Local, Utc};
use serde_json::json;

use super::State;
use super::api::blocking;
use super::http::{ApiError, ApiResponse, ok_json, query_pairs};
use crate::cancel::Cancel;
use crate::heartbeat::check;
use crate::heartbeat::history::{History, Run};
use crate::heartbeat::scheduler::check_run;

pub async fn runs(state: Arc<State>, query: Option<&str>) -> Result<ApiResponse, ApiError> {
    let pairs = query_pairs(query);
    let task = pairs
        .iter()
        .find(|(key, _)| key == "task")
        .map(|(_, value)| value.clone());
    let limit = match pairs.iter().find(|(key, _)| key == "limit") {
        Some((_, value)) => value
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("`limit` must be 1-500, not `{value}`")))?,
        None => 50,
    };
    let home = state.home.clone();
    let runs = blocking(move || {
        History::open(&home.index_db())
            .and_then(|history| history.recent(task.as_deref(), limit))
            .map_err(|err| ApiError::internal(err.to_string()))
    })
    .await?;
    ok_json(&json!({"runs": runs}))
}

pub(crate) async fn check_now(state: Arc<State>) -> Result<ApiResponse, ApiError> {
    let env = &state.env;
    let now = Utc::now();
    if let Some(reason) = check::idle_reason(env, now, true) {
        return ok_json(&json!({"status": "skipped", "output": reason}));
    }
    let history =
        History::open(&state.home.index_db()).map_err(|err| ApiError::internal(err.to_string()))?;
    let history = std::sync::Mutex::new(history);
    let transcript =
        crate::session::Transcript::start(&state.home, &env.model, "heartbeat", Local::now()).ok();
    let clock = std::time::Instant::now();
    let outcome = check::run_check(env, &history, transcript.as_ref(), now, &Cancel::new()).await;
    let run = Run {
        trigger: "api".to_string(),
        ..check_run(outcome, now, clock.elapsed())
    };
    let recorded = run.clone();
    blocking(move || {
        history
            .lock()
            .map_err(|_| ApiError::internal("the history is unavailable"))?
            .record(&recorded)
            .map_err(|err| ApiError::internal(err.to_string()))
    })
    .await?;
    ok_json(&run)
}
