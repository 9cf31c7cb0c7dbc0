//! The transcript's lines: one typed [`Record`] that the writer and the reader share, so
//! what is written is what is read back. Each line is a JSON object with a `type` and the
//! time it was written (`at`); a type this version does not know is read as
//! [`Record::Unknown`] and skipped, so newer transcripts still load.

use serde::{Deserialize, Serialize};

use crate::conversation::{Message, ToolCall};
use crate::provider::Usage;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The first line: what the session is.
    Meta {
        id: String,
        model: String,
        /// Which front door started it: `repl`, `ask`, `api`, `heartbeat`, `script`…
        source: String,
        started: String,
    },
    /// A user or assistant message.
    Message(Said),
    /// The answer to one tool call.
    ToolResult {
        call_id: String,
        name: String,
        content: String,
        #[serde(default)]
        is_error: bool,
    },
    /// The provider's count of one request.
    Usage {
        model: String,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// A turn that failed, with the text that had arrived.
    Error {
        message: String,
        #[serde(default)]
        partial: Option<String>,
    },
    /// The model in use from here on (a resumed session).
    Model {
        model: String,
        #[serde(default)]
        resumed: bool,
    },
    Title {
        title: String,
    },
    /// An OpenAI Responses API response ended here (`/v1/responses`): the id a client
    /// continues from with `previous_response_id`.
    Response {
        id: String,
    },
    /// The live context was shortened here: the `kept` last messages stay, the ones
    /// before became `summary` (or were dropped when no summary could be made).
    Compaction {
        #[serde(default)]
        summary: Option<String>,
        #[serde(default)]
        replaced: usize,
        kept: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The conversation so far left its trace in the daily log (see
    /// `Agent::leave_trace`): a later trace starts after it.
    Traced {},
    /// A line of a type this version does not know.
    #[serde(other)]
    Unknown,
}

/// A message of the person or the model, by role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Said {
    User {
        content: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<crate::conversation::Image>,
    },
    Assistant {
        content: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
}

/// A record as one line of the file: the record and when it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Line {
    #[serde(flatten)]
    pub record: Record,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl From<&Message> for Record {
    fn from(message: &Message) -> Record {
        match message.clone() {
            Message::User { content, images } => Record::Message(Said::User { content, images }),
            Message::Assistant {
                content,
                tool_calls,
            } => Record::Message(Said::Assistant {
                content,
                tool_calls,
            }),
            Message::Tool {
                call_id,
                name,
                content,
                is_error,
            } => Record::ToolResult {
                call_id,
                name,
                content,
                is_error,
            },
        }
    }
}

impl Record {
    pub fn usage(model: &str, usage: &Usage) -> Record {
        Record::Usage {
            model: model.to_string(),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
        }
    }

    /// The conversation message this record holds, if it holds one.
    pub fn message(&self) -> Option<Message> {
        match self.clone() {
            Record::Message(Said::User { content, images }) => {
                Some(Message::User { content, images })
            }
            Record::Message(Said::Assistant {
                content,
                tool_calls,
            }) => Some(Message::Assistant {
                content,
                tool_calls,
            }),
            Record::ToolResult {
                call_id,
                name,
                content,
                is_error,
            } => Some(Message::Tool {
                call_id,
                name,
                content,
                is_error,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_keep_the_format_earlier_versions_wrote() {
        let old = [
            json!({"type": "meta", "id": "x", "model": "gpt-4o", "source": "repl", "started": "t", "at": "t"}),
            json!({"type": "message", "role": "user", "content": "hi", "at": "t"}),
            json!({"type": "message", "role": "assistant", "content": "", "at": "t",
                   "tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": "ls"}}]}),
            json!({"type": "tool_result", "call_id": "c1", "name": "bash", "content": "a", "is_error": false, "at": "t"}),
            json!({"type": "usage", "model": "gpt-4o", "input_tokens": 1, "output_tokens": 2, "at": "t"}),
            json!({"type": "error", "message": "boom", "partial": null, "at": "t"}),
            json!({"type": "model", "model": "x", "resumed": true, "at": "t"}),
            json!({"type": "title", "title": "Greeting", "at": "t"}),
            json!({"type": "compaction", "summary": "s", "replaced": 4, "kept": 2, "at": "t"}),
        ];
        for value in old {
            let line: Line = serde_json::from_value(value.clone()).unwrap();
            assert_ne!(line.record, Record::Unknown, "{value}");
            assert_eq!(serde_json::to_value(&line).unwrap(), value);
        }
        let future: Line =
            serde_json::from_value(json!({"type": "reaction", "emoji": "👍"})).unwrap();
        assert_eq!(future.record, Record::Unknown);
    }

    #[test]
    fn messages_round_trip_through_records() {
        let call = ToolCall {
            id: "c".into(),
            name: "bash".into(),
            arguments: json!({}),
        };
        for message in [
            Message::user("hi"),
            Message::assistant("hello"),
            Message::result_of(&call, "out", true),
        ] {
            assert_eq!(Record::from(&message).message(), Some(message));
        }
    }
}
