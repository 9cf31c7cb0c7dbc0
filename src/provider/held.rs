//! Tool calls a model writes as text (see [`crate::conversation::text_calls`]), caught
//! while the answer streams: shared by the providers whose models do it (Ollama's, and
//! the GGUF models run in-process).

use super::{Completion, Event};
use crate::conversation::text_calls;

/// The answer's text as it streams. When tools were offered and the answer starts the
/// way calls written as text do (see [`text_calls`]), it is held back until it is
/// complete: then it becomes calls, or is let through as the text it was.
pub(crate) struct HeldAnswer {
    offered: Vec<String>,
    held: Option<String>,
    /// The text so far, while it may still turn out to be calls.
    seen: String,
}

impl HeldAnswer {
    pub(crate) fn new(offered: Vec<String>) -> HeldAnswer {
        HeldAnswer {
            offered,
            held: None,
            seen: String::new(),
        }
    }

    pub(crate) fn text(
        &mut self,
        content: &str,
        completion: &mut Completion,
        sink: &mut (dyn FnMut(Event) + Send),
    ) {
        if let Some(held) = &mut self.held {
            held.push_str(content);
            return;
        }
        let undecided = !self.offered.is_empty() && completion.text.trim().is_empty();
        if undecided {
            self.seen.push_str(content);
            if text_calls::may_be_calls(&self.seen) {
                self.held = Some(std::mem::take(&mut self.seen));
                return;
            }
        }
        completion.apply(Event::TextDelta(content.to_string()), sink);
    }

    pub(crate) fn finish(
        &mut self,
        completion: &mut Completion,
        sink: &mut (dyn FnMut(Event) + Send),
    ) {
        let Some(held) = self.held.take() else {
            return;
        };
        let first = completion.tool_calls.len();
        match text_calls::parse(&held, &self.offered, |index| {
            super::generated_call_id(first + index)
        }) {
            Some(calls) => {
                for call in calls {
                    completion.apply(Event::ToolCall(call), sink);
                }
            }
            None => completion.apply(Event::TextDelta(held), sink),
        }
    }
}
