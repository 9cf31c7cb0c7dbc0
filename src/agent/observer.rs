//! How a front door shows a turn: the terminal, an SSE stream, a script's return value.

use async_trait::async_trait;

use super::tools::ToolOutput;
use crate::conversation::ToolCall;

/// A person's answer to "may I run this?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Yes,
    No,
    /// Yes, and do not ask again for this tool in this session.
    Always,
}

#[async_trait]
pub trait Observer: Send {
    fn text(&mut self, delta: &str);
    fn tool_call(&mut self, call: &ToolCall);
    fn tool_result(&mut self, call: &ToolCall, output: &ToolOutput);
    /// Asked only when `tools.approval` is `ask` and the policy would allow the call.
    /// `None` means nobody can answer (no terminal): the call is refused and the model is
    /// told why. The turn's cancel signal stops the question: an implementation that
    /// waits for a person must return when the future is dropped or the turn cancelled.
    async fn approve(&mut self, request: &str) -> Option<Approval>;
    fn notice(&mut self, _text: &str) {}
    /// The notes recalled from memory into the turn's request, before it is sent.
    fn recalled(&mut self, _notes: &[crate::memory::recall::Recalled]) {}
}

/// For turns nobody watches (a script's `ask`, a skill run by a script): the answer is
/// collected as a value and tool activity goes to the log.
pub(crate) struct LogObserver;

#[async_trait]
impl Observer for LogObserver {
    fn text(&mut self, _delta: &str) {}
    fn tool_call(&mut self, call: &ToolCall) {
        tracing::info!(target: "script", tool = call.name, "the model called a tool");
    }
    fn tool_result(&mut self, _call: &ToolCall, _output: &ToolOutput) {}
    /// Nobody to ask: calls that need approval follow the run's policy (`localgpt run`
    /// approves, a daemon task does not), and are refused under `ask`.
    async fn approve(&mut self, _request: &str) -> Option<Approval> {
        None
    }
}
