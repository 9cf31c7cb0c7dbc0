//! Compaction: a long conversation is shortened before it fills the context window.
//!
//! 1. A silent memory-flush turn lets the model save durable facts, decisions and open
//!    tasks with `memory_save` (only when there is content it has not been asked about).
//! 2. The model summarises everything before the last `compaction.keep_recent` turns.
//! 3. Those messages are replaced in the live context by the summary, and a `compaction`
//!    record is appended to the transcript (which keeps the full history).
//!
//! If the summary cannot be made, the oldest turns are dropped instead, and the caller is
//! told so: the conversation keeps working either way.

use super::tools::ToolOutput;
use super::{Agent, Approval, Observer};
use crate::conversation::{Message, ToolCall, summary_messages};
use crate::provider::{ChatRequest, ProviderError};
use crate::session::{Record, Session};

const FLUSH_PROMPT: &str = "[Memory flush] This conversation is about to be compacted. Save \
anything worth keeping beyond it — durable facts about the user, decisions, open tasks — with \
memory_save (target \"memory\" for lasting facts, \"daily\" for the rest). Save nothing that is \
already saved. Then reply with the single word: done.";

const SUMMARY_SYSTEM: &str = "You summarise conversations so they can continue without the \
full text. Be complete about what matters and brief about everything else.";

const SUMMARY_PROMPT: &str = "Summarise the conversation above under these headings: Goals; \
Decisions; Facts; Open questions; Files touched. Keep names, numbers, paths and commands exact.";

/// Tool rounds the flush turn may take.
const FLUSH_ROUNDS: usize = 3;

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compacted {
    /// Too few turns to compact.
    Nothing,
    /// `replaced` messages became a summary.
    Summarised { replaced: usize },
    /// The summary failed; `dropped` oldest messages were let go.
    Dropped { dropped: usize, reason: String },
}

/// Answers "no" to everything: the flush turn runs nothing that needs approval.
struct Silent;

#[async_trait::async_trait]
impl Observer for Silent {
    fn text(&mut self, _delta: &str) {}
    fn tool_call(&mut self, _call: &ToolCall) {}
    fn tool_result(&mut self, _call: &ToolCall, _output: &ToolOutput) {}
    async fn approve(&mut self, _request: &str) -> Option<Approval> {
        None
    }
}

impl Agent {
    /// Compacts the conversation now (automatically near the limit, or on `/compact`).
    pub async fn compact(&mut self, session: &mut Session) -> Compacted {
        let conversation = session.messages();
        let users: Vec<usize> = conversation
            .iter()
            .enumerate()
            .filter(|(_, m)| matches!(m, Message::User { .. }))
            .map(|(i, _)| i)
            .collect();
        let keep = self.compaction.keep_recent.max(1);
        if users.len() <= keep {
            return Compacted::Nothing;
        }
        let cut = users[users.len() - keep];
        let old: Vec<Message> = conversation[..cut].to_vec();
        if self.flushed_upto < cut {
            self.flush(&old).await;
            self.flushed_upto = cut;
        }
        // What the compacted part said is written down before it leaves the context.
        if self.traced_upto < cut {
            self.leave_trace_of(session, cut).await;
        }
        let recent = session.messages()[cut..].to_vec();
        let kept = recent.len();
        let outcome = match self.summarise(&old).await {
            Ok(summary) => {
                let mut live = summary_messages(&summary).to_vec();
                live.extend(recent);
                let record = Record::Compaction {
                    summary: Some(summary),
                    replaced: cut,
                    kept,
                    error: None,
                };
                session.compact(live, &record);
                Compacted::Summarised { replaced: cut }
            }
            Err(err) => {
                let record = Record::Compaction {
                    summary: None,
                    replaced: cut,
                    kept,
                    error: Some(err.to_string()),
                };
                session.compact(recent, &record);
                Compacted::Dropped {
                    dropped: cut,
                    reason: err.to_string(),
                }
            }
        };
        // The old count no longer describes the context; estimate until the next report.
        self.reported = None;
        self.flushed_upto = self.flushed_upto.saturating_sub(cut).min(session.len());
        self.traced_upto = self.traced_upto.saturating_sub(cut).min(session.len());
        outcome
    }

    /// The memory-flush turn: its answer is not shown and not kept in the conversation;
    /// only what it saves with `memory_save` remains.
    async fn flush(&mut self, old: &[Message]) {
        let Some(spec) = self
            .registry
            .specs()
            .into_iter()
            .find(|s| s.name == "memory_save")
        else {
            return;
        };
        let mut messages = old.to_vec();
        messages.push(Message::user(FLUSH_PROMPT));
        for _ in 0..FLUSH_ROUNDS {
            let request = ChatRequest {
                model: self.route.model.clone(),
                system: SUMMARY_SYSTEM.to_string(),
                messages: messages.clone(),
                tools: vec![spec.clone()],
                temperature: None,
                max_tokens: self.max_tokens,
                sampling: Default::default(),
                context_window: self.context_window,
            };
            let Ok(completion) = self.provider.stream(&request, &mut |_| {}).await else {
                tracing::warn!("the memory flush before compaction failed; compacting anyway");
                return;
            };
            if completion.tool_calls.is_empty() {
                return;
            }
            messages.push(Message::Assistant {
                content: completion.text,
                tool_calls: completion.tool_calls.clone(),
            });
            for call in &completion.tool_calls {
                let output = self.run_tool(call, &mut Silent).await;
                messages.push(Message::Tool {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: output.content,
                    is_error: output.is_error,
                });
            }
        }
    }

    async fn summarise(&self, old: &[Message]) -> Result<String, ProviderError> {
        let request = ChatRequest {
            model: self.route.model.clone(),
            system: SUMMARY_SYSTEM.to_string(),
            messages: vec![Message::user(format!(
                "{}\n\n{SUMMARY_PROMPT}",
                render(old)
            ))],
            tools: Vec::new(),
            temperature: None,
            max_tokens: self.max_tokens,
            sampling: Default::default(),
            context_window: self.context_window,
        };
        let completion = self.provider.stream(&request, &mut |_| {}).await?;
        let summary = completion.text.trim().to_string();
        if summary.is_empty() {
            return Err(ProviderError::Protocol {
                provider: self.provider.name().to_string(),
                detail: "the summary came back empty".to_string(),
            });
        }
        Ok(summary)
    }
}

/// The old messages as a plain transcript for the summary request.
pub(super) fn render(messages: &[Message]) -> String {
    const TOOL_RESULT_CHARS: usize = 2000;
    let mut text = String::new();
    for message in messages {
        match message {
            Message::User { content, images } => {
                text.push_str(&format!("User: {content}\n\n"));
                if !images.is_empty() {
                    text.push_str(&format!("[the user showed {} image(s)]\n\n", images.len()));
                }
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                if !content.is_empty() {
                    text.push_str(&format!("Assistant: {content}\n\n"));
                }
                for call in tool_calls {
                    text.push_str(&format!(
                        "Assistant called {} with {}\n\n",
                        call.name, call.arguments
                    ));
                }
            }
            Message::Tool { name, content, .. } => text.push_str(&format!(
                "Result of {name}: {}\n\n",
                crate::truncate::ellipsize(content, TOOL_RESULT_CHARS)
            )),
        }
    }
    text
}
