//! `local/NAME`: chat models run in-process on the CPU — the built-in SmolLM2 and the GGUF
//! models people pull or import — for when there is no API key and no Ollama. Tools go
//! through the model's own template where it writes them, else through LocalGPT's own
//! format ([`fallback`]) for models of 1B parameters and more (the 135M built-in one
//! calls them at random, so it is offered none); either way a call is held to its tool's
//! schema while it is decoded, as is a JSON answer to its `response_format`.
//!
//! The model itself (loading, the chat template, generation) is
//! [`crate::models::chat::engine`]; this is the provider around it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

mod fallback;

use super::held::HeldAnswer;
use super::sampling::{ResponseFormat, ToolChoice};
use super::{ChatRequest, Completion, Event, Message, Provider, ProviderError, StopReason, Usage};
use crate::models::chat::engine::{Engine, Sampler, Turn};
use crate::models::chat::guide::ToolGuide;
use crate::models::chat::template::TemplateMessage;

/// The provider's name, which is also the model prefix: `local/smollm2`.
pub(crate) const PROVIDER_NAME: &str = crate::models::LOCAL_PROVIDER;

/// The model name the person types.
pub(crate) fn model_id() -> String {
    format!("{PROVIDER_NAME}/{}", crate::models::chat::MODEL_NAME)
}

/// What the first answer of the automatically chosen built-in model says, once.
const FIRST_USE_NOTICE: &str = "answering with the built-in offline model (SmolLM2-135M on \
your CPU), since no API key is set and Ollama is not set up. It is small: good for short \
answers and summaries, and it uses no tools. For more, set OPENAI_API_KEY or \
ANTHROPIC_API_KEY, or choose a model with `localgpt config set agent.model …`.";

/// The notice for the first answer when LocalGPT itself chose the built-in model
/// (`auto_chosen`): `Some` once per home folder, remembered in the model's folder.
pub(crate) fn first_use_notice(
    models_dir: &Path,
    model: &str,
    auto_chosen: bool,
) -> Option<&'static str> {
    if !auto_chosen || model != model_id() {
        return None;
    }
    let marker = models_dir
        .join(crate::models::chat::MODEL_NAME)
        .join(".announced");
    if marker.exists() {
        return None;
    }
    // Not being able to remember only means saying it again next time.
    let _ = std::fs::write(&marker, "");
    Some(FIRST_USE_NOTICE)
}

/// One loaded model per process, shared by every conversation: it is 150 MB, and turns
/// take it one at a time anyway (a second waits for the first to finish).
static LOADED: Mutex<Option<(PathBuf, Arc<Mutex<Engine>>)>> = Mutex::new(None);

fn engine_for(dir: &Path) -> Result<Arc<Mutex<Engine>>, ProviderError> {
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((path, engine)) = loaded.as_ref()
        && path == dir
    {
        return Ok(Arc::clone(engine));
    }
    let engine = Arc::new(Mutex::new(
        Engine::load(dir).map_err(|err| ProviderError::Setup(err.to_string()))?,
    ));
    *loaded = Some((dir.to_path_buf(), Arc::clone(&engine)));
    Ok(engine)
}

pub struct LocalChat {
    /// The installed model's folder (`models/smollm2`).
    dir: PathBuf,
}

impl LocalChat {
    pub fn new(dir: PathBuf) -> LocalChat {
        LocalChat { dir }
    }
}

/// The conversation as chat-template turns. Tool traffic cannot occur (the model is
/// offered no tools) but a resumed conversation may hold some from another model: it
/// is shown as text so nothing the model should know is dropped. Without a system
/// prompt, the model's own template says what it says then.
fn turns(request: &ChatRequest) -> Vec<(String, String)> {
    let mut turns = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.trim().is_empty() {
        turns.push(("system".to_string(), request.system.clone()));
    }
    for message in &request.messages {
        match message {
            Message::User { content, .. } => turns.push(("user".to_string(), content.clone())),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                // Calls as the fallback format writes them, so the model sees its own.
                let mut text = content.clone();
                for call in tool_calls {
                    let body = serde_json::json!({"name": call.name, "arguments": call.arguments});
                    text.push_str(&format!("\n<tool_call>\n{body}\n</tool_call>"));
                }
                turns.push(("assistant".to_string(), text.trim_start().to_string()));
            }
            Message::Tool { name, content, .. } => {
                turns.push(("user".to_string(), format!("(result of {name})\n{content}")));
            }
        }
    }
    turns
}

