//! Sessions: a conversation as it goes ([`Session`]: the messages the model sees and the
//! transcript that records them), and its transcript on disk — one JSON record per line in
//! `sessions/ID.jsonl`, appended (with the home folder's locked append) as the
//! conversation happens, so a crash loses at most the record being written.
//!
//! Ids sort by time: `20261124-091500-3fa2`.
//!
//! - [`record`]: the typed lines, shared by the writer and the reader.
//! - [`reader`]: a transcript back into a conversation, tolerating a torn last line, and
//!   repaired so that a provider accepts it.
//! - [`store`]: listing, finding by id prefix, removing, pruning.

mod reader;
pub mod record;
mod store;

pub(crate) use reader::Loaded;
pub use reader::load;
pub(crate) use record::Record;
pub use store::Sessions;
pub(crate) use store::{Entry, SessionError, parse_age};

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Local};

use crate::conversation::{Fix, Message};
use crate::home::{Home, append_locked};
use record::Line;

/// A transcript file being written.
#[derive(Debug, Clone)]
pub(crate) struct Transcript {
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
        transcript.write(&Record::Meta {
            id: transcript.id.clone(),
            model: model.to_string(),
            source: source.to_string(),
            started: now.to_rfc3339(),
        })?;
        Ok(transcript)
    }

    /// Continues an existing transcript (a resumed session), noting the model now in use.
    pub fn resume(entry: &Entry, model: &str) -> io::Result<Transcript> {
        let transcript = Transcript {
            id: entry.id.clone(),
            path: entry.path.clone(),
        };
        transcript.write(&Record::Model {
            model: model.to_string(),
            resumed: true,
        })?;
        Ok(transcript)
    }

    pub fn write(&self, record: &Record) -> io::Result<()> {
        let line = Line {
            record: record.clone(),
            at: Some(Local::now().to_rfc3339()),
        };
        let text = serde_json::to_string(&line).map_err(io::Error::other)?;
        append_locked(&self.path, &text)
    }
}

/// A conversation as it goes: the messages the model sees and, unless the conversation
/// is not kept (the OpenAI endpoint's, where the client holds the history), the
/// transcript every message is written to as it is added. The two change together, so
/// the file always says what the model was shown.
#[derive(Debug, Default)]
pub struct Session {
    messages: Vec<Message>,
    transcript: Option<Transcript>,
}

impl Session {
    /// A conversation that is not saved, starting from `messages`.
    pub(crate) fn ephemeral(messages: Vec<Message>) -> Session {
        Session {
            messages,
            transcript: None,
        }
    }

    /// A new conversation recorded in an existing transcript (the daemon's heartbeat
    /// checks share one session file per run).
    pub(crate) fn recorded_in(transcript: Option<Transcript>) -> Session {
        Session {
            messages: Vec::new(),
            transcript,
        }
    }

    /// A new, saved conversation. When the transcript cannot be written the conversation
    /// still goes on, unsaved, and the log says why.
    pub fn start(home: &Home, model: &str, source: &str) -> Session {
        let transcript = Transcript::start(home, model, source, Local::now())
            .map_err(|err| tracing::warn!("the session will not be saved: {err}"))
            .ok();
        Session {
            messages: Vec::new(),
            transcript,
        }
    }

    /// Continues a saved session: its conversation (repaired, see [`load`]) becomes the
    /// live one and new messages are appended to its transcript.
    pub fn resume(entry: &Entry, model: &str) -> io::Result<(Session, Loaded)> {
        let mut loaded = load(&entry.path)?;
        let session = Session {
            messages: std::mem::take(&mut loaded.messages),
            transcript: Some(Transcript::resume(entry, model)?),
        };
        Ok((session, loaded))
    }

    /// A saved session read again to look at rather than to go on with: no `model` line
    /// is written, only what is noted later.
    pub(crate) fn reread(entry: &Entry) -> io::Result<(Session, Loaded)> {
        let mut loaded = load(&entry.path)?;
        let session = Session {
            messages: std::mem::take(&mut loaded.messages),
            transcript: Some(Transcript {
                id: entry.id.clone(),
                path: entry.path.clone(),
            }),
        };
        Ok((session, loaded))
    }

