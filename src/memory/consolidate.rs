//! Consolidation: the recent daily logs distilled into MEMORY.md — new durable facts,
//! changed facts (the old line struck through and dated, never deleted), duplicates
//! merged — each line citing the log lines it comes from. A model proposes; the proposal
//! is checked against the files (a line to replace must be in MEMORY.md, a source must
//! be a line of the logs shown) and kept for `memory review`, or applied at once with
//! `memory.consolidate = "auto"`. A copy of MEMORY.md is kept before every change.

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Local};
use serde::{Deserialize, Serialize};

use crate::home::Home;

/// The most of the logs one proposal reads, in characters (the newest first kept).
const MAX_LOG_CHARS: usize = 24_000;

/// One change to MEMORY.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Change {
    /// A new durable fact.
    Add { line: String, sources: Vec<String> },
    /// A fact that changed: `old` (a line of MEMORY.md) is struck through, `line` follows it.
    Supersede {
        old: String,
        line: String,
        sources: Vec<String>,
    },
    /// Lines that say the same thing: the first becomes `line`, the others are struck.
    Merge {
        lines: Vec<String>,
        line: String,
        #[serde(default)]
        sources: Vec<String>,
    },
}

/// A proposal waiting for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// When it was made (RFC 3339).
    pub made: String,
    /// The daily logs it read.
    pub logs: Vec<String>,
    pub changes: Vec<Change>,
}

/// Where the proposal waits.
pub(crate) fn proposal_file(home: &Home) -> PathBuf {
    home.root().join("memory-proposal.json")
}

/// Where MEMORY.md's copies go.
pub(crate) fn backup_dir(home: &Home) -> PathBuf {
    home.root().join("backups")
}

/// The daily logs of the last `days` days (`(display path, text)`), oldest first.
pub(crate) fn recent_logs(
    home: &Home,
    today: chrono::NaiveDate,
    days: u32,
) -> Vec<(String, String)> {
    let mut logs = Vec::new();
    for back in (0..days).rev() {
        let Some(day) = today.checked_sub_days(chrono::Days::new(u64::from(back))) else {
            continue;
        };
        let name = format!("{}.md", day.format("%Y-%m-%d"));
        let path = home.daily_log_dir().join(&name);
        if let Ok(text) = crate::home::read_real_to_string(&path) {
            logs.push((format!("memory/{name}"), text));
        }
    }
    logs
}

/// The request for the model: MEMORY.md, the logs with line numbers, what to answer.
pub fn prompt(memory: &str, logs: &[(String, String)], today: chrono::NaiveDate) -> String {
    let mut shown = String::new();
    for (path, text) in logs.iter().rev() {
        let mut numbered = format!("=== {path}\n");
        for (index, line) in text.lines().enumerate() {
            numbered.push_str(&format!("{}: {line}\n", index + 1));
        }
        if shown.chars().count() + numbered.chars().count() > MAX_LOG_CHARS {
            break;
        }
        shown.insert_str(0, &numbered);
    }
    format!(
        "Today is {today}. You keep a person's long-term memory, MEMORY.md. Read it and their \
         recent daily logs, and propose changes to MEMORY.md:\n\
         - \"add\": a durable fact about the person or their world (people, places, \
         preferences, commitments with dates) that MEMORY.md does not hold yet;\n\
         - \"supersede\": a MEMORY.md line the logs show is no longer true, copied exactly as \
         \"old\", with the true line as \"line\";\n\
         - \"merge\": MEMORY.md lines that say the same thing (\"lines\", copied exactly) and \
         the one line that replaces them.\n\
         Every change cites its sources as \"memory/YYYY-MM-DD.md:LINE\". Leave out passing \
         events, chores and anything already in MEMORY.md. Write lines in the person's terms, \
         without a leading dash. Answer with JSON only: {{\"changes\": [{{\"action\": \"add\", \
         \"line\": \"…\", \"sources\": [\"…\"]}}, …]}}, or {{\"changes\": []}}.\n\n\
         === MEMORY.md\n{memory}\n{shown}"
    )
}