/// Tests that check what the model says fix its sampling (debug builds only).
fn test_seed() -> Option<u64> {
    if cfg!(debug_assertions) {
        std::env::var("LOCALGPT_TEST_SEED").ok()?.parse().ok()
    } else {
        None
    }
}

fn fresh_seed() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64),
    }
}

/// A message with its tool traffic, for templates that write it.
struct Structured {
    role: &'static str,
    content: String,
    tool_calls: Vec<serde_json::Value>,
    tool_call_id: Option<String>,
    name: Option<String>,
}

impl Structured {
    fn as_template(&self) -> TemplateMessage<'_> {
        TemplateMessage {
            role: self.role,
            content: &self.content,
            tool_calls: self.tool_calls.clone(),
            tool_call_id: self.tool_call_id.as_deref(),
            name: self.name.as_deref(),
        }
    }
}

/// The conversation as a template that takes tools reads it (OpenAI's shapes).
fn structured(request: &ChatRequest) -> Vec<Structured> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.trim().is_empty() {
        messages.push(Structured {
            role: "system",
            content: request.system.clone(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        });
    }
    for message in &request.messages {
        messages.push(match message {
            Message::User { content, .. } => Structured {
                role: "user",
                content: content.clone(),
                tool_calls: Vec::new(),
                tool_call_id: None,
                name: None,
            },
            Message::Assistant {
                content,
                tool_calls,
            } => Structured {
                role: "assistant",
                content: content.clone(),
                tool_calls: tool_calls
                    .iter()
                    .map(|call| {
                        serde_json::json!({"id": call.id, "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments}})
                    })
                    .collect(),
                tool_call_id: None,
                name: None,
            },
            Message::Tool {
                call_id,
                name,
                content,
                ..
            } => Structured {
                role: "tool",
                content: content.clone(),
                tool_calls: Vec::new(),
                tool_call_id: Some(call_id.clone()),
                name: Some(name.clone()),
            },
        });
    }
    messages
}

/// What the generation thread reports.
enum Report {
    Text(String),
    Usage(Usage),
}

#[async_trait]
impl Provider for LocalChat {
    fn name(&self) -> &str {
        "the built-in model"
    }

    async fn model_info(&self, _model: &str) -> crate::provider::ModelInfo {
        let dir = self.dir.clone();
        let header =
            tokio::task::spawn_blocking(move || crate::models::chat::engine::header_of(&dir))
                .await
                .ok()
                .flatten();
        crate::provider::ModelInfo {
            context_length: header.map(|header| header.context as u64),
            tools: Some(header.is_some_and(|header| header.offers_tools())),
            vision: Some(false),
        }
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Completion, ProviderError> {
        let dir = self.dir.clone();
        let turns = turns(request);
        let messages = structured(request);
        // `tool_choice`: none offers no tool; a named one offers that one, and both it
        // and `required` make the answer a call from its first token.
        let choice = request
            .sampling
            .tool_choice
            .clone()
            .unwrap_or(ToolChoice::Auto);
        let chosen: Vec<&crate::provider::ToolSpec> = request
            .tools
            .iter()
            .filter(|tool| match &choice {
                ToolChoice::None => false,
                ToolChoice::Named(name) => &tool.name == name,
                ToolChoice::Auto | ToolChoice::Required => true,
            })
            .collect();
        let forced = matches!(choice, ToolChoice::Required | ToolChoice::Named(_));
        let offered: Vec<String> = chosen.iter().map(|tool| tool.name.clone()).collect();
        let response_format = request.sampling.response_format.clone();
        let tools = (!chosen.is_empty()).then(|| {
            serde_json::Value::Array(
                chosen
                    .iter()
                    .map(|tool| {
                        serde_json::json!({"type": "function", "function": {"name": tool.name,
                            "description": tool.description, "parameters": tool.parameters}})
                    })
                    .collect(),
            )
        });
        let sampler = Sampler {
            temperature: request.temperature.map_or(0.2, f64::from),
            top_p: request.sampling.top_p.map_or(0.9, f64::from),
            ..Sampler::recommended(
                request
                    .sampling
                    .seed
                    .map(|seed| seed as u64)
                    .or_else(test_seed)
                    .unwrap_or_else(fresh_seed),
            )
        };
        let max_tokens = request.max_tokens as usize;
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        // Generation is CPU work: it runs on a blocking thread and hands text over as it
        // forms. When this future is dropped (Ctrl-C) the receiver goes, the next send
        // fails and generation stops.
        let worker = tokio::task::spawn_blocking(move || -> Result<_, ProviderError> {
            let engine = engine_for(&dir)?;
            let mut engine = engine
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // A turn cancelled while this one waited for the model (Ctrl-C pressed again
            // and again) reads no prompt at all: cancelled generations would otherwise
            // queue up on the lock, each reading its whole prompt before its first token
            // found nobody listening — and the process waits for them all at exit.
            if sender.is_closed() {
                return Err(ProviderError::Setup("the answer was cancelled".to_string()));
            }
            let local_error = |err: crate::models::chat::engine::EngineError| {
                ProviderError::Setup(err.to_string())
            };
            // Tool traffic goes through a template that knows it; otherwise it is text,
            // and tools are explained in the system prompt in LocalGPT's own format.
            let prompt = match &tools {
                Some(tools) if engine.takes_tools() => {
                    let messages: Vec<TemplateMessage<'_>> =
                        messages.iter().map(Structured::as_template).collect();
                    engine.prompt_with_tools(&messages, Some(tools))
                }
                _ => {
                    let mut turns = turns;
                    if let Some(tools) = &tools {
                        fallback::explain_tools(&mut turns, tools);
                    }
                    let turns: Vec<Turn<'_>> = turns
                        .iter()
                        .map(|(role, content)| Turn { role, content })
                        .collect();
                    engine.chat_prompt(&turns)
                }
            }
            .map_err(local_error)?;
            // Calls held to the tools' schemas; a JSON answer to its schema.
            let schema = |format: &ResponseFormat| match format {
                ResponseFormat::JsonObject => None,
                ResponseFormat::JsonSchema { schema, .. } => Some(schema.clone()),
            };
            let guide = match (&tools, &response_format) {
                (Some(tools), None) => ToolGuide::new(tools, engine.call_format(), forced),
                (Some(tools), Some(format)) => ToolGuide::new(tools, engine.call_format(), forced)
                    .map(|guide| guide.or_json_value(schema(format).as_ref())),
                (None, Some(format)) => Some(ToolGuide::json_value(schema(format).as_ref())),
                (None, None) => None,
            };
            let outcome = engine
                .generate_guided(&prompt, max_tokens, sampler, guide.as_ref(), &mut |text| {
                    sender.send(Report::Text(text.to_string())).is_ok()
                })
                .map_err(local_error)?;
            let _ = sender.send(Report::Usage(Usage {
                input_tokens: outcome.prompt_tokens as u64,
                output_tokens: outcome.output_tokens as u64,
            }));
            Ok(outcome)
        });
        let mut completion = Completion::default();
        // Models with tools write their calls as text (`<tool_call>…`): caught here.
        let mut answer = HeldAnswer::new(offered);
        while let Some(report) = receiver.recv().await {
            match report {
                Report::Text(text) => answer.text(&text, &mut completion, sink),
                Report::Usage(usage) => completion.apply(Event::Usage(usage), sink),
            }
        }
        answer.finish(&mut completion, sink);
        let outcome = worker
            .await
            .map_err(|err| ProviderError::Setup(format!("the built-in model stopped: {err}")))??;
        let reason = if !completion.tool_calls.is_empty() {
            StopReason::ToolUse
        } else if outcome.finished {
            StopReason::EndTurn
        } else {
            StopReason::MaxTokens
        };
        completion.apply(Event::Done(reason), sink);
        Ok(completion)
    }
}
