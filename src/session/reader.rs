//! Reading a transcript back: every record that parses, the live conversation rebuilt
//! from it and repaired (an interrupted tool round, a crash mid-turn or an older version's
//! transcript never reach a provider as a conversation it refuses), and whether the last
//! line was torn (a crash or kill mid-write), which is skipped and reported rather than
//! failing the whole session.

use std::io;
use std::path::Path;

use super::record::{Line, Record, Said};
use crate::conversation::{Fix, Message, summary_messages};

#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub id: String,
    pub model: String,
    pub source: String,
    pub started: String,
    /// The first user message, cut short: what the session was about.
    pub title: String,
    /// User turns.
    pub turns: usize,
    /// The last Responses API response recorded (see `Record::Response`).
    pub last_response: Option<String>,
    /// The conversation as the model should see it when the session resumes.
    pub messages: Vec<Message>,
    /// What the repair changed to make `messages` a conversation providers accept.
    pub repairs: Vec<Fix>,
    /// How many of `messages` a trace in the daily log already covers.
    pub traced: usize,
    /// The last line could not be read (torn by a crash) and was skipped.
    pub torn_last_line: bool,
    /// Lines before the last that could not be read (damage, not a crash).
    pub skipped_lines: usize,
}

/// How long a title may be, in characters.
const TITLE_CHARS: usize = 60;

pub fn load(path: &Path) -> io::Result<Loaded> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut loaded = Loaded {
        id: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..Loaded::default()
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for (index, line) in lines.iter().enumerate() {
        let Ok(line) = serde_json::from_str::<Line>(line) else {
            if index + 1 == lines.len() {
                loaded.torn_last_line = true;
            } else {
                loaded.skipped_lines += 1;
            }
            continue;
        };
        apply(&mut loaded, line.record);
    }
    loaded.repairs = crate::conversation::repair(&mut loaded.messages);
    super::log_fixes(Some(&loaded.id), &loaded.repairs);
    Ok(loaded)
}

fn apply(loaded: &mut Loaded, record: Record) {
    if let Some(message) = record.message() {
        if let Message::User { content, .. } = &message
            && content != crate::conversation::INTERRUPTED_NOTE
        {
            if loaded.turns == 0 && loaded.title.is_empty() {
                let first_line = content.lines().next().unwrap_or_default();
                loaded.title = crate::truncate::ellipsize(first_line, TITLE_CHARS);
            }
            loaded.turns += 1;
        }
        loaded.messages.push(message);
        return;
    }
    match record {
        Record::Meta {
            model,
            source,
            started,
            ..
        } => {
            loaded.model = model;
            loaded.source = source;
            loaded.started = started;
        }
        Record::Model { model, .. } => loaded.model = model,
        Record::Title { title } => loaded.title = title,
        Record::Response { id } => loaded.last_response = Some(id),
        Record::Compaction { summary, kept, .. } => {
            // The live context restarts from the summary and the messages kept with it.
            let cut = loaded.messages.len().saturating_sub(kept);
            let tail = loaded.messages.split_off(cut);
            loaded.messages.clear();
            if let Some(summary) = summary {
                loaded.messages.extend(summary_messages(&summary));
            }
            // The summary stands for what was traced before the cut (compaction leaves
            // that trace first); of the kept messages, those traced stay traced.
            loaded.traced = loaded.messages.len() + loaded.traced.saturating_sub(cut);
            loaded.messages.extend(tail);
        }
        Record::Traced {} => loaded.traced = loaded.messages.len(),
        Record::Message(Said::User { .. } | Said::Assistant { .. })
        | Record::ToolResult { .. }
        | Record::Usage { .. }
        | Record::Error { .. }
        | Record::Unknown => {}
    }
}
