//! Decoding guided by the tool-call grammar ([`super::grammar`]): before each token is
//! chosen, the candidates that would break the call are ruled out. An answer that is
//! not a call is left alone; once it starts like one (`<tool_call>`, or `{` for Llama's
//! format) only tokens that keep it a valid call of an offered tool remain, and the
//! answer may end only when the call is whole. With `forced` (a request that demands a
//! call) the answer is a call from its first token.

use std::sync::Arc;

use serde_json::Value;

use super::grammar::{Automaton, CallFormat, Node, Tool, tools_of};

/// How many of the likeliest tokens are checked before all of them are.
const CANDIDATES: usize = 256;

/// What a guided answer may be: calls of tools (written as `format` says), or one JSON
/// value of a schema (a request's `response_format`).
#[derive(Debug, Clone)]
pub struct ToolGuide {
    tools: Arc<Vec<Tool>>,
    format: CallFormat,
    forced: bool,
    value: Option<Node>,
}

impl ToolGuide {
    /// A guide for the OpenAI-style `tools` array; `None` when it names no tool.
    pub fn new(tools: &Value, format: CallFormat, forced: bool) -> Option<ToolGuide> {
        let tools = tools_of(tools);
        (!tools.is_empty()).then(|| ToolGuide {
            tools: Arc::new(tools),
            format,
            forced,
            value: None,
        })
    }

    /// A guide to one JSON value fitting `schema` (any JSON object without one), from
    /// the answer's first token.
    pub fn json_value(schema: Option<&Value>) -> ToolGuide {
        ToolGuide {
            tools: Arc::new(Vec::new()),
            format: CallFormat::Json,
            forced: true,
            value: Some(value_node(schema)),
        }
    }

    /// The same guide, with an answer that is not a call held to `schema` (any JSON
    /// object without one). Llama's calls begin as such a value would, so with them the
    /// answer is the value only.
    pub fn or_json_value(mut self, schema: Option<&Value>) -> ToolGuide {
        if self.format == CallFormat::Json {
            return ToolGuide::json_value(schema);
        }
        self.value = Some(value_node(schema));
        self
    }

    fn trigger(&self) -> &'static str {
        match self.format {
            CallFormat::Tagged => "<tool_call>",
            CallFormat::Json => "{",
        }
    }

    pub(super) fn start(&self) -> Guide<'_> {
        let state = if let (Some(node), true) = (&self.value, self.tools.is_empty()) {
            State::Active(Automaton::value(node))
        } else if self.forced {
            State::Active(Automaton::calls(Arc::clone(&self.tools), self.format))
        } else {
            State::Waiting(String::new())
        };
        Guide { spec: self, state }
    }
}

enum State {
    /// Nothing but the start of a call (or white space) so far.
    Waiting(String),
    Active(Automaton),
    /// The answer is prose.
    Free,
}

/// One answer's progress through the grammar.
pub(super) struct Guide<'s> {
    spec: &'s ToolGuide,
    state: State,
}

impl Guide<'_> {
    /// What `text` (said so far, waiting) becomes: still waiting, a call under way (or
    /// refused), or prose.
    fn after_waiting(&self, said: &str) -> Option<State> {
        let trimmed = said.trim_start();
        let trigger = self.spec.trigger();
        if trimmed.is_empty() || trigger.starts_with(trimmed) {
            return Some(State::Waiting(said.to_string()));
        }
        if !trimmed.starts_with(trigger) {
            // Not a call: prose, or the JSON answer asked for.
            return match &self.spec.value {
                None => Some(State::Free),
                Some(node) => {
                    let mut automaton = Automaton::value(node);
                    automaton
                        .feed_str(trimmed)
                        .then_some(State::Active(automaton))
                }
            };
        }
        let mut automaton = Automaton::calls(Arc::clone(&self.spec.tools), self.spec.format);
        automaton
            .feed_str(trimmed)
            .then_some(State::Active(automaton))
    }

    /// Whether `text` may come next.
    fn allows(&self, text: &str) -> bool {
        match &self.state {
            State::Free => true,
            State::Active(automaton) => automaton.clone().feed_str(text),
            State::Waiting(said) => self.after_waiting(&format!("{said}{text}")).is_some(),
        }
    }

    /// Whether the answer may end here.
    fn may_stop(&self) -> bool {
        match &self.state {
            State::Active(automaton) => automaton.complete(),
            State::Waiting(_) | State::Free => true,
        }
    }

    /// Whether tokens need checking at all.
    fn constrains(&self) -> bool {
        !matches!(self.state, State::Free)
    }

    /// Takes the chosen token's text.
    pub(super) fn advance(&mut self, text: &str) {
        let next = match std::mem::replace(&mut self.state, State::Free) {
            State::Free => State::Free,
            State::Active(mut automaton) => {
                if automaton.feed_str(text) {
                    State::Active(automaton)
                } else {
                    State::Free
                }
            }
            State::Waiting(said) => self
                .after_waiting(&format!("{said}{text}"))
                .unwrap_or(State::Free),
        };
        self.state = next;
    }

    /// Rules out (sets to −∞) every token of `logits` that cannot come next: those
    /// whose text would break the call, pieces of characters (`texts[id]` is `None`),
    /// and the `stops` while the call is not whole.
    pub(super) fn mask(&self, logits: &mut [f32], texts: &[Option<String>], stops: &[u32]) {
        if !self.constrains() {
            return;
        }
        let allowed = |id: usize| {
            if stops.contains(&(id as u32)) {
                return self.may_stop();
            }
            texts
                .get(id)
                .and_then(Option::as_deref)
                .is_some_and(|text| !text.is_empty() && self.allows(text))
        };
        let mut order: Vec<usize> = (0..logits.len()).collect();
        let head = CANDIDATES.min(order.len());
        if head < order.len() {
            order.select_nth_unstable_by(head, |&a, &b| logits[b].total_cmp(&logits[a]));
        }
        let mut keep: Vec<usize> = order[..head]
            .iter()
            .copied()
            .filter(|&id| allowed(id))
            .collect();
        // The end is always a candidate where the answer may end, likely or not.
        if self.may_stop() {
            keep.extend(
                stops
                    .iter()
                    .map(|&id| id as usize)
                    .filter(|&id| id < logits.len() && !order[..head].contains(&id)),
            );
        }
        if keep.iter().all(|id| stops.contains(&(*id as u32))) {
            keep.extend(order[head..].iter().copied().filter(|&id| allowed(id)));
        }
        if keep.is_empty() {
            // No token of this vocabulary goes on (a character it cannot write): the
            // answer goes on unguided, and a broken call is refused where it is read.
            return;
        }
        let mut masked = vec![f32::NEG_INFINITY; logits.len()];
        for id in keep {
            masked[id] = logits[id];
        }
        logits.copy_from_slice(&masked);
    }
}

fn value_node(schema: Option<&Value>) -> Node {
    match schema {
        Some(schema) => Node::of_schema(schema),
        None => Node::AnyObject {
            depth: super::grammar::ANY_DEPTH,
        },
    }
}

#[cfg(test)]
#[path = "guide_tests.rs"]
mod tests;
