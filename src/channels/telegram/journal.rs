//! What a bot keeps across restarts, in `channels/telegram.json`: the offset of the next
//! update to ask for, the messages received but not yet answered, and each chat's
//! session. A message is written here before its update is confirmed to Telegram (the
//! next `getUpdates` with a higher offset confirms it) and taken out once answered, so a
//! restart answers what was cut short and nothing twice. Replaced atomically each time.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A message from an allowed person, waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub update_id: i64,
    pub chat: i64,
    pub user: i64,
    pub text: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    offset: i64,
    pending: Vec<Pending>,
    /// Chat id → its session's id.
    sessions: BTreeMap<String, String>,
}

pub struct Journal {
    path: PathBuf,
    state: State,
}

impl Journal {
    /// The journal in `dir`; a missing one is empty, an unreadable one an error (never
    /// silently reset: that would answer old messages again).
    pub fn open(dir: &Path) -> io::Result<Journal> {
        let path = dir.join("telegram.json");
        let state = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|err| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a channel journal: {err}", path.display()),
                )
            })?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => State::default(),
            Err(err) => return Err(err),
        };
        Ok(Journal { path, state })
    }

    pub fn offset(&self) -> i64 {
        self.state.offset
    }

    pub fn pending(&self) -> &[Pending] {
        &self.state.pending
    }

    pub fn session_of(&self, chat: i64) -> Option<&str> {
        self.state
            .sessions
            .get(&chat.to_string())
            .map(String::as_str)
    }

    /// Updates up to `update_id` are handled (answered, refused, or kept as pending).
    pub fn seen(&mut self, update_id: i64, pending: Option<Pending>) -> io::Result<()> {
        self.state.offset = self.state.offset.max(update_id + 1);
        if let Some(pending) = pending
            && !self
                .state
                .pending
                .iter()
                .any(|p| p.update_id == pending.update_id)
        {
            self.state.pending.push(pending);
        }
        self.save()
    }

    /// The message `update_id` is answered; `session` is its chat's session.
    pub fn answered(&mut self, update_id: i64, chat: i64, session: Option<&str>) -> io::Result<()> {
        self.state.pending.retain(|p| p.update_id != update_id);
        if let Some(session) = session {
            self.state
                .sessions
                .insert(chat.to_string(), session.to_string());
        }
        self.save()
    }

    fn save(&self) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(&self.state).map_err(io::Error::other)?;
        crate::home::write_atomic(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_pending_messages_and_sessions_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        assert_eq!(journal.offset(), 0);
        let message = Pending {
            update_id: 41,
            chat: 7,
            user: 9,
            text: "hi".into(),
        };
        journal.seen(41, Some(message.clone())).unwrap();
        journal.seen(42, None).unwrap();
        let mut again = Journal::open(dir.path()).unwrap();
        assert_eq!(again.offset(), 43);
        assert_eq!(again.pending(), [message]);
        again.answered(41, 7, Some("s1")).unwrap();
        let third = Journal::open(dir.path()).unwrap();
        assert!(third.pending().is_empty());
        assert_eq!(third.session_of(7), Some("s1"));
        std::fs::write(dir.path().join("telegram.json"), "{").unwrap();
        assert!(Journal::open(dir.path()).is_err());
    }
}
