//! Ollama, streaming (`POST {host}/api/chat`, one JSON object per line).
//!
//! `OLLAMA_HOST` is read as Ollama itself reads it: `host`, `host:port`, `:port` or a URL,
//! with port 11434 when none is given (80/443 for an explicit http/https URL). Tool calls
//! arrive whole, with object arguments and no ids, so ids are made up here.

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::held::HeldAnswer;
use super::retry::{self, Target};
use super::{
    ChatRequest, Completion, Event, HttpSettings, Message, ModelInfo, Provider, ProviderError,
    StopReason, ToolCall, Usage,
};
use crate::conversation::Image;

/// What `/api/show` said, by `base model`: asked once per process.
static MODEL_INFO: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<String, ModelInfo>>,
> = std::sync::OnceLock::new();

/// `/api/show`'s answer: `model_info` has `<architecture>.context_length`; `capabilities`
/// (Ollama 0.6 and later) lists `tools` when the model can call them.
fn model_info(shown: &Value) -> ModelInfo {
    let context_length = shown["model_info"].as_object().and_then(|info| {
        info.iter()
            .find(|(key, _)| key.ends_with(".context_length"))
            .and_then(|(_, value)| value.as_u64())
    });
    let has = |capability: &str| {
        shown["capabilities"]
            .as_array()
            .map(|capabilities| capabilities.iter().any(|c| c == capability))
    };
    ModelInfo {
        context_length,
        tools: has("tools"),
        vision: has("vision"),
    }
}

pub struct Ollama {
    label: String,
    base: String,
    url: String,
    client: reqwest::Client,
    settings: HttpSettings,
}

impl Ollama {
    pub fn new(host: &str, settings: &HttpSettings) -> Result<Ollama, ProviderError> {
        let base = normalize_host(host);
        Ok(Ollama {
            label: "Ollama".to_string(),
            url: format!("{base}/api/chat"),
            base,
            client: super::http_client(settings)?,
            settings: settings.clone(),
        })
    }
}

/// `OLLAMA_HOST` → a base URL, following Ollama's own rules (envconfig.Host).
pub(crate) fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let (scheme, rest, default_port) = match raw.split_once("://") {
        None => ("http", raw, "11434"),
        Some(("https", rest)) => ("https", rest, "443"),
        Some(("http", rest)) => ("http", rest, "80"),
        Some((other, rest)) => (other, rest, "11434"),
    };
    let (host_port, path) = match rest.split_once('/') {
        Some((host_port, path)) => (host_port, format!("/{}", path.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let path = if path == "/" { String::new() } else { path };
    let (host, port) = match split_host_port(host_port) {
        Some((host, port)) => (if host.is_empty() { "127.0.0.1" } else { host }, port),
        None if host_port.is_empty() => ("127.0.0.1", default_port),
        None => (host_port, default_port),
    };
    format!("{scheme}://{host}:{port}{path}")
}

/// `host:port`, `[::1]:port`; `None` when there is no port.
fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if text.starts_with('[') {
        // Keep the brackets: the host goes back into a URL.
        let close = text.find("]:")?;
        let (host, port) = (text.get(..=close)?, text.get(close + 2..)?);
        return (!port.is_empty()).then_some((host, port));
    }
    let (host, port) = text.rsplit_once(':')?;
    if host.contains(':') || port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((host, port))
}

pub(crate) fn request_body(request: &ChatRequest) -> Value {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    for message in &request.messages {
        messages.push(match message {
            Message::User { content, images } => {
                let mut message = json!({"role": "user", "content": content});
                // Ollama takes pictures as base64 only; links are refused before a turn
                // starts (`Sampling`'s caller checks `images_refused_by`).
                let data: Vec<&str> = images
                    .iter()
                    .filter_map(|image| match image {
                        Image::Data { data, .. } => Some(data.as_str()),
                        Image::Link { .. } => None,
                    })
                    .collect();
                if !data.is_empty() {
                    message["images"] = json!(data);
                }
                message
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut value = json!({"role": "assistant", "content": content});
                if !tool_calls.is_empty() {
                    value["tool_calls"] = tool_calls
                        .iter()
                        .map(|call| json!({"function": {"name": call.name, "arguments": call.arguments}}))
                        .collect();
                }
                value
            }
            Message::Tool { name, content, .. } => {
                json!({"role": "tool", "content": content, "tool_name": name})
            }
        });
    }
    let mut body = json!({"model": request.model, "messages": messages, "stream": true});
    if !request.tools.is_empty() {
        body["tools"] = super::function_tools(&request.tools);
    }
    let mut options = json!({"num_ctx": request.context_window});
    if let Some(temperature) = request.temperature {
        options["temperature"] = json!(temperature);
    }
    body["options"] = options;
    request.sampling.apply_ollama(&mut body);
    body
}

#[async_trait]
impl Provider for Ollama {
    fn name(&self) -> &str {
        &self.label
    }

    async fn model_info(&self, model: &str) -> ModelInfo {
        let key = format!("{} {model}", self.base);
        let cache = MODEL_INFO.get_or_init(Default::default);
        if let Some(info) = cache.lock().ok().and_then(|known| known.get(&key).copied()) {
            return info;
        }
        let shown: Option<Value> = async {
            self.client
                .post(format!("{}/api/show", self.base))
                .json(&json!({"model": model}))
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
                .ok()?
                .error_for_status()
                .ok()?
                .json()
                .await
                .ok()
        }
        .await;
        // Not reachable, or no such model: the chat request says so; nothing is kept.
        let Some(shown) = shown else {
            return ModelInfo::default();
        };
        let info = model_info(&shown);
        if let Ok(mut known) = cache.lock() {
            known.insert(key, info);
        }
        info
    }

    async fn has_model(&self, model: &str) -> Option<bool> {
        let tags: Value = self
            .client
            .get(format!("{}/api/tags", self.base))
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let wanted = if model.contains(':') {
            model.to_string()
        } else {
            format!("{model}:latest")
        };
        Some(tags["models"].as_array().is_some_and(|models| {
            models
                .iter()
                .filter_map(|entry| entry["name"].as_str())
                .any(|name| name == model || name == wanted)
        }))
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Completion, ProviderError> {
        let body = request_body(request);
        let target = Target {
            provider: &self.label,
            url: &self.base,
            unreachable_hint: "Start Ollama with `ollama serve` (install it from https://ollama.com), \
                               or set OLLAMA_HOST to where it runs, or choose another model with --model \
                               (`localgpt models install` installs `local/smollm2`, which runs offline).",
        };
        let response = retry::send(&self.settings.retry, &target, || {
            self.client.post(&self.url).json(&body)
        })
        .await
        .map_err(|err| match err {
            ProviderError::Http {
                status: 404,
                message,
                ..
            } => ProviderError::Http {
                provider: self.label.clone(),
                status: 404,
                message: format!(
                    "{message}. Download the model with `ollama pull {}`",
                    request.model
                ),
                retry_after: None,
            },
            other => other,
        })?;

        let mut completion = Completion::default();
        let mut buffer: Vec<u8> = Vec::new();
        let mut finished = false;
        let offered: Vec<String> = request.tools.iter().map(|tool| tool.name.clone()).collect();
        let mut answer = HeldAnswer::new(offered);
        let mut bytes = response.bytes_stream();
        'read: while let Some(chunk) = bytes.next().await {
            let chunk = chunk.map_err(|err| {
                super::stream_failure(&self.label, &err, &completion.text, &self.settings)
            })?;
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                if self.handle_line(&line, &mut completion, &mut answer, sink)? {
                    finished = true;
                    break 'read;
                }
            }
        }
        if !finished && !buffer.is_empty() {
            let rest = std::mem::take(&mut buffer);
            finished = self.handle_line(&rest, &mut completion, &mut answer, sink)?;
        }
        if !finished {
            return Err(ProviderError::StreamCut {
                provider: self.label.clone(),
                detail: "the connection closed before the answer was complete".to_string(),
                partial: completion.text,
            });
        }
        Ok(completion)
    }
}

