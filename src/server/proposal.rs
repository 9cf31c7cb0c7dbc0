//! The consolidation's proposal on the web page: `GET /api/memory/proposal` shows the
//! changes waiting for review, each with its diff; `POST /api/memory/proposal` accepts
//! the ones it names (by place) and rejects the rest, as `localgpt memory review` does —
//! MEMORY.md copied to the backups first, changed under its lock. The POST names the
//! proposal it was shown (`made`), so a page open since an older one cannot accept a
//! newer one's changes by their places.

use std::sync::Arc;

use chrono::Local;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::State;
use super::api::blocking;
use super::http::{ApiError, ApiResponse, ok_json, parse_json, read_body};
use crate::memory::consolidate;

pub async fn show(state: Arc<State>) -> Result<ApiResponse, ApiError> {
    let home = state.home.clone();
    let proposal = blocking(move || consolidate::load(&home).map_err(ApiError::internal)).await?;
    let Some(proposal) = proposal else {
        return Err(ApiError::not_found(
            "no changes are waiting: the nightly consolidation (or `localgpt memory consolidate`) proposes some",
        ));
    };
    let changes: Vec<serde_json::Value> = proposal
        .changes
        .iter()
        .map(|change| {
            let mut value = serde_json::to_value(change).unwrap_or_default();
            value["diff"] = json!(consolidate::diff(change));
            value
        })
        .collect();
    ok_json(&json!({"made": proposal.made, "logs": proposal.logs, "changes": changes}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// The proposal's `made`, as shown.
    made: String,
    /// The places of the changes accepted; the others are rejected.
    accept: Vec<usize>,
}

pub async fn decide(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let decision: Decision = parse_json(&bytes)?;
    let mut accept = decision.accept;
    accept.sort_unstable();
    accept.dedup();
    let home = state.home.clone();
    let config = state.env.config.clone();
    let (copy, accepted, total) = blocking(move || {
        let Some(proposal) = consolidate::load(&home).map_err(ApiError::internal)? else {
            return Err(ApiError::not_found("no changes are waiting"));
        };
        if proposal.made != decision.made {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "changed",
                "another proposal is waiting now; show it again and review that one",
            ));
        }
        let total = proposal.changes.len();
        if let Some(beyond) = accept.iter().find(|at| **at >= total) {
            return Err(ApiError::invalid(format!(
                "`accept`: the proposal has {total} changes, there is no change {beyond}"
            )));
        }
        let copy = consolidate::decide(&home, proposal, &accept, Local::now())
            .map_err(|err| ApiError::internal(format!("cannot change MEMORY.md: {err}")))?;
        if copy.is_some() {
            crate::memory::index_written_now(&home, &config, &home.memory_file());
        }
        Ok((copy, accept.len(), total))
    })
    .await?;
    ok_json(&json!({
        "changed": copy.is_some(),
        "accepted": accepted,
        "rejected": total - accepted,
        "backup": copy.map(|path| path.display().to_string()),
    }))
}
