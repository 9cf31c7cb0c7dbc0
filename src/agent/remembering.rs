//! The agent's side of memory that needs no tool: what the person says is captured
//! (`memory.capture`; "Remember …" always), and before each turn the notes that bear on
//! their message are recalled into the request (`memory.recall = "auto"`). Neither is
//! allowed to fail a turn: a memory that cannot be written or searched is logged.

use chrono::Local;

use super::{Agent, Observer};
use crate::config::schema::RecallMode;
use crate::conversation::Message;
use crate::memory::recall::Recalled;
use crate::session::Session;

impl Agent {
    /// Files what the person's `message` leaves in memory, when the person speaks here.
    pub(super) fn capture_message(
        &self,
        session: &Session,
        message: &str,
        observer: &mut dyn Observer,
    ) {
        if !self.person {
            return;
        }
        let home = &self.context.home;
        let config = &self.context.config;
        let session_id = session.id().unwrap_or("unsaved");
        match crate::memory::capture::capture(
            home,
            Local::now(),
            session_id,
            message,
            config.memory.capture,
        ) {
            Ok(captured) => {
                if let Some(fact) = &captured.remembered {
                    observer.notice(&format!("remembered in MEMORY.md: {fact}"));
                    self.context.index_written(&home.memory_file());
                }
                if let Some((path, _)) = &captured.logged {
                    self.context.index_written(path);
                }
            }
            Err(err) => tracing::warn!("what was said was not captured in memory: {err}"),
        }
    }

    /// The notes to recall for the turn whose conversation ends in the person's message.
    pub(super) fn recall_for(&self, session: &Session) -> Vec<Recalled> {
        let config = &self.context.config;
        if !self.recalls
            || config.memory.recall != RecallMode::Auto
            || self.system_override.is_some()
        {
            return Vec::new();
        }
        let Some(Message::User { content, .. }) = session.messages().last() else {
            return Vec::new();
        };
        let home = &self.context.home;
        let embedder = self.context.embedder.get(home, config);
        let recalled =
            crate::memory::with_lazy(&self.context.memory, home, &config.memory, |memory| {
                crate::memory::recall::recall(
                    memory,
                    embedder.as_deref(),
                    content,
                    config.memory.recall_hits,
                    config.memory.recall_tokens,
                )
                .map_err(|err| err.to_string())
            });
        recalled.unwrap_or_else(|err| {
            tracing::warn!("nothing recalled: {err}");
            Vec::new()
        })
    }
}

/// `messages` with the recalled notes before the text of the last person's message: in
/// the request only, never in the transcript, and after the conversation so far, so what a
/// model cached of it stays valid.
pub(super) fn with_recalled(messages: &[Message], notes: &[Recalled]) -> Vec<Message> {
    let mut messages = messages.to_vec();
    if notes.is_empty() {
        return messages;
    }
    let last_person = messages
        .iter()
        .rposition(|message| matches!(message, Message::User { .. }));
    if let Some(Message::User { content, .. }) = last_person.and_then(|at| messages.get_mut(at)) {
        *content = format!("{}{content}", crate::memory::recall::block(notes));
    }
    messages
}