impl Ollama {
    /// Handles one line of the stream; true when it was the last.
    fn handle_line(
        &self,
        line: &[u8],
        completion: &mut Completion,
        answer: &mut HeldAnswer,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<bool, ProviderError> {
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            return Ok(false);
        }
        let value: Value =
            serde_json::from_str(text.trim()).map_err(|err| ProviderError::Protocol {
                provider: self.label.clone(),
                detail: format!("a stream line is not JSON ({err})"),
            })?;
        if let Some(error) = value["error"].as_str() {
            return Err(ProviderError::Protocol {
                provider: self.label.clone(),
                detail: error.to_string(),
            });
        }
        let message = &value["message"];
        if let Some(content) = message["content"].as_str().filter(|c| !c.is_empty()) {
            answer.text(content, completion, sink);
        }
        if let Some(calls) = message["tool_calls"].as_array() {
            for call in calls {
                let index = completion.tool_calls.len();
                let function = &call["function"];
                completion.apply(
                    Event::ToolCall(ToolCall {
                        id: call["id"]
                            .as_str()
                            .map_or_else(|| super::generated_call_id(index), String::from),
                        name: function["name"].as_str().unwrap_or_default().to_string(),
                        arguments: match &function["arguments"] {
                            Value::String(text) => super::parse_arguments(text),
                            other => other.clone(),
                        },
                    }),
                    sink,
                );
            }
        }
        if value["done"].as_bool() != Some(true) {
            return Ok(false);
        }
        answer.finish(completion, sink);
        completion.apply(
            Event::Usage(Usage {
                input_tokens: value["prompt_eval_count"].as_u64().unwrap_or(0),
                output_tokens: value["eval_count"].as_u64().unwrap_or(0),
            }),
            sink,
        );
        let reason = if !completion.tool_calls.is_empty() {
            StopReason::ToolUse
        } else {
            match value["done_reason"].as_str() {
                Some("length") => StopReason::MaxTokens,
                _ => StopReason::EndTurn,
            }
        };
        completion.apply(Event::Done(reason), sink);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_host_is_read_as_ollama_reads_it() {
        let cases = [
            ("", "http://127.0.0.1:11434"),
            ("gpu-box", "http://gpu-box:11434"),
            ("gpu-box:8080", "http://gpu-box:8080"),
            (":11435", "http://127.0.0.1:11435"),
            ("0.0.0.0", "http://0.0.0.0:11434"),
            ("http://localhost:11434", "http://localhost:11434"),
            ("http://ollama.lan", "http://ollama.lan:80"),
            (
                "https://ollama.example.com/",
                "https://ollama.example.com:443",
            ),
            (
                "https://example.com/ollama/",
                "https://example.com:443/ollama",
            ),
            ("[::1]:11434", "http://[::1]:11434"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_host(raw), expected, "{raw:?}");
        }
    }
}
