//! A conversation as every provider sees it: user messages, assistant messages (with the
//! tool calls they ask for) and tool results — and the one [`repair`] that keeps a list of
//! them in the shape the providers accept, whatever cancellation, a crash or an old
//! transcript left behind. [`text_calls`] reads tool calls a model wrote as text.

mod repair;
pub mod text_calls;

use serde::{Deserialize, Serialize};

pub use repair::repair;
pub(crate) use repair::{Fix, UNFINISHED_CALL};

/// One message of a conversation, in a form every provider can translate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    User {
        content: String,
        /// Pictures sent with the text (an OpenAI client's `image_url` parts), for
        /// models that take them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<Image>,
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
            images: Vec::new(),
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
    pub(crate) fn result_of(
        call: &ToolCall,
        content: impl Into<String>,
        is_error: bool,
    ) -> Message {
        Message::Tool {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: content.into(),
            is_error,
        }
    }
}

/// A picture in a user message: its bytes (base64), or a link the provider fetches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Image {
    Data { media_type: String, data: String },
    Link { url: String },
}

impl Image {
    /// A `data:image/…;base64,…` URL or an `http(s)` link, as OpenAI's `image_url` holds.
    pub(crate) fn from_url(url: &str) -> Result<Image, String> {
        if let Some(rest) = url.strip_prefix("data:") {
            let (header, data) = rest
                .split_once(',')
                .ok_or("a data URL needs a comma before its data")?;
            let media_type = header
                .strip_suffix(";base64")
                .ok_or("only base64 data URLs are supported")?;
            if !media_type.starts_with("image/") {
                return Err(format!("`{media_type}` is not an image type"));
            }
            return Ok(Image::Data {
                media_type: media_type.to_string(),
                data: data.to_string(),
            });
        }
        if url.starts_with("https://") || url.starts_with("http://") {
            return Ok(Image::Link {
                url: url.to_string(),
            });
        }
        Err("an image is a data: URL or an http(s) link".to_string())
    }

    /// The image as a URL again (OpenAI's shape).
    pub fn url(&self) -> String {
        match self {
            Image::Data { media_type, data } => format!("data:{media_type};base64,{data}"),
            Image::Link { url } => url.clone(),
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
pub(crate) const INTERRUPTED: &str = "[interrupted]";

/// The note that follows an answer cut short (Ctrl-C, a client that went away), as a
/// message of the user's side: the model knows it did not finish, and — unlike a marker in
/// its own text — a small model does not learn to say it.
pub(crate) const INTERRUPTED_NOTE: &str = "[The user stopped the previous answer here.]";

/// The result of a call that was running when the turn was stopped.
pub(crate) const INTERRUPTED_WHILE_RUNNING: &str =
    "interrupted: the user stopped the turn while this ran; it may have partly happened";

/// The result of a call the turn was stopped before.
pub(crate) const INTERRUPTED_BEFORE_RUNNING: &str =
    "not run: the user stopped the turn before this call ran";

/// The first message of a compacted conversation, and the answer that follows it.
pub(crate) const SUMMARY_HEADER: &str = "[Summary of the earlier conversation]";
pub(crate) const SUMMARY_ACK: &str = "Understood; continuing from that summary.";

/// The two messages a summary of the earlier conversation becomes.
pub(crate) fn summary_messages(summary: &str) -> [Message; 2] {
    [
        Message::user(format!("{SUMMARY_HEADER}\n\n{summary}")),
        Message::assistant(SUMMARY_ACK),
    ]
}

#[cfg(test)]
mod image_tests {
    use super::*;

    #[test]
    fn images_come_from_data_urls_and_links_only() {
        let data = Image::from_url("data:image/png;base64,AAAA").unwrap();
        assert_eq!(
            data,
            Image::Data {
                media_type: "image/png".into(),
                data: "AAAA".into()
            }
        );
        assert_eq!(data.url(), "data:image/png;base64,AAAA");
        assert!(matches!(
            Image::from_url("https://x/y.png"),
            Ok(Image::Link { .. })
        ));
        for bad in [
            "data:text/plain;base64,aGk=",
            "data:image/png,raw",
            "data:image/png;base64",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            assert!(Image::from_url(bad).is_err(), "{bad}");
        }
        // A transcript written before images existed still reads.
        let old: Message = serde_json::from_str(r#"{"role":"user","content":"hi"}"#).unwrap();
        assert_eq!(old, Message::user("hi"));
    }
}