/// The changes in the model's `reply` that hold up against the files; and why the others
/// were left out.
pub fn parse(
    reply: &str,
    memory: &str,
    logs: &[(String, String)],
) -> Result<(Vec<Change>, Vec<String>), String> {
    #[derive(Deserialize)]
    struct Reply {
        changes: Vec<serde_json::Value>,
    }
    let start = reply.find('{').ok_or("the answer holds no JSON object")?;
    let end = reply.rfind('}').ok_or("the answer holds no JSON object")?;
    let json = reply
        .get(start..=end)
        .ok_or("the answer holds no JSON object")?;
    let parsed: Reply = serde_json::from_str(json)
        .map_err(|err| format!("the answer is not the JSON asked for: {err}"))?;
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for value in parsed.changes {
        let change: Change = match serde_json::from_value(value.clone()) {
            Ok(change) => change,
            Err(err) => {
                dropped.push(format!("{value}: {err}"));
                continue;
            }
        };
        match check(&change, memory, logs) {
            Ok(()) => kept.push(tidy(change)),
            Err(why) => dropped.push(why),
        }
    }
    Ok((kept, dropped))
}

fn tidy(change: Change) -> Change {
    let clean = |line: String| line.trim().trim_start_matches("- ").trim().to_string();
    match change {
        Change::Add { line, sources } => Change::Add {
            line: clean(line),
            sources,
        },
        Change::Supersede { old, line, sources } => Change::Supersede {
            old: clean(old),
            line: clean(line),
            sources,
        },
        Change::Merge {
            lines,
            line,
            sources,
        } => Change::Merge {
            lines: lines.into_iter().map(clean).collect(),
            line: clean(line),
            sources,
        },
    }
}

/// The line of MEMORY.md that `quoted` names (compared without its list marker).
fn find_line(memory: &str, quoted: &str) -> Option<usize> {
    let wanted = quoted.trim().trim_start_matches("- ").trim();
    if wanted.is_empty() {
        return None;
    }
    memory
        .lines()
        .position(|line| line.trim().trim_start_matches("- ").trim() == wanted)
}

fn check(change: &Change, memory: &str, logs: &[(String, String)]) -> Result<(), String> {
    let (line, sources, olds): (&str, &[String], Vec<&String>) = match change {
        Change::Add { line, sources } => (line, sources, Vec::new()),
        Change::Supersede { old, line, sources } => (line, sources, vec![old]),
        Change::Merge {
            lines,
            line,
            sources,
        } => (line, sources, lines.iter().collect()),
    };
    if line.trim().is_empty() || line.contains('\n') || line.chars().count() > 400 {
        return Err(format!("{line:?}: a change is one line of text"));
    }
    for old in olds {
        if find_line(memory, old).is_none() {
            return Err(format!("{old:?} is not a line of MEMORY.md"));
        }
    }
    if matches!(change, Change::Merge { lines, .. } if lines.len() < 2) {
        return Err(format!("{line:?}: a merge needs two lines or more"));
    }
    if !matches!(change, Change::Merge { .. }) && sources.is_empty() {
        return Err(format!("{line:?} cites no source"));
    }
    for source in sources {
        let known = source.rsplit_once(':').is_some_and(|(path, number)| {
            let number: usize = number.parse().unwrap_or(0);
            logs.iter()
                .any(|(log, text)| log == path && number >= 1 && number <= text.lines().count())
        });
        if !known {
            return Err(format!(
                "{line:?} cites {source:?}, which is no line of the logs read"
            ));
        }
    }
    Ok(())
}

