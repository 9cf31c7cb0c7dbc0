//! A fake LLM provider: a real HTTP server on a loopback port that speaks the OpenAI
//! (`/v1/chat/completions`, SSE), Anthropic (`/v1/messages`, SSE) and Ollama (`/api/chat`,
//! NDJSON) wire formats. Tests script its replies — text, tool calls, and faults (a status
//! with `Retry-After`, a stream cut part-way, slow tokens, malformed JSON) — and read back
//! every request it received.
//!
//! It is as strict as the real services (see [`super::strict`]): a request they would
//! refuse — an unanswered tool call, a result without its call, a conversation that does
//! not open with the user — gets their 400 and their wording, is remembered in
//! [`FakeProvider::refusals`], and uses up no scripted reply. Tool-call ids are unique, as
//! real ones are.

#![allow(dead_code)] // Each test file uses part of it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Text, streamed as these pieces.
    Text(Vec<String>),
    /// A call of `name` with `arguments`, optionally after some text.
    Tool {
        text: String,
        name: String,
        arguments: Value,
    },
    /// Several calls in one answer (parallel tool calls).
    Tools(Vec<(String, Value)>),
    /// An error status, with an optional `Retry-After` in seconds.
    Status { code: u16, retry_after: Option<u64> },
    /// Sends these pieces, then closes the stream without finishing the answer.
    Cut(Vec<String>),
    /// Waits `delay` before each piece.
    Slow(Vec<String>, Duration),
    /// A stream chunk that is not JSON.
    Malformed,
    /// Waits before the whole reply (a model that thinks before it answers).
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    pub fn text(pieces: &[&str]) -> Reply {
        Reply::Text(pieces.iter().map(|p| p.to_string()).collect())
    }

    pub fn after(self, delay: Duration) -> Reply {
        Reply::Delayed(delay, Box::new(self))
    }

    pub fn tool(name: &str, arguments: Value) -> Reply {
        Reply::Tool {
            text: String::new(),
            name: name.to_string(),
            arguments,
        }
    }
}

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct State {
    replies: VecDeque<Reply>,
    received: Vec<Received>,
    /// Requests refused as the real API would, with the error sent back.
    refusals: Vec<(String, Value)>,
    /// The models Ollama's `/api/show` was asked about, in order (kept apart from
    /// `received`, which holds the chat and embedding requests).
    shown: Vec<String>,
    /// Tool calls made so far, for unique ids.
    calls: usize,
    /// A test that sends what the API refuses on purpose says so; otherwise a refusal
    /// fails the test when the fake is dropped.
    refusals_expected: bool,
    /// When the first body byte of the latest streamed reply was handed to the socket
    /// (for the latency benchmark).
    first_frame_at: Option<std::time::Instant>,
}

pub struct FakeProvider {
    pub port: u16,
    state: Arc<Mutex<State>>,
    /// Dropping it stops the server.
    _server: super::loopback::Loopback,
}

impl FakeProvider {
    /// Starts the server on its own thread and runtime (tests drive a separate process).
    pub fn start() -> FakeProvider {
        let state = Arc::new(Mutex::new(State::default()));
        let server = super::loopback::start(state.clone(), handle);
        FakeProvider {
            port: server.port,
            state,
            _server: server,
        }
    }

