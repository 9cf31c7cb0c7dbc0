//! The trace a conversation leaves when it ends (or before it is compacted): the
//! session's model writes what matters — decisions, facts about the person and their
//! world, preferences, commitments with dates — as lines of today's daily log, under the
//! session's name. The built-in model is too small to condense faithfully; for it the
//! person's own statements, captured as they were said, are the trace.

use chrono::Local;

use super::Agent;
use crate::config::schema::CaptureMode;
use crate::conversation::Message;
use crate::provider::ChatRequest;
use crate::session::Session;

const TRACE_SYSTEM: &str = "You keep a person's memory. From a conversation you write the few \
lines worth remembering later, in plain words.";

/// Lines a trace keeps at most, and how long each may be.
const MAX_LINES: usize = 12;
const MAX_LINE_CHARS: usize = 300;

/// Person turns from which a conversation leaves a trace even without a statement about
/// the person in it (a longer talk holds decisions).
const TURNS_WORTH_A_TRACE: usize = 3;

impl Agent {
    /// Writes the model's account of the conversation since the last trace to today's
    /// daily log; returns how many lines were new. Never fails the caller: a trace that
    /// cannot be written is logged.
    pub(crate) async fn leave_trace(&mut self, session: &Session) -> usize {
        let fresh = self.traced_upto < session.len();
        let written = self.leave_trace_of(session, session.len()).await;
        if fresh {
            // A process that resumes this session later (the API's next turn, the quiet
            // period's sweep) starts its trace after this point.
            session.note(&crate::session::Record::Traced {});
        }
        written
    }

    /// The trace of the messages before `upto` not traced yet.
    pub(super) async fn leave_trace_of(&mut self, session: &Session, upto: usize) -> usize {
        let messages = session.messages();
        let upto = upto.min(messages.len());
        let from = self.traced_upto.min(upto);
        let fresh = &messages[from..upto];
        self.traced_upto = upto;
        if !self.wants_trace(fresh) {
            return 0;
        }
        let today = Local::now();
        let request = ChatRequest {
            model: self.route.model.clone(),
            system: TRACE_SYSTEM.to_string(),
            messages: vec![Message::user(format!(
                "{}\n\nToday is {}. List what from this conversation is worth remembering \
                 about the user and their world: decisions, facts about them and the people, \
                 places and things in their life, preferences, commitments (with their dates \
                 as YYYY-MM-DD). One short line each, starting with \"- \", in the user's \
                 terms; nothing about the assistant, nothing said only in passing. If nothing \
                 is worth keeping, answer NOTHING.",
                super::compaction::render(fresh),
                today.format("%Y-%m-%d (%A)")
            ))],
            tools: Vec::new(),
            temperature: None,
            max_tokens: self.max_tokens,
            sampling: Default::default(),
            context_window: self.context_window,
        };
        let completion = match self.provider.stream(&request, &mut |_| {}).await {
            Ok(completion) => completion,
            Err(err) => {
                tracing::warn!("the conversation left no summary in memory: {err}");
                return 0;
            }
        };
        let lines = trace_lines(&completion.text);
        if lines.is_empty() {
            return 0;
        }
        let short: String = session.id().unwrap_or("unsaved").chars().take(8).collect();
        let label = format!("session {short} · summary");
        match crate::memory::capture::append_trace(&self.context.home, today, &label, &lines) {
            Ok((path, new)) => {
                self.context.index_written(&path);
                new
            }
            Err(err) => {
                tracing::warn!("the conversation's summary was not saved in memory: {err}");
                0
            }
        }
    }

    /// Messages before `floor` (a resumed conversation's past) leave no trace again.
    pub(crate) fn trace_from(&mut self, floor: usize) {
        self.traced_upto = self.traced_upto.max(floor);
    }

    /// A new conversation: its messages are counted from the start.
    pub(crate) fn restart_trace(&mut self) {
        self.traced_upto = 0;
    }

    fn wants_trace(&self, fresh: &[Message]) -> bool {
        if !self.person || self.context.config.memory.capture != CaptureMode::Summary {
            return false;
        }
        if self.route.kind == crate::config::ProviderKind::Local
            && self.route.model == crate::models::chat::MODEL_NAME
        {
            return false;
        }
        let said: Vec<&str> = fresh
            .iter()
            .filter_map(|message| match message {
                Message::User { content, .. } => Some(content.as_str()),
                _ => None,
            })
            .collect();
        let answered = fresh
            .iter()
            .any(|message| matches!(message, Message::Assistant { .. }));
        answered
            && (said.len() >= TURNS_WORTH_A_TRACE
                || said
                    .iter()
                    .any(|text| !crate::memory::capture::statements(text).is_empty()))
    }
}

/// The `- ` lines of the model's answer, trimmed and bounded; none for "NOTHING".
fn trace_lines(answer: &str) -> Vec<String> {
    answer
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .map(|line| crate::truncate::ellipsize(line.trim(), MAX_LINE_CHARS))
        .filter(|line| !line.is_empty())
        .take(MAX_LINES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_lines_are_kept() {
        let answer = "Here is what matters:\n- Partner Sam; moving to Lisbon in May.\n  - Booked the \
                      train for 2027-05-02.\nNOTHING else\n-\n";
        assert_eq!(
            trace_lines(answer),
            [
                "Partner Sam; moving to Lisbon in May.",
                "Booked the train for 2027-05-02."
            ]
        );
        assert!(trace_lines("NOTHING").is_empty());
        let many = "- x\n".repeat(40);
        assert_eq!(trace_lines(&many).len(), MAX_LINES);
    }
}
