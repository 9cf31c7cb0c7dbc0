//! A Telegram Bot API server on a loopback port, written from the documentation
//! (<https://core.telegram.org/bots/api>), as strict as the real one where a client can
//! go wrong: the token in the path or 401; `getUpdates` long polling, where an offset
//! confirms (forgets) every update below it; `sendMessage` refusing empty text, text over
//! 4096 UTF-16 units and `callback_data` over 64 bytes; a 429 with `retry_after` when a
//! test asks for one.

// The benchmark uses only part of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

pub const TOKEN: &str = "123456:TEST-token-abcdefghijklmnop";

#[derive(Default)]
struct State {
    next_update: i64,
    updates: VecDeque<Value>,
    /// Every call but getUpdates, in order: (method, body).
    calls: Vec<(String, Value)>,
    /// The offsets getUpdates was called with.
    polls: Vec<i64>,
    next_message: i64,
    /// sendMessage calls to refuse with 429 before accepting.
    rate_limited: u32,
    /// Each sent message's text now, by id.
    texts: std::collections::HashMap<i64, String>,
    /// When getUpdates last handed out updates, and when the last message was sent.
    handed_out_at: Option<Instant>,
    sent_at: Option<Instant>,
    /// Files sent to the bot: file_id → (file_path, bytes).
    files: std::collections::HashMap<String, (String, Vec<u8>)>,
}

pub struct FakeTelegram {
    pub port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
    _server: super::loopback::Loopback,
}

impl FakeTelegram {
    pub fn start() -> FakeTelegram {
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let server = super::loopback::start(state.clone(), handle);
        FakeTelegram {
            port: server.port,
            state,
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn push(&self, update: impl FnOnce(i64) -> Value) {
        let (lock, changed) = &*self.state;
        let mut state = lock.lock().unwrap();
        state.next_update += 1;
        let id = 1000 + state.next_update;
        state.updates.push_back(update(id));
        changed.notify_all();
    }

    /// A text message from `user` in their private chat with the bot.
    pub fn message_from(&self, user: i64, text: &str) {
        self.push(|id| {
            json!({"update_id": id, "message": {
                "message_id": id, "date": 1_765_000_000,
                "from": {"id": user, "is_bot": false, "first_name": "P"},
                "chat": {"id": user, "type": "private"},
                "text": text,
            }})
        });
    }

    /// A file sent by `user` as a document, with `caption`.
    pub fn document_from(&self, user: i64, name: &str, mime: &str, content: &[u8], caption: &str) {
        let file_id = format!("file-{name}");
        self.state.0.lock().unwrap().files.insert(
            file_id.clone(),
            (format!("documents/{name}"), content.to_vec()),
        );
        self.push(|id| {
            json!({"update_id": id, "message": {
                "message_id": id, "date": 1_765_000_000,
                "from": {"id": user, "is_bot": false, "first_name": "P"},
                "chat": {"id": user, "type": "private"},
                "caption": caption,
                "document": {"file_id": file_id, "file_unique_id": "u", "file_name": name,
                             "mime_type": mime, "file_size": content.len()},
            }})
        });
    }

    /// `user` presses a button whose data is `data` under message `message` of their chat.
    pub fn press(&self, user: i64, message: i64, data: &str) {
        self.push(|id| {
            json!({"update_id": id, "callback_query": {
                "id": format!("cb{id}"), "chat_instance": "1",
                "from": {"id": user, "is_bot": false, "first_name": "P"},
                "message": {"message_id": message, "date": 1_765_000_000,
                            "chat": {"id": user, "type": "private"}, "text": "?"},
                "data": data,
            }})
        });
    }

    pub fn rate_limit_next_sends(&self, count: u32) {
        self.state.0.lock().unwrap().rate_limited = count;
    }

    /// The calls of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let state = self.state.0.lock().unwrap();
        state
            .calls
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// When updates were last handed out, and when the latest message was sent after
    /// that (for the latency benchmark).
    pub fn handed_out_and_sent(&self) -> (Option<Instant>, Option<Instant>) {
        let state = self.state.0.lock().unwrap();
        (state.handed_out_at, state.sent_at)
    }

    pub fn polls(&self) -> Vec<i64> {
        self.state.0.lock().unwrap().polls.clone()
    }

    /// Waits until `done` holds of the calls and polls; the deadline only bounds a
    /// failing test.
    pub fn wait(&self, what: &str, done: impl Fn(&[(String, Value)], &[i64]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (lock, changed) = &*self.state;
        let mut state = lock.lock().unwrap();
        while !done(&state.calls, &state.polls) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            state = changed.wait_timeout(state, left).unwrap().0;
        }
    }
}

fn answer(status: StatusCode, body: Value) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap())
}

