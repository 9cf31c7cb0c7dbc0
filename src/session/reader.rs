//! Reading a transcript back: every record that parses, the live conversation rebuilt
//! from it, and whether the last line was torn (a crash or kill mid-write), which is
//! skipped and reported rather than failing the whole session.

use std::io;
use std::path::Path;

use serde_json::Value;

use crate::provider::{Message, ToolCall};

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
    /// The conversation as the model should see it when the session resumes.
    pub messages: Vec<Message>,
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
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            if index + 1 == lines.len() {
                loaded.torn_last_line = true;
            } else {
                loaded.skipped_lines += 1;
            }
            continue;
        };
        apply(&mut loaded, &record);
    }
    Ok(loaded)
}

fn apply(loaded: &mut Loaded, record: &Value) {
    let text = |key: &str| record[key].as_str().unwrap_or_default().to_string();
    match record["type"].as_str() {
        Some("meta") => {
            loaded.model = text("model");
            loaded.source = text("source");
            loaded.started = text("started");
        }
        Some("message") if record["role"] == "user" => {
            let content = text("content");
            if loaded.turns == 0 && loaded.title.is_empty() {
                let first_line = content.lines().next().unwrap_or_default();
                loaded.title = crate::truncate::ellipsize(first_line, TITLE_CHARS);
            }
            loaded.turns += 1;
            loaded.messages.push(Message::User { content });
        }
        Some("message") if record["role"] == "assistant" => {
            let tool_calls: Vec<ToolCall> =
                serde_json::from_value(record["tool_calls"].clone()).unwrap_or_default();
            loaded.messages.push(Message::Assistant {
                content: text("content"),
                tool_calls,
            });
        }
        Some("tool_result") => loaded.messages.push(Message::Tool {
            call_id: text("call_id"),
            name: text("name"),
            content: text("content"),
            is_error: record["is_error"].as_bool().unwrap_or(false),
        }),
        Some("model") => loaded.model = text("model"),
        Some("title") => loaded.title = text("title"),
        Some("compaction") => {
            // The live context restarts from the summary and the turns kept with it.
            let kept = usize::try_from(record["kept"].as_u64().unwrap_or(0)).unwrap_or(0);
            let tail = loaded
                .messages
                .split_off(loaded.messages.len().saturating_sub(kept));
            loaded.messages.clear();
            if let Some(summary) = record["summary"].as_str() {
                loaded.messages.push(Message::User {
                    content: format!("{}\n\n{summary}", crate::agent::SUMMARY_HEADER),
                });
                loaded.messages.push(Message::Assistant {
                    content: crate::agent::SUMMARY_ACK.to_string(),
                    tool_calls: Vec::new(),
                });
            }
            loaded.messages.extend(tail);
        }
        _ => {}
    }
}
