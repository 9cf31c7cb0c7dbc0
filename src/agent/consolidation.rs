//! Consolidation as a model turn: `memory consolidate` and the daemon's nightly run both
//! come here. The model reads MEMORY.md and the recent daily logs and proposes changes
//! ([`crate::memory::consolidate`] checks them against the files); they are then made at
//! once (MEMORY.md copied first) or kept for `memory review`, added to any proposal
//! already waiting.

use std::path::PathBuf;

use chrono::Local;

use super::{Agent, LogObserver};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::home::Home;
use crate::memory::consolidate::{self, Change, Proposal};
use crate::policy::Policy;
use crate::session::Session;

/// What a consolidation found.
#[derive(Debug, Default)]
pub struct Found {
    pub changes: Vec<Change>,
    /// Why the changes the files do not bear out were left out.
    pub dropped: Vec<String>,
    /// The daily logs read.
    pub logs: Vec<String>,
}

/// What became of the changes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    Nothing,
    /// Made in MEMORY.md; the copy from before.
    Applied(PathBuf),
    /// Waiting for `memory review`; how many in all.
    Proposed(usize),
}

/// Asks `model` for the changes the last `days` days of daily logs call for.
pub async fn find(
    home: &Home,
    config: &Config,
    model: &str,
    policy: Policy,
    days: u32,
    cancel: &Cancel,
) -> Result<Found, String> {
    let today = crate::memory::today();
    let logs = consolidate::recent_logs(home, today, days.max(1));
    if logs.is_empty() {
        return Ok(Found::default());
    }
    let memory = match crate::home::read_real_to_string(&home.memory_file()) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(format!("cannot read MEMORY.md: {err}")),
    };
    let mut agent = Agent::new(home, config, model, policy)
        .map_err(|err| err.to_string())?
        .without_tools();
    let mut session = Session::recorded_in(None);
    let prompt = consolidate::prompt(&memory, &logs, today);
    let report = agent
        .turn(&mut session, &prompt, &mut LogObserver, cancel)
        .await
        .map_err(|err| format!("the model could not propose changes: {}", err.source))?;
    let (changes, dropped) = consolidate::parse(&report.text, &memory, &logs)
        .map_err(|err| format!("the model's proposal cannot be used: {err}"))?;
    Ok(Found {
        changes,
        dropped,
        logs: logs.into_iter().map(|(path, _)| path).collect(),
    })
}

/// Makes the changes (`apply`) or adds them to the proposal waiting for review.
pub(crate) fn settle(
    home: &Home,
    config: &Config,
    found: Found,
    apply: bool,
) -> Result<Settled, String> {
    if found.changes.is_empty() {
        return Ok(Settled::Nothing);
    }
    if apply {
        let copy = consolidate::apply(home, &found.changes, Local::now())
            .map_err(|err| format!("cannot change MEMORY.md: {err}"))?;
        crate::memory::index_written_now(home, config, &home.memory_file());
        return Ok(Settled::Applied(copy));
    }
    let mut proposal = consolidate::load(home)?.unwrap_or_else(|| Proposal {
        made: String::new(),
        logs: Vec::new(),
        changes: Vec::new(),
    });
    proposal.made = Local::now().to_rfc3339();
    for log in found.logs {
        if !proposal.logs.contains(&log) {
            proposal.logs.push(log);
        }
    }
    for change in found.changes {
        if !proposal.changes.contains(&change) {
            proposal.changes.push(change);
        }
    }
    consolidate::save(home, &proposal).map_err(|err| format!("cannot save the proposal: {err}"))?;
    Ok(Settled::Proposed(proposal.changes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_proposal_adds_to_the_one_waiting_and_repeats_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let config = Config::default();
        let change = |line: &str| Change::Add {
            line: line.to_string(),
            sources: vec!["memory/2026-11-10.md:4".to_string()],
        };
        let found = |lines: &[&str]| Found {
            changes: lines.iter().map(|line| change(line)).collect(),
            dropped: Vec::new(),
            logs: vec!["memory/2026-11-10.md".to_string()],
        };
        assert_eq!(
            settle(&home, &config, Found::default(), false),
            Ok(Settled::Nothing)
        );
        assert_eq!(
            settle(&home, &config, found(&["A"]), false),
            Ok(Settled::Proposed(1))
        );
        assert_eq!(
            settle(&home, &config, found(&["A", "B"]), false),
            Ok(Settled::Proposed(2))
        );
        let waiting = consolidate::load(&home).unwrap().unwrap();
        assert_eq!(waiting.changes, vec![change("A"), change("B")]);
        assert_eq!(waiting.logs.len(), 1);
    }
}