fn refused(code: u16, description: &str) -> Result<Response<Full<Bytes>>, Infallible> {
    answer(
        StatusCode::from_u16(code).unwrap(),
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    state: Arc<(Mutex<State>, Condvar)>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    if let Some((token, file)) = path
        .strip_prefix("/file/bot")
        .and_then(|rest| rest.split_once('/'))
    {
        let state = state.0.lock().unwrap();
        let found = state.files.values().find(|(path, _)| path == file);
        return match found {
            Some((_, bytes)) if token == TOKEN => {
                Ok(Response::new(Full::new(Bytes::from(bytes.clone()))))
            }
            _ => refused(404, "Not Found"),
        };
    }
    let Some((token, method)) = path
        .strip_prefix("/bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        return refused(404, "Not Found");
    };
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(json!({}));
    if token != TOKEN {
        return refused(401, "Unauthorized");
    }
    if method == "getUpdates" {
        return get_updates(&body, &state).await;
    }
    let (lock, changed) = &*state;
    let mut state = lock.lock().unwrap();
    let result = match method {
        "getMe" => json!({"id": 42, "is_bot": true, "first_name": "Test", "username": "test_bot"}),
        "sendMessage" => {
            let text = body["text"].as_str().unwrap_or_default();
            let visible = match visible_text(text, &body) {
                Ok(visible) => visible,
                Err(problem) => {
                    return refused(
                        400,
                        &format!("Bad Request: can't parse entities: {problem}"),
                    );
                }
            };
            if visible.trim().is_empty() {
                return refused(400, "Bad Request: message text is empty");
            }
            if visible.encode_utf16().count() > 4096 {
                return refused(400, "Bad Request: message is too long");
            }
            let buttons = body["reply_markup"]["inline_keyboard"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let too_long = buttons
                .iter()
                .flat_map(|row| row.as_array().cloned().unwrap_or_default())
                .any(|button| button["callback_data"].as_str().unwrap_or_default().len() > 64);
            if too_long {
                return refused(400, "Bad Request: BUTTON_DATA_INVALID");
            }
            if state.rate_limited > 0 {
                state.rate_limited -= 1;
                state.calls.push(("429".into(), body.clone()));
                changed.notify_all();
                return answer(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"ok": false, "error_code": 429,
                           "description": "Too Many Requests: retry after 1",
                           "parameters": {"retry_after": 1}}),
                );
            }
            state.next_message += 1;
            let id = state.next_message;
            state.texts.insert(id, text.to_string());
            state.sent_at = Some(Instant::now());
            json!({"message_id": state.next_message, "date": 1_765_000_000,
                   "chat": {"id": body["chat_id"], "type": "private"}, "text": text})
        }
        "editMessageText" => {
            let id = body["message_id"].as_i64().unwrap_or(0);
            let text = body["text"].as_str().unwrap_or_default().to_string();
            match state.texts.get(&id) {
                None => return refused(400, "Bad Request: message to edit not found"),
                Some(now) if *now == text => {
                    return refused(
                        400,
                        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                    );
                }
                Some(_) => {}
            }
            let visible = match visible_text(&text, &body) {
                Ok(visible) => visible,
                Err(problem) => {
                    return refused(
                        400,
                        &format!("Bad Request: can't parse entities: {problem}"),
                    );
                }
            };
            if visible.trim().is_empty() || visible.encode_utf16().count() > 4096 {
                return refused(400, "Bad Request: MESSAGE_TOO_LONG");
            }
            state.texts.insert(id, text.clone());
            json!({"message_id": id, "date": 1_765_000_000,
                   "chat": {"id": body["chat_id"], "type": "private"}, "text": text})
        }
        "answerCallbackQuery" | "sendChatAction" => json!(true),
        "getFile" => {
            let id = body["file_id"].as_str().unwrap_or_default();
            match state.files.get(id) {
                Some((path, bytes)) => json!({"file_id": id, "file_unique_id": "u",
                                              "file_size": bytes.len(), "file_path": path}),
                None => return refused(400, "Bad Request: invalid file_id"),
            }
        }
        _ => return refused(404, "Not Found: method not found"),
    };
    let mut body = body;
    if method == "sendMessage" {
        body["_message_id"] = json!(state.next_message);
    }
    state.calls.push((method.to_string(), body));
    changed.notify_all();
    answer(StatusCode::OK, json!({"ok": true, "result": result}))
}