    /// The base URL without a path (Anthropic style; OpenAI's is this plus `/v1`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn push(&self, reply: Reply) -> &FakeProvider {
        self.state.lock().expect("state").replies.push_back(reply);
        self
    }

    /// The models Ollama's `/api/show` was asked about.
    pub fn shown(&self) -> Vec<String> {
        self.state.lock().expect("state").shown.clone()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    /// The text of the last message of request `index` (OpenAI format): what the model
    /// got back from a tool, or what the person sent.
    pub fn last_message_of(&self, index: usize) -> String {
        let received = self.received();
        let request = received.get(index).expect("a request");
        let messages = request.body["messages"].as_array().expect("messages");
        let last = messages.last().expect("a message");
        last["content"].as_str().expect("text content").to_string()
    }

    /// The text of the last person's message of request `index` (OpenAI format).
    pub fn user_message_of(&self, index: usize) -> String {
        let received = self.received();
        let request = received.get(index).expect("a request");
        request.body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// The tool result the model got back in the latest request (OpenAI format).
    pub fn last_tool_result(&self) -> String {
        let received = self.received();
        let request = received.last().expect("a request");
        let messages = request.body["messages"].as_array().expect("messages");
        let last = messages.last().expect("a message");
        assert_eq!(last["role"], "tool", "{last}");
        last["content"].as_str().expect("text content").to_string()
    }

    /// The requests refused as the real API would refuse them: (path, error body).
    pub fn refusals(&self) -> Vec<(String, Value)> {
        self.state.lock().expect("state").refusals.clone()
    }

    /// Fails the test if any request was refused.
    pub fn assert_no_refusals(&self) {
        let refusals = self.refusals();
        assert!(refusals.is_empty(), "the provider refused: {refusals:#?}");
    }

    /// For a test that sends what the API refuses on purpose.
    pub fn expect_refusals(&self) -> &FakeProvider {
        self.state.lock().expect("state").refusals_expected = true;
        self
    }

    /// When the latest streamed reply's first byte went out, and forgets it.
    pub fn take_first_frame_at(&self) -> Option<std::time::Instant> {
        self.state.lock().expect("state").first_frame_at.take()
    }
}

impl Drop for FakeProvider {
    /// A request the real API would have refused is a bug in LocalGPT even when the test
    /// got the answer it wanted some other way.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let state = self.state.lock().expect("state");
        if !state.refusals_expected && !state.refusals.is_empty() {
            panic!(
                "the fake provider refused requests as the real API would: {:#?}",
                state.refusals
            );
        }
    }
}

