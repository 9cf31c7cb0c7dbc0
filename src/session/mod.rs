//! Session transcripts: one JSON record per line in `sessions/ID.jsonl`, appended (with
//! the home folder's locked append) as the conversation happens, so a crash loses at most
//! the record being written.
//!
//! Records: `meta` (id, model, source, start), `message` (user or assistant, with any
//! tool calls), `tool_result`, `usage`, `error`, `model` (on resume). Ids sort by time:
//! `20261124-091500-3fa2`.
//!
//! - [`reader`]: a transcript back into a conversation, tolerating a torn last line.
//! - [`store`]: listing, finding by id prefix, removing, pruning.

mod reader;
mod store;

pub use reader::{Loaded, load};
pub use store::{Entry, SessionError, Sessions, parse_age};

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Local};
use serde_json::{Value, json};

use crate::home::{Home, append_locked};
use crate::provider::{Message, Usage};

#[derive(Debug, Clone)]
pub struct Transcript {
    pub id: String,
    pub path: PathBuf,
}

impl Transcript {
    /// Starts a new transcript and writes its `meta` record.
    pub fn start(
        home: &Home,
        model: &str,
        source: &str,
        now: DateTime<Local>,
    ) -> io::Result<Transcript> {
        let id = new_id(now);
        let transcript = Transcript {
            path: home.sessions_dir().join(format!("{id}.jsonl")),
            id,
        };
        transcript.write(json!({
            "type": "meta",
            "id": transcript.id,
            "model": model,
            "source": source,
            "started": now.to_rfc3339(),
        }))?;
        Ok(transcript)
    }

    /// Continues an existing transcript (a resumed session), noting the model now in use.
    pub fn resume(entry: &Entry, model: &str) -> io::Result<Transcript> {
        let transcript = Transcript {
            id: entry.id.clone(),
            path: entry.path.clone(),
        };
        transcript.write(json!({"type": "model", "model": model, "resumed": true}))?;
        Ok(transcript)
    }

    pub fn message(&self, message: &Message) -> io::Result<()> {
        let record = match message {
            Message::User { content } => {
                json!({"type": "message", "role": "user", "content": content})
            }
            Message::Assistant {
                content,
                tool_calls,
            } => json!({
                "type": "message", "role": "assistant", "content": content, "tool_calls": tool_calls,
            }),
            Message::Tool {
                call_id,
                name,
                content,
                is_error,
            } => json!({
                "type": "tool_result", "call_id": call_id, "name": name, "content": content,
                "is_error": is_error,
            }),
        };
        self.write(record)
    }

    pub fn usage(&self, model: &str, usage: &Usage) -> io::Result<()> {
        self.write(json!({
            "type": "usage", "model": model,
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        }))
    }

    pub fn error(&self, message: &str, partial: Option<&str>) -> io::Result<()> {
        self.write(json!({"type": "error", "message": message, "partial": partial}))
    }

    /// Appends any record (compaction, for one).
    pub fn record(&self, record: Value) -> io::Result<()> {
        self.write(record)
    }

    fn write(&self, mut record: Value) -> io::Result<()> {
        record["at"] = json!(Local::now().to_rfc3339());
        append_locked(&self.path, &record.to_string())
    }
}

/// A sortable id: local time to the second, then four hex digits to tell apart sessions
/// started in the same second.
pub fn new_id(now: DateTime<Local>) -> String {
    let nanos = now.timestamp_subsec_nanos();
    let pid = std::process::id();
    let suffix = (nanos ^ pid.rotate_left(16)) & 0xffff;
    format!("{}-{suffix:04x}", now.format("%Y%m%d-%H%M%S"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn records_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(home.sessions_dir()).unwrap();
        let now = Local.with_ymd_and_hms(2026, 11, 24, 9, 15, 0).unwrap();
        let transcript = Transcript::start(&home, "gpt-4o", "ask", now).unwrap();
        assert!(transcript.id.starts_with("20261124-091500-"));
        transcript
            .message(&Message::User {
                content: "hi".into(),
            })
            .unwrap();
        let text = std::fs::read_to_string(&transcript.path).unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records[0]["type"], "meta");
        assert_eq!(records[1]["content"], "hi");
    }
}
