//! A conversation as every provider sees it: user messages, assistant messages (with the
//! tool calls they ask for) and tool results — and the one [`repair`] that keeps a list of
//! them in the shape the providers accept, whatever cancellation, a crash or an old
//! transcript left behind.

mod repair;

use serde::{Deserialize, Serialize};

pub use repair::{Fix, UNFINISHED_CALL, repair};

/// One message of a conversation, in a form every provider can translate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    User {
        content: String,
    },
    Assistant {
        content: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, answered back to the model.
    Tool {
        call_id: String,
        name: String,
        content: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

impl Message {
    pub fn user(content: impl Into<String>) -> Message {
        Message::User {
            content: content.into(),
        }
    }

    /// An assistant message with text only.
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::Assistant {
            content: content.into(),
            tool_calls: Vec::new(),
        }
    }

    /// The result of `call`.
    pub fn result_of(call: &ToolCall, content: impl Into<String>, is_error: bool) -> Message {
        Message::Tool {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: content.into(),
            is_error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model gave them: a JSON object when well formed.
    pub arguments: serde_json::Value,
}

/// What a front door shows when a turn is cut short by the person.
pub const INTERRUPTED: &str = "[interrupted]";

/// The note that follows an answer cut short (Ctrl-C, a client that went away), as a
/// message of the user's side: the model knows it did not finish, and — unlike a marker in
/// its own text — a small model does not learn to say it.
pub const INTERRUPTED_NOTE: &str = "[The user stopped the previous answer here.]";

/// The result of a call that was running when the turn was stopped.
pub const INTERRUPTED_WHILE_RUNNING: &str =
    "interrupted: the user stopped the turn while this ran; it may have partly happened";

/// The result of a call the turn was stopped before.
pub const INTERRUPTED_BEFORE_RUNNING: &str =
    "not run: the user stopped the turn before this call ran";

/// The first message of a compacted conversation, and the answer that follows it.
pub const SUMMARY_HEADER: &str = "[Summary of the earlier conversation]";
pub const SUMMARY_ACK: &str = "Understood; continuing from that summary.";

/// The two messages a summary of the earlier conversation becomes.
pub fn summary_messages(summary: &str) -> [Message; 2] {
    [
        Message::user(format!("{SUMMARY_HEADER}\n\n{summary}")),
        Message::assistant(SUMMARY_ACK),
    ]
}