type Body = BoxBody<Bytes, std::io::Error>;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    OpenAi,
    Anthropic,
    Ollama,
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_string();
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if path == "/v1/embeddings" || path == "/api/embed" {
        let response = embeddings(&path, &body);
        state.lock().expect("state").received.push(Received {
            path,
            headers,
            body,
        });
        return Ok(response);
    }
    if path == "/api/tags" {
        // The models an Ollama has pulled: these two.
        return Ok(plain(
            StatusCode::OK,
            &json!({"models": [{"name": "llama3.2:latest"}, {"name": "qwen3:8b"},
                                {"name": "tinyllama:latest"}, {"name": "llava:latest"}]})
            .to_string(),
        ));
    }
    if path == "/api/show" {
        // llama3.2 as Ollama describes it; tinyllama: a short window and no tools.
        let shown = match body["model"].as_str().unwrap_or_default() {
            "llama3.2" | "llama3.2:latest" => Some(json!({
                "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                "capabilities": ["completion", "tools"]})),
            "llava" | "llava:latest" => Some(json!({
                "model_info": {"general.architecture": "llama", "llama.context_length": 4096},
                "capabilities": ["completion", "vision"]})),
            "tinyllama" | "tinyllama:latest" => Some(json!({
                "model_info": {"general.architecture": "llama", "llama.context_length": 2048},
                "capabilities": ["completion"]})),
            _ => None,
        };
        state
            .lock()
            .expect("state")
            .shown
            .push(body["model"].as_str().unwrap_or_default().to_string());
        return Ok(match shown {
            Some(shown) => plain(StatusCode::OK, &shown.to_string()),
            None => plain(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("model '{}' not found", body["model"].as_str().unwrap_or_default())}).to_string(),
            ),
        });
    }
    let format = match path.as_str() {
        "/v1/chat/completions" => Format::OpenAi,
        "/v1/messages" => Format::Anthropic,
        "/api/chat" => Format::Ollama,
        _ => {
            state.lock().expect("state").received.push(Received {
                path,
                headers,
                body,
            });
            return Ok(plain(
                StatusCode::NOT_FOUND,
                "{\"error\":\"no such route\"}",
            ));
        }
    };
    let checked = match format {
        Format::OpenAi => super::strict::check_openai(&body),
        Format::Anthropic => super::strict::check_anthropic(&headers, &body),
        Format::Ollama => super::strict::check_ollama(&body),
    };
    let (reply, first_call) = {
        let mut state = state.lock().expect("state");
        state.received.push(Received {
            path: path.clone(),
            headers,
            body,
        });
        if let Err(refusal) = &checked {
            state.refusals.push((path.clone(), refusal.body.clone()));
        }
        let reply = checked.is_ok().then(|| state.replies.pop_front()).flatten();
        let calls = match &reply {
            Some(Reply::Tool { .. }) => 1,
            Some(Reply::Tools(calls)) => calls.len(),
            Some(Reply::Delayed(_, inner)) => match inner.as_ref() {
                Reply::Tool { .. } => 1,
                Reply::Tools(calls) => calls.len(),
                _ => 0,
            },
            _ => 0,
        };
        let first_call = state.calls + 1;
        state.calls += calls;
        (reply, first_call)
    };
    if let Err(refusal) = checked {
        return Ok(plain(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
            &refusal.body.to_string(),
        ));
    }
    let mut reply =
        reply.unwrap_or_else(|| Reply::text(&["(the fake provider has no scripted reply)"]));
    if let Reply::Delayed(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    Ok(respond(format, reply, first_call, state))
}

/// Embeddings that behave like real ones where it matters: texts sharing words point
/// the same way. Each word adds to one of 64 dimensions (not normalised, as some servers
/// send them). An input containing "FAIL-EMBED" gets a 500.
fn embeddings(path: &str, body: &Value) -> Response<Body> {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    if inputs.iter().any(|input| input.contains("FAIL-EMBED")) {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": {"message": "the embedding model crashed"}}).to_string(),
        );
    }
    let vectors: Vec<Vec<f32>> = inputs
        .iter()
        .map(|input| {
            let mut vector = vec![0.01f32; 64];
            for word in input
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() > 2)
            {
                let slot = word
                    .bytes()
                    .fold(7usize, |h, b| h.wrapping_mul(31) + b as usize)
                    % 64;
                vector[slot] += 3.0;
            }
            vector
        })
        .collect();
    let answer = if path == "/api/embed" {
        json!({"model": body["model"], "embeddings": vectors})
    } else {
        // Listed in reverse: clients must go by `index`.
        let data: Vec<Value> = vectors
            .iter()
            .enumerate()
            .rev()
            .map(|(index, v)| json!({"object": "embedding", "index": index, "embedding": v}))
            .collect();
        json!({"object": "list", "model": body["model"], "data": data})
    };
    plain(StatusCode::OK, &answer.to_string())
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(text.to_string()))
        .map_err(|never: Infallible| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

fn respond(
    format: Format,
    reply: Reply,
    first_call: usize,
    state: Arc<Mutex<State>>,
) -> Response<Body> {
    let (pieces, delay): (Vec<String>, Duration) = match &reply {
        Reply::Status { code, retry_after } => {
            let mut response = plain(
                StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &json!({"error": {"message": format!("scripted status {code}")}}).to_string(),
            );
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().expect("header"));
            }
            return response;
        }
        Reply::Malformed => {
            let frames = match format {
                Format::Ollama => vec!["{not json\n".to_string()],
                _ => vec!["data: {not json\n\n".to_string()],
            };
            return stream_response(format, frames, Duration::ZERO, state);
        }
        Reply::Text(pieces) => (render(format, pieces, &[], 0, true), Duration::ZERO),
        Reply::Tool {
            text,
            name,
            arguments,
        } => {
            let pieces: Vec<String> = if text.is_empty() {
                vec![]
            } else {
                vec![text.clone()]
            };
            let calls = [(name.clone(), arguments.clone())];
            (
                render(format, &pieces, &calls, first_call, true),
                Duration::ZERO,
            )
        }
        Reply::Tools(calls) => (render(format, &[], calls, first_call, true), Duration::ZERO),
        Reply::Cut(pieces) => (render(format, pieces, &[], 0, false), Duration::ZERO),
        Reply::Slow(pieces, delay) => (render(format, pieces, &[], 0, true), *delay),
        Reply::Delayed(_, inner) => return respond(format, *inner.clone(), first_call, state),
    };
    stream_response(format, pieces, delay, state)
}

