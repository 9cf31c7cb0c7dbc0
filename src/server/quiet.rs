//! The trace of conversations the API holds open. Someone talking through the API or the
//! web page never "leaves" a session as one leaves the REPL, so each session leaves its
//! trace in the daily log (see `Agent::leave_trace`) once it has been quiet for
//! `memory.trace_after_minutes`, or right after each turn when that is 0. Where a trace
//! got to is kept in the transcript (`Record::Traced`): nothing is traced twice, across
//! restarts too; a session the server forgot by restarting is traced when next used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::State;
use crate::agent::Agent;
use crate::session::{Session, Sessions};

/// Sessions whose last turn has not left its trace yet, with when that turn ended.
#[derive(Default)]
pub struct Quiet {
    waiting: Mutex<HashMap<String, Instant>>,
}

impl Quiet {
    /// A turn of `session` ended at `at`.
    pub(crate) fn turn_ended(&self, session: &str, at: Instant) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(session.to_string(), at);
        }
    }

    /// The sessions quiet for `quiet` by `now`, taken off the list.
    fn due(&self, now: Instant, quiet: Duration) -> Vec<String> {
        let Ok(mut waiting) = self.waiting.lock() else {
            return Vec::new();
        };
        let due: Vec<String> = waiting
            .iter()
            .filter(|(_, ended)| now.saturating_duration_since(**ended) >= quiet)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &due {
            waiting.remove(id);
        }
        due
    }

    fn put_back(&self, session: String, at: Instant) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.entry(session).or_insert(at);
        }
    }
}

/// How long a session must be quiet before its trace; `None` after every turn.
fn quiet_period(state: &State) -> Option<Duration> {
    match state.env.config.memory.trace_after_minutes {
        0 => None,
        minutes => Some(Duration::from_secs(minutes.saturating_mul(60))),
    }
}

/// After a turn of saved session `id` (the turn still holds it): its trace now, when
/// traces follow every turn, else once it has been quiet long enough.
pub(crate) async fn after_turn(state: &Arc<State>, id: &str) {
    if quiet_period(state).is_some() {
        state.quiet.turn_ended(id, Instant::now());
    } else {
        trace(state, id).await;
    }
}

/// Leaves the trace of every session quiet long enough by `now`; a session answering
/// a turn again meanwhile waits for the next sweep.
pub async fn sweep(state: &Arc<State>, now: Instant) {
    let Some(quiet) = quiet_period(state) else {
        return;
    };
    for id in state.quiet.due(now, quiet) {
        match super::chat::Busy::mark(state, &id) {
            Ok(_busy) => trace(state, &id).await,
            Err(_) => state.quiet.put_back(id, now),
        }
    }
}

/// Sweeps for quiet sessions every so often while the server runs.
pub(crate) fn spawn_sweeper(state: Arc<State>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(quiet) = quiet_period(&state) else {
            return;
        };
        let every = (quiet / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            sweep(&state, Instant::now()).await;
        }
    })
}

/// The trace of session `id` from where its last one ended, by the session's model.
/// Failures are logged: a trace is never worth failing a request for.
async fn trace(state: &Arc<State>, id: &str) {
    let entry = match Sessions::new(&state.home).find(id) {
        Ok(entry) => entry,
        Err(err) => {
            tracing::warn!("session {id} left no trace: {err}");
            return;
        }
    };
    let (session, loaded) = match Session::reread(&entry) {
        Ok(read) => read,
        Err(err) => {
            tracing::warn!("session {id} left no trace: {err}");
            return;
        }
    };
    let policy = state.env.policy();
    let mut agent = match Agent::new(&state.home, &state.env.config, &loaded.model, policy) {
        Ok(agent) => agent.for_person(),
        Err(err) => {
            tracing::warn!("session {id} left no trace: {err}");
            return;
        }
    };
    agent.trace_from(loaded.traced);
    let written = agent.leave_trace(&session).await;
    tracing::info!("session {id} left its trace: {written} new lines in the daily log");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_due_once_quiet_long_enough_and_only_once() {
        let quiet = Quiet::default();
        let start = Instant::now();
        quiet.turn_ended("a", start);
        quiet.turn_ended("b", start + Duration::from_secs(50));
        let period = Duration::from_secs(60);
        assert!(
            quiet
                .due(start + Duration::from_secs(30), period)
                .is_empty()
        );
        assert_eq!(quiet.due(start + Duration::from_secs(60), period), ["a"]);
        assert!(
            quiet
                .due(start + Duration::from_secs(61), period)
                .is_empty()
        );
        // A new turn starts the quiet period again.
        quiet.turn_ended("b", start + Duration::from_secs(100));
        assert!(
            quiet
                .due(start + Duration::from_secs(120), period)
                .is_empty()
        );
        assert_eq!(quiet.due(start + Duration::from_secs(160), period), ["b"]);
    }
}