/// A change as a diff: `-` for what goes, `+` for what comes.
pub fn diff(change: &Change) -> String {
    let cited = |sources: &[String]| {
        if sources.is_empty() {
            String::new()
        } else {
            format!("  ({})", sources.join(", "))
        }
    };
    match change {
        Change::Add { line, sources } => format!("+ {line}{}", cited(sources)),
        Change::Supersede { old, line, sources } => {
            format!("- {old}\n+ {line}{}", cited(sources))
        }
        Change::Merge {
            lines,
            line,
            sources,
        } => {
            let mut text: String = lines.iter().map(|old| format!("- {old}\n")).collect();
            text.push_str(&format!("+ {line}{}", cited(sources)));
            text
        }
    }
}

/// MEMORY.md with `changes` made on `day`: a superseded or merged line stays, struck
/// through and dated; new lines cite their sources; additions go under "Notes".
pub(crate) fn apply_to(memory: &str, changes: &[Change], day: &str) -> String {
    let mut lines: Vec<String> = memory.lines().map(str::to_string).collect();
    let cite = |line: &str, sources: &[String]| {
        if sources.is_empty() {
            format!("- {line} ({day})")
        } else {
            format!("- {line} ({day}; from {})", sources.join(", "))
        }
    };
    let strike = |lines: &mut Vec<String>, at: usize, why: &str| {
        let text = lines[at].trim().trim_start_matches("- ").trim().to_string();
        lines[at] = format!("- ~~{text}~~ ({why} {day})");
    };
    let mut additions = Vec::new();
    for change in changes {
        let current = lines.join("\n");
        match change {
            Change::Add { line, sources } => additions.push(cite(line, sources)),
            Change::Supersede { old, line, sources } => {
                if let Some(at) = find_line(&current, old) {
                    strike(&mut lines, at, "superseded");
                    lines.insert(at + 1, cite(line, sources));
                }
            }
            Change::Merge {
                lines: olds,
                line,
                sources,
            } => {
                let mut first = None;
                for old in olds {
                    if let Some(at) = find_line(&lines.join("\n"), old) {
                        strike(&mut lines, at, "merged");
                        first = first.or(Some(at));
                    }
                }
                if let Some(at) = first {
                    lines.insert(at + 1, cite(line, sources));
                }
            }
        }
    }
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    for addition in additions {
        text = super::journal::insert_under_heading(&text, "Notes", &addition);
    }
    text
}

/// Makes `changes` in MEMORY.md, under its lock, after copying it to the backups;
/// returns the copy's path.
pub fn apply(home: &Home, changes: &[Change], now: DateTime<Local>) -> io::Result<PathBuf> {
    let memory_file = home
        .workspace_file("MEMORY.md")
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;
    let backups = backup_dir(home);
    std::fs::create_dir_all(&backups)?;
    let copy = backups.join(format!("MEMORY.md.{}", now.format("%Y%m%dT%H%M%S%.3f")));
    let day = now.format("%Y-%m-%d").to_string();
    let mut copied: io::Result<()> = Ok(());
    crate::home::update_locked(&memory_file, |old| {
        copied = crate::home::write_atomic(&copy, old.as_bytes());
        if copied.is_err() {
            // No copy, no change.
            return old.to_string();
        }
        apply_to(old, changes, &day)
    })?;
    copied?;
    Ok(copy)
}

/// Saves `proposal` for `memory review`.
pub fn save(home: &Home, proposal: &Proposal) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(proposal).map_err(io::Error::other)?;
    crate::home::write_atomic(&proposal_file(home), &json)
}

/// The proposal waiting for review, if any.
pub fn load(home: &Home) -> Result<Option<Proposal>, String> {
    let path = proposal_file(home);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| format!("{} is not a proposal: {err}", path.display())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("cannot read {}: {err}", path.display())),
    }
}

/// Settles `proposal` as reviewed: makes the changes at the places `accepted` names (see
/// [`apply`]) and drops the proposal. `None` when none was accepted: MEMORY.md is as it
/// was. A place the proposal does not have is refused, and nothing changes.
pub fn decide(
    home: &Home,
    proposal: Proposal,
    accepted: &[usize],
    now: DateTime<Local>,
) -> io::Result<Option<PathBuf>> {
    if let Some(beyond) = accepted.iter().find(|at| **at >= proposal.changes.len()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the proposal has {} changes; there is no change {beyond}",
                proposal.changes.len()
            ),
        ));
    }
    let changes: Vec<Change> = proposal
        .changes
        .into_iter()
        .enumerate()
        .filter(|(at, _)| accepted.contains(at))
        .map(|(_, change)| change)
        .collect();
    let copy = if changes.is_empty() {
        None
    } else {
        Some(apply(home, &changes, now)?)
    };
    discard(home)?;
    Ok(copy)
}

