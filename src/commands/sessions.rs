//! `localgpt sessions …`: list, show, rm and prune saved conversations.

use std::io::{self, Write};
use std::time::SystemTime;

use anyhow::Result;
use serde_json::json;

use super::Context;
use crate::cli::SessionsCommand;
use crate::conversation::Message;
use crate::report::{EXIT_OK, UsageError};
use crate::session::{Sessions, load, parse_age};
use crate::truncate::ellipsize;

pub fn run(command: SessionsCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let sessions = Sessions::new(&ctx.home);
    let mut out = io::stdout().lock();
    match command {
        SessionsCommand::List { limit, json } => {
            let listed = sessions.list(limit)?;
            if json {
                let rows: Vec<_> = listed
                    .iter()
                    .map(|(entry, loaded)| {
                        json!({
                            "id": entry.id, "title": loaded.title, "model": loaded.model,
                            "turns": loaded.turns, "source": loaded.source,
                            "last_active": chrono::DateTime::<chrono::Local>::from(entry.modified).to_rfc3339(),
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut out, &rows)?;
                writeln!(out)?;
            } else if listed.is_empty() {
                writeln!(out, "no saved sessions yet")?;
            } else {
                for (entry, loaded) in &listed {
                    let when = chrono::DateTime::<chrono::Local>::from(entry.modified)
                        .format("%Y-%m-%d %H:%M");
                    writeln!(
                        out,
                        "{}  {when}  {:<18} {:>3} turns  {}",
                        ctx.style.bold(&entry.id),
                        ellipsize(&loaded.model, 18),
                        loaded.turns,
                        loaded.title
                    )?;
                }
            }
        }
        SessionsCommand::Show { id } => {
            let entry = sessions.find(&id)?;
            let loaded = load(&entry.path)?;
            writeln!(
                out,
                "{}",
                ctx.style.dim(&format!(
                    "── {} · {} · {} ──",
                    loaded.id, loaded.model, loaded.started
                ))
            )?;
            for message in &loaded.messages {
                match message {
                    Message::User { content, .. } => {
                        writeln!(out, "\n{} {content}", ctx.style.bold("you ›"))?
                    }
                    Message::Assistant {
                        content,
                        tool_calls,
                    } => {
                        if !content.is_empty() {
                            writeln!(out, "\n{}", content.trim_end())?;
                        }
                        for call in tool_calls {
                            let line = format!(
                                "⚙ {}: {}",
                                call.name,
                                ellipsize(&call.arguments.to_string(), 100)
                            );
                            writeln!(out, "{}", ctx.style.dim(&line))?;
                        }
                    }
                    Message::Tool {
                        content, is_error, ..
                    } => {
                        let mark = if *is_error { "✗" } else { "✓" };
                        let first = content.lines().next().unwrap_or_default();
                        writeln!(
                            out,
                            "{}",
                            ctx.style
                                .dim(&format!("  {mark} {}", ellipsize(first, 100)))
                        )?;
                    }
                }
            }
            if loaded.torn_last_line {
                tracing::warn!(
                    "the last line of {} was cut off (a crash while writing?) and was skipped",
                    entry.path.display()
                );
            }
        }
        SessionsCommand::Rm { ids } => {
            // Resolve every id first, so a typo removes nothing.
            let entries = ids
                .iter()
                .map(|id| sessions.find(id))
                .collect::<Result<Vec<_>, _>>()?;
            for entry in entries {
                std::fs::remove_file(&entry.path)?;
                writeln!(out, "removed {}", entry.id)?;
            }
        }
        SessionsCommand::Prune { older_than } => {
            let age = parse_age(&older_than).ok_or_else(|| {
                UsageError(format!(
                    "`{older_than}` is not an age; use a number and m, h, d or w, e.g. 30d"
                ))
            })?;
            let removed = sessions.prune(age, SystemTime::now())?;
            writeln!(out, "removed {removed} session(s) older than {older_than}")?;
        }
    }
    Ok(EXIT_OK)
}