    /// The saved session's id, if it is saved.
    pub fn id(&self) -> Option<&str> {
        self.transcript.as_ref().map(|t| t.id.as_str())
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Adds a message to the conversation and its transcript.
    pub fn push(&mut self, message: Message) {
        self.note(&Record::from(&message));
        self.messages.push(message);
    }

    /// Writes a record that is not a message (usage, a title, an error).
    pub fn note(&self, record: &Record) {
        if let Some(transcript) = &self.transcript
            && let Err(err) = transcript.write(record)
        {
            tracing::warn!("cannot write the session transcript: {err}");
        }
    }

    /// Replaces the live context (compaction), recording why in the transcript, which
    /// keeps the full history.
    pub fn compact(&mut self, messages: Vec<Message>, record: &Record) {
        self.note(record);
        self.messages = messages;
    }

    /// Gives a tool call that was left for the caller to run (an OpenAI client's, see
    /// `TurnReport::client_calls`) its result. Loading the session answered it as
    /// unfinished; that stand-in is replaced, and the result written to the transcript,
    /// where it follows the call's other results, so a reload pairs it the same way.
    /// False when `call_id` is no such call.
    pub(crate) fn answer_pending(&mut self, call_id: &str, content: &str) -> bool {
        let Some(message) = self.messages.iter_mut().rev().find(|message| {
            matches!(message, Message::Tool { call_id: id, content, .. }
                if id == call_id && content == crate::conversation::UNFINISHED_CALL)
        }) else {
            return false;
        };
        if let Message::Tool {
            content: stand_in,
            is_error,
            ..
        } = message
        {
            *stand_in = content.to_string();
            *is_error = false;
        }
        let answered = message.clone();
        self.note(&Record::from(&answered));
        true
    }

    /// Repairs the live conversation (see [`crate::conversation::repair`]) and logs what
    /// changed. Nothing needs writing: a reload repairs the transcript the same way.
    pub fn repair(&mut self) -> Vec<Fix> {
        let fixes = crate::conversation::repair(&mut self.messages);
        log_fixes(self.id(), &fixes);
        fixes
    }
}

pub(crate) fn log_fixes(session: Option<&str>, fixes: &[Fix]) {
    for fix in fixes {
        tracing::info!(
            session = session.unwrap_or("(unsaved)"),
            "conversation repaired: {fix}"
        );
    }
}

/// A sortable id: local time to the second, then four hex digits to tell apart sessions
/// started in the same second.
pub(crate) fn new_id(now: DateTime<Local>) -> String {
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
            .write(&Record::from(&Message::user("hi")))
            .unwrap();
        let text = std::fs::read_to_string(&transcript.path).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records[0]["type"], "meta");
        assert_eq!(records[1]["content"], "hi");
        assert!(records[1]["at"].is_string());
    }

    #[test]
    fn where_the_last_trace_got_to_is_read_back_through_a_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(home.sessions_dir()).unwrap();
        let transcript = Transcript::start(&home, "gpt-4o", "api", Local::now()).unwrap();
        let said = |text: &str, answer: &str| {
            transcript
                .write(&Record::from(&Message::user(text)))
                .unwrap();
            transcript
                .write(&Record::from(&Message::assistant(answer)))
                .unwrap();
        };
        said("one", "1");
        said("two", "2");
        transcript.write(&Record::Traced {}).unwrap();
        assert_eq!(load(&transcript.path).unwrap().traced, 4);
        said("three", "3");
        // Compacted: the first four became a summary, the last two were kept.
        transcript
            .write(&Record::Compaction {
                summary: Some("one, two".to_string()),
                replaced: 4,
                kept: 2,
                error: None,
            })
            .unwrap();
        let loaded = load(&transcript.path).unwrap();
        let untraced: Vec<&Message> = loaded.messages[loaded.traced..].iter().collect();
        assert_eq!(
            untraced,
            [&Message::user("three"), &Message::assistant("3")],
            "{:?}",
            loaded.messages
        );
    }
}