/// Drops the proposal once reviewed.
pub(crate) fn discard(home: &Home) -> io::Result<()> {
    match std::fs::remove_file(proposal_file(home)) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMORY: &str = "# Memory\n\n## About me\n- My sister Ana lives in Porto.\n- I drink two coffees a day.\n- I like tea.\n- Tea is nice.\n\n## Notes\n- Old note\n";

    fn logs() -> Vec<(String, String)> {
        vec![(
            "memory/2026-11-10.md".to_string(),
            "# 2026-11-10\n\n## 09:00 · session ab\n- Ana moved to Braga.\n- Gave up coffee.\n"
                .to_string(),
        )]
    }

    #[test]
    fn a_proposal_is_checked_against_the_files() {
        let reply = r#"Here: {"changes": [
            {"action": "supersede", "old": "My sister Ana lives in Porto.", "line": "My sister Ana lives in Braga.", "sources": ["memory/2026-11-10.md:4"]},
            {"action": "add", "line": "I gave up coffee.", "sources": ["memory/2026-11-10.md:5"]},
            {"action": "supersede", "old": "I live on the moon.", "line": "x", "sources": ["memory/2026-11-10.md:4"]},
            {"action": "add", "line": "Made up", "sources": ["memory/2026-11-11.md:1"]},
            {"action": "add", "line": "No source", "sources": []},
            {"action": "merge", "lines": ["I like tea.", "Tea is nice."], "line": "I like tea."},
            {"action": "explode"}
        ]}"#;
        let (kept, dropped) = parse(reply, MEMORY, &logs()).unwrap();
        assert_eq!(kept.len(), 3, "{kept:?} {dropped:?}");
        assert_eq!(dropped.len(), 4, "{dropped:?}");
        assert!(
            dropped
                .iter()
                .any(|why| why.contains("not a line of MEMORY.md"))
        );
        assert!(
            dropped
                .iter()
                .any(|why| why.contains("no line of the logs"))
        );
        assert!(parse("no json", MEMORY, &logs()).is_err());
    }

    #[test]
    fn a_changed_fact_is_struck_through_and_dated_never_deleted() {
        let changes = vec![
            Change::Supersede {
                old: "My sister Ana lives in Porto.".into(),
                line: "My sister Ana lives in Braga.".into(),
                sources: vec!["memory/2026-11-10.md:4".into()],
            },
            Change::Add {
                line: "I gave up coffee.".into(),
                sources: vec!["memory/2026-11-10.md:5".into()],
            },
            Change::Merge {
                lines: vec!["I like tea.".into(), "Tea is nice.".into()],
                line: "I like tea.".into(),
                sources: vec![],
            },
        ];
        let after = apply_to(MEMORY, &changes, "2026-11-12");
        assert!(after.contains("- ~~My sister Ana lives in Porto.~~ (superseded 2026-11-12)\n- My sister Ana lives in Braga. (2026-11-12; from memory/2026-11-10.md:4)"), "{after}");
        assert!(
            after.contains("- ~~Tea is nice.~~ (merged 2026-11-12)"),
            "{after}"
        );
        assert!(
            after.contains(
                "- Old note\n- I gave up coffee. (2026-11-12; from memory/2026-11-10.md:5)"
            ),
            "{after}"
        );
        // Every line of the person's is still there.
        for line in MEMORY.lines().filter(|l| l.starts_with("- ")) {
            let text = line.trim_start_matches("- ");
            assert!(after.contains(text), "{text} lost: {after}");
        }
    }
}