/// Streams the frames; a cut reply's frames lack the closing ones, so the stream ends
/// where a complete answer would have said it was done.
fn stream_response(
    format: Format,
    frames: Vec<String>,
    delay: Duration,
    state: Arc<Mutex<State>>,
) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(16);
    tokio::spawn(async move {
        for (index, frame) in frames.into_iter().enumerate() {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if index == 0 {
                state.lock().expect("state").first_frame_at = Some(std::time::Instant::now());
            }
            if tx.send(Ok(Frame::data(Bytes::from(frame)))).await.is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    let content_type = if format == Format::Ollama {
        "application/x-ndjson"
    } else {
        "text/event-stream"
    };
    response
        .headers_mut()
        .insert("content-type", content_type.parse().expect("header"));
    response
}

/// The wire frames for some text pieces and tool calls (numbered from `first_call`, so
/// every id is new); `finish` adds the closing frames (omitted for a cut stream).
fn render(
    format: Format,
    pieces: &[String],
    calls: &[(String, Value)],
    first_call: usize,
    finish: bool,
) -> Vec<String> {
    match format {
        Format::OpenAi => render_openai(pieces, calls, first_call, finish),
        Format::Anthropic => render_anthropic(pieces, calls, first_call, finish),
        Format::Ollama => render_ollama(pieces, calls, finish),
    }
}

fn sse(data: &Value) -> String {
    format!("data: {data}\n\n")
}

fn named_sse(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// Splits arguments JSON into three fragments, as real servers stream them.
fn fragments(arguments: &Value) -> Vec<String> {
    let text = arguments.to_string();
    let chars: Vec<char> = text.chars().collect();
    let third = chars.len().div_ceil(3).max(1);
    chars.chunks(third).map(|c| c.iter().collect()).collect()
}

fn render_openai(
    pieces: &[String],
    calls: &[(String, Value)],
    first_call: usize,
    finish: bool,
) -> Vec<String> {
    let mut frames: Vec<String> = pieces
        .iter()
        .map(|p| sse(&json!({"choices": [{"index": 0, "delta": {"content": p}}]})))
        .collect();
    for (index, (name, arguments)) in calls.iter().enumerate() {
        let id = format!("call_fake_{}", first_call + index);
        frames.push(sse(&json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}
        ]}}]})));
        for fragment in fragments(arguments) {
            frames.push(sse(
                &json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                    {"index": index, "function": {"arguments": fragment}}
                ]}}]}),
            ));
        }
    }
    if finish {
        let reason = if calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        frames.push(sse(
            &json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}),
        ));
        frames.push(sse(
            &json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7}}),
        ));
        frames.push("data: [DONE]\n\n".to_string());
    }
    frames
}

fn render_anthropic(
    pieces: &[String],
    calls: &[(String, Value)],
    first_call: usize,
    finish: bool,
) -> Vec<String> {
    let mut frames = vec![named_sse(
        "message_start",
        &json!({"type": "message_start", "message": {"usage": {"input_tokens": 11, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if !pieces.is_empty() {
        frames.push(named_sse(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ));
        for piece in pieces {
            frames.push(named_sse(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": piece}}),
            ));
        }
        if finish || !calls.is_empty() {
            frames.push(named_sse(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": 0}),
            ));
        }
        index = 1;
    }
    for (offset, (name, arguments)) in calls.iter().enumerate() {
        let id = format!("toolu_fake_{}", first_call + offset);
        frames.push(named_sse(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        frames.push(named_sse("ping", &json!({"type": "ping"})));
        for fragment in fragments(arguments) {
            frames.push(named_sse(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": fragment}}),
            ));
        }
        frames.push(named_sse(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    if finish {
        let reason = if calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        frames.push(named_sse(
            "message_delta",
            &json!({"type": "message_delta",
            "delta": {"stop_reason": reason}, "usage": {"output_tokens": 7}}),
        ));
        frames.push(named_sse("message_stop", &json!({"type": "message_stop"})));
    }
    frames
}

fn render_ollama(pieces: &[String], calls: &[(String, Value)], finish: bool) -> Vec<String> {
    let mut frames: Vec<String> = pieces
        .iter()
        .map(|p| {
            format!(
                "{}\n",
                json!({"message": {"role": "assistant", "content": p}, "done": false})
            )
        })
        .collect();
    if !calls.is_empty() {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(name, arguments)| json!({"function": {"name": name, "arguments": arguments}}))
            .collect();
        frames.push(format!(
            "{}\n",
            json!({"message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": false})
        ));
    }
    if finish {
        frames.push(format!(
            "{}\n",
            json!({"message": {"role": "assistant", "content": ""}, "done": true,
            "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 7})
        ));
    }
    frames
}
