//! The Bot API calls a channel makes (<https://core.telegram.org/bots/api>): each a POST
//! of JSON to `{api_url}/bot{token}/{method}`, answered `{"ok": true, "result": …}` or
//! `{"ok": false, "error_code": …, "description": …, "parameters": {"retry_after": …}}`.
//! A 429 is waited out as `retry_after` says and sent again; the token, which is part of
//! every address, never reaches an error message or the log.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::net::HttpSettings;

/// A Bot API message's longest text, in UTF-16 code units.
pub const MESSAGE_LIMIT: usize = 4096;
/// How long a `getUpdates` call waits for something to arrive.
pub const POLL_SECONDS: u64 = 25;
/// How many 429s in a row one call waits out before it gives up.
const MAX_RATE_LIMITED: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("the Telegram Bot API at {api} cannot be reached: {detail}")]
    Unreachable { api: String, detail: String },
    #[error("the Telegram Bot API refused {method}: {code} {description}")]
    Refused {
        method: &'static str,
        code: i64,
        description: String,
    },
    #[error("the Telegram Bot API answered {method} with something unreadable: {detail}")]
    Unreadable {
        method: &'static str,
        detail: String,
    },
}

impl BotError {
    /// The token was refused (revoked, mistyped): polling on will not help.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            BotError::Refused {
                code: 401 | 404,
                ..
            }
        )
    }

    /// Telegram could not read a message's HTML.
    fn is_unparsable(&self) -> bool {
        matches!(self, BotError::Refused { code: 400, description, .. }
            if description.contains("can't parse entities"))
    }
}

/// The Markdown source of each message an answer becomes. Cut a little short of
/// [`MESSAGE_LIMIT`], which Telegram counts on the rendered text: rendering drops most
/// markup but writes a rule or a task box a few characters longer.
pub fn pieces(markdown: &str) -> Vec<String> {
    super::split::split(markdown, MESSAGE_LIMIT - 96, super::split::utf16)
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub document: Option<Document>,
}

/// A file sent as a document.
#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub file_id: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    file_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub data: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// A bot: the API's address and the token.
#[derive(Clone)]
pub struct Bot {
    api: String,
    token: String,
    client: reqwest::Client,
}

impl Bot {
    pub fn new(api_url: &str, token: &str) -> Result<Bot, BotError> {
        let settings = HttpSettings {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(POLL_SECONDS + 20),
            retry: Default::default(),
        };
        let client = crate::net::client_builder(&settings)
            .build()
            .map_err(|err| BotError::Unreachable {
                api: api_url.to_string(),
                detail: err.without_url().to_string(),
            })?;
        Ok(Bot {
            api: api_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            client,
        })
    }

    pub async fn get_me(&self) -> Result<User, BotError> {
        self.call("getMe", json!({})).await
    }