/// Long polling: updates from `offset` on (those below it are confirmed and forgotten),
/// or, when there are none, an empty list after up to `timeout` seconds — sooner if one
/// arrives.
async fn get_updates(
    body: &Value,
    state: &Arc<(Mutex<State>, Condvar)>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let timeout = body["timeout"].as_u64().unwrap_or(0).min(30);
    let state = state.clone();
    let result = tokio::task::spawn_blocking(move || {
        let (lock, changed) = &*state;
        let mut state = lock.lock().unwrap();
        state.polls.push(offset);
        changed.notify_all();
        state
            .updates
            .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
        let deadline = Instant::now() + Duration::from_secs(timeout);
        while state.updates.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = changed.wait_timeout(state, left).unwrap().0;
            state
                .updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
        }
        if !state.updates.is_empty() {
            state.handed_out_at = Some(Instant::now());
        }
        state.updates.iter().cloned().collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    answer(StatusCode::OK, json!({"ok": true, "result": result}))
}

/// The text a message shows: with `parse_mode: "HTML"`, what is left of it once its tags
/// are read and its entities decoded, as Telegram reads it — the tags it supports,
/// properly nested, `a` with an `href`, and `&` only as `&lt;`, `&gt;`, `&amp;`,
/// `&quot;` or a numeric entity; anything else is refused.
fn visible_text(text: &str, body: &Value) -> Result<String, String> {
    if body["parse_mode"] != "HTML" {
        return Ok(text.to_string());
    }
    const TAGS: [&str; 14] = [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "a",
        "blockquote",
        "tg-spoiler",
    ];
    let mut visible = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("a tag is not closed")?;
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    match open.pop() {
                        Some(opened) if opened == name => {}
                        other => return Err(format!("</{name}> closes {other:?}")),
                    }
                    continue;
                }
                let name = tag.split_whitespace().next().unwrap_or_default();
                if !TAGS.contains(&name) {
                    return Err(format!("unsupported start tag \"{name}\""));
                }
                if name == "a" && !tag.contains("href=\"") {
                    return Err("a link without href".into());
                }
                open.push(name.to_string());
            }
            '&' => {
                let end = rest.find(';').ok_or("an & is not an entity")?;
                let entity = &rest[..=end];
                let decoded = match entity {
                    "&lt;" => '<',
                    "&gt;" => '>',
                    "&amp;" => '&',
                    "&quot;" => '"',
                    other => other
                        .strip_prefix("&#")
                        .and_then(|n| n.trim_end_matches(';').parse::<u32>().ok())
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("unsupported entity {other}"))?,
                };
                visible.push(decoded);
                rest = &rest[end + 1..];
            }
            c => {
                visible.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    match open.pop() {
        Some(unclosed) => Err(format!("<{unclosed}> is not closed")),
        None => Ok(visible),
    }
}