    /// A file's bytes (`getFile`, then the download address it names), refused past
    /// `limit` bytes.
    pub async fn download(&self, file_id: &str, limit: usize) -> Result<Vec<u8>, BotError> {
        let file: File = self.call("getFile", json!({"file_id": file_id})).await?;
        let path = file.file_path.ok_or_else(|| BotError::Unreadable {
            method: "getFile",
            detail: "no file_path (the file is gone, or over the Bot API's 20 MB)".into(),
        })?;
        let url = format!("{}/file/bot{}/{path}", self.api, self.token);
        let unreachable = |detail: String| BotError::Unreachable {
            api: self.api.clone(),
            detail,
        };
        let mut response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|err| unreachable(err.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(BotError::Refused {
                method: "getFile",
                code: i64::from(response.status().as_u16()),
                description: "the download was refused".into(),
            });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| unreachable(err.without_url().to_string()))?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(BotError::Refused {
                    method: "getFile",
                    code: 413,
                    description: format!("the file is over {limit} bytes"),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Updates after those confirmed (`offset`: the last seen update's id plus one),
    /// waiting up to [`POLL_SECONDS`] for one.
    pub async fn get_updates(&self, offset: i64) -> Result<Vec<Update>, BotError> {
        self.call(
            "getUpdates",
            json!({
                "offset": offset,
                "timeout": POLL_SECONDS,
                "allowed_updates": ["message", "callback_query"],
            }),
        )
        .await
    }

    /// A plain-text message, with buttons under it if given.
    pub async fn send_message(
        &self,
        chat: i64,
        text: &str,
        buttons: Option<Value>,
    ) -> Result<Message, BotError> {
        let mut body = json!({"chat_id": chat, "text": text});
        if let Some(buttons) = buttons {
            body["reply_markup"] = json!({"inline_keyboard": buttons});
        }
        self.call("sendMessage", body).await
    }

    /// `markdown` rendered as Telegram's HTML; as plain text if Telegram cannot read the
    /// HTML after all (then nothing is lost, only the styling).
    pub async fn send_markdown(&self, chat: i64, markdown: &str) -> Result<Message, BotError> {
        let html = super::html::to_html(markdown);
        let body = json!({"chat_id": chat, "text": html, "parse_mode": "HTML"});
        match self.call("sendMessage", body).await {
            Err(err) if err.is_unparsable() => self.send_message(chat, markdown, None).await,
            other => other,
        }
    }

    /// Replaces a message's text (and takes its buttons away).
    pub async fn edit_message_text(
        &self,
        chat: i64,
        message: i64,
        text: &str,
    ) -> Result<Value, BotError> {
        self.call(
            "editMessageText",
            json!({"chat_id": chat, "message_id": message, "text": text}),
        )
        .await
    }

    /// [`Bot::edit_message_text`] with `markdown` rendered as for [`Bot::send_markdown`].
    pub async fn edit_markdown(
        &self,
        chat: i64,
        message: i64,
        markdown: &str,
    ) -> Result<Value, BotError> {
        let html = super::html::to_html(markdown);
        let body =
            json!({"chat_id": chat, "message_id": message, "text": html, "parse_mode": "HTML"});
        match self.call("editMessageText", body).await {
            Err(err) if err.is_unparsable() => {
                self.edit_message_text(chat, message, markdown).await
            }
            other => other,
        }
    }

    pub async fn answer_callback_query(&self, id: &str, text: &str) -> Result<bool, BotError> {
        self.call(
            "answerCallbackQuery",
            json!({"callback_query_id": id, "text": text}),
        )
        .await
    }

    /// Markdown `text` as as many messages as it takes, each within the limit, cut at
    /// paragraph or line breaks where there are some, each rendered on its own.
    pub async fn send_text(&self, chat: i64, text: &str) -> Result<(), BotError> {
        for piece in pieces(text) {
            self.send_markdown(chat, &piece).await?;
        }
        Ok(())
    }

    /// "typing…" in the chat, for five seconds or until a message is sent.
    pub async fn send_typing(&self, chat: i64) -> Result<bool, BotError> {
        self.call(
            "sendChatAction",
            json!({"chat_id": chat, "action": "typing"}),
        )
        .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        body: Value,
    ) -> Result<T, BotError> {
        let url = format!("{}/bot{}/{method}", self.api, self.token);
        let mut rate_limited = 0;
        loop {
            let response = self
                .client
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(|err| BotError::Unreachable {
                    api: self.api.clone(),
                    detail: crate::net::innermost_cause(&err.without_url()),
                })?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .map_err(|err| BotError::Unreachable {
                    api: self.api.clone(),
                    detail: err.without_url().to_string(),
                })?;
            let answer: Answer =
                serde_json::from_slice(&bytes).map_err(|err| BotError::Unreadable {
                    method,
                    detail: format!("HTTP {status}: {err}"),
                })?;
            if answer.ok {
                let result = answer.result.unwrap_or(Value::Null);
                return serde_json::from_value(result).map_err(|err| BotError::Unreadable {
                    method,
                    detail: err.to_string(),
                });
            }
            let code = answer.error_code.unwrap_or(i64::from(status.as_u16()));
            let retry_after = answer.parameters.and_then(|p| p.retry_after);
            if code == 429 && rate_limited < MAX_RATE_LIMITED {
                rate_limited += 1;
                let wait = retry_after.unwrap_or(1).min(300);
                tracing::info!(method, wait, "telegram: rate limited; waiting as asked");
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            return Err(BotError::Refused {
                method,
                code,
                description: answer.description.unwrap_or_default(),
            });
        }
    }
}
