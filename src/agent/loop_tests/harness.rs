//! The scripted provider, the watching front door and the bench the loop tests share.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, Observer};
use crate::config::{ApprovalMode, Config};
use crate::conversation::{Message, ToolCall};
use crate::home::Home;
use crate::policy::Policy;
use crate::provider::{ChatRequest, Completion, Event, Provider, ProviderError, StopReason, Usage};

/// What the scripted model does with the next request.
pub(super) enum Step {
    /// Streams the text in these pieces, then calls these tools (if any).
    Answer(Vec<&'static str>, Vec<ToolCall>),
    /// Streams the text, then the connection breaks.
    CutAfter(&'static str),
    /// Streams the text, then waits for ever (until the turn drops the request).
    Hang(&'static str),
}

#[derive(Default)]
pub(super) struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    /// Every request the loop sent, in order.
    requests: Mutex<Vec<ChatRequest>>,
    /// Why a request was refused, if one was: a test fails on any.
    refusals: Mutex<Vec<String>>,
    /// Told when a `Hang` step has streamed its text.
    pub(super) hanging: Notify,
}

impl Scripted {
    pub(super) fn new(steps: Vec<Step>) -> Arc<Scripted> {
        Arc::new(Scripted {
            steps: Mutex::new(steps.into()),
            ..Scripted::default()
        })
    }

    pub(super) fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }

    pub(super) fn assert_nothing_refused(&self) {
        let refusals = self.refusals.lock().unwrap();
        assert!(refusals.is_empty(), "the provider refused: {refusals:?}");
    }
}

/// The rules every provider applies to a conversation.
pub(super) fn check(messages: &[Message]) -> Result<(), String> {
    if !matches!(messages.first(), Some(Message::User { .. })) {
        return Err("the first message must be the user's".into());
    }
    let mut open: Vec<String> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        match message {
            Message::Tool { call_id, .. } => {
                let Some(at) = open.iter().position(|id| id == call_id) else {
                    return Err(format!(
                        "messages[{index}]: a result for no call ({call_id})"
                    ));
                };
                open.remove(at);
                continue;
            }
            _ if !open.is_empty() => {
                return Err(format!(
                    "messages[{index}]: tool calls without results: {open:?}"
                ));
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                if content.is_empty() && tool_calls.is_empty() {
                    return Err(format!("messages[{index}]: an empty answer"));
                }
                if matches!(messages.get(index + 1), Some(Message::Assistant { .. })) {
                    return Err(format!("messages[{index}]: two answers in a row"));
                }
                open = tool_calls.iter().map(|call| call.id.clone()).collect();
            }
            Message::User { .. } => {}
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the conversation ends in calls without results: {open:?}"
        ))
    }
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &str {
        "Scripted"
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Completion, ProviderError> {
        self.requests.lock().unwrap().push(request.clone());
        if let Err(why) = check(&request.messages) {
            self.refusals.lock().unwrap().push(why.clone());
            return Err(ProviderError::Http {
                provider: "Scripted".into(),
                status: 400,
                message: why,
                retry_after: None,
            });
        }
        let step = self.steps.lock().unwrap().pop_front();
        let Some(step) = step else {
            panic!(
                "the script has no answer for request {}",
                self.requests().len()
            );
        };
        match step {
            Step::Answer(pieces, calls) => {
                for piece in &pieces {
                    sink(Event::TextDelta(piece.to_string()));
                }
                for call in &calls {
                    sink(Event::ToolCall(call.clone()));
                }
                let stop = if calls.is_empty() {
                    StopReason::EndTurn
                } else {
                    StopReason::ToolUse
                };
                sink(Event::Done(stop));
                Ok(Completion {
                    text: pieces.concat(),
                    tool_calls: calls,
                    usage: Usage {
                        input_tokens: 10,
                        output_tokens: 5,
                    },
                    stop_reason: Some(stop),
                })
            }
            Step::CutAfter(text) => {
                sink(Event::TextDelta(text.to_string()));
                Err(ProviderError::StreamCut {
                    provider: "Scripted".into(),
                    detail: "connection reset".into(),
                    partial: text.to_string(),
                })
            }
            Step::Hang(text) => {
                sink(Event::TextDelta(text.to_string()));
                self.hanging.notify_one();
                std::future::pending().await
            }
        }
    }
}

/// What a front door would show, and approvals that wait (until told, or for ever).
#[derive(Default)]
pub(super) struct Watcher {
    pub(super) text: String,
    pub(super) calls: Vec<String>,
    pub(super) results: Vec<String>,
    /// Approvals asked for; `None` answers leave the question waiting.
    pub(super) asked: Arc<Notify>,
    /// Told when a tool call is about to run.
    pub(super) running: Arc<Notify>,
    pub(super) answer: Option<Approval>,
}

#[async_trait]
impl Observer for Watcher {
    fn text(&mut self, delta: &str) {
        self.text.push_str(delta);
    }
    fn tool_call(&mut self, call: &ToolCall) {
        self.calls.push(call.name.clone());
        self.running.notify_one();
    }
    fn tool_result(&mut self, _call: &ToolCall, output: &ToolOutput) {
        self.results.push(output.content.clone());
    }
    async fn approve(&mut self, _request: &str) -> Option<Approval> {
        self.asked.notify_one();
        match self.answer {
            Some(answer) => Some(answer),
            None => std::future::pending().await,
        }
    }
}

pub(super) struct Bench {
    _dir: tempfile::TempDir,
    pub(super) home: Home,
    pub(super) config: Config,
}

impl Bench {
    pub(super) fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        home.ensure("").unwrap();
        let mut config = Config::default();
        config.tools.approval = ApprovalMode::Ask;
        config.sessions.auto_title = false;
        Bench {
            _dir: dir,
            home,
            config,
        }
    }

    /// A context window of 2,000 tokens for the bench's model, which
    /// [`long_conversation`] fills.
    pub(super) fn small_window(mut self) -> Bench {
        self.config.models.insert(
            "ollama/llama3.2".into(),
            crate::config::schema::ModelConfig {
                context_window: Some(2_000),
            },
        );
        self
    }

    pub(super) fn agent(&self, provider: Arc<Scripted>) -> Agent {
        let workspace = self.home.workspace();
        let policy = Policy::new(&self.home, &workspace, &self.config.tools);
        Agent::new(&self.home, &self.config, "ollama/llama3.2", policy)
            .unwrap()
            .with_provider(provider)
    }
}

/// Cancels `cancel` once `signal` is told: the test's side of a turn stopped at a chosen
/// moment, with no sleep.
pub(super) async fn cancel_on(signal: &Notify, cancel: &crate::cancel::Cancel) {
    signal.notified().await;
    cancel.cancel();
}

/// Whether `session` answers the call `id` as stopped while it ran.
pub(super) fn answered_as_interrupted(session: &crate::session::Session, id: &str) -> bool {
    session.messages().iter().any(|message| {
        matches!(message, Message::Tool { call_id, content, .. }
            if call_id == id && content == crate::conversation::INTERRUPTED_WHILE_RUNNING)
    })
}

/// Eight earlier turns, long enough together to fill [`Bench::small_window`].
pub(super) fn long_conversation() -> Vec<Message> {
    (0..8)
        .flat_map(|turn| {
            [
                Message::user(format!("turn {turn}: {}", "garden plans ".repeat(40))),
                Message::assistant(format!("answer {turn}: {}", "ok ".repeat(40))),
            ]
        })
        .collect()
}

pub(super) fn call(id: &str, name: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments,
    }
}

#[test]
fn the_scripted_provider_refuses_what_providers_refuse() {
    use serde_json::json;
    let asked = call("c", "list_dir", json!({}));
    let unanswered = [
        Message::user("q"),
        Message::Assistant {
            content: String::new(),
            tool_calls: vec![asked.clone()],
        },
        Message::user("next"),
    ];
    assert!(check(&unanswered).is_err());
    let stray = [Message::user("q"), Message::result_of(&asked, "x", false)];
    assert!(check(&stray).is_err());
    let empty = [
        Message::user("q"),
        Message::assistant(""),
        Message::user("r"),
    ];
    assert!(check(&empty).is_err());
    let twice = [
        Message::user("q"),
        Message::assistant("a"),
        Message::assistant("b"),
    ];
    assert!(check(&twice).is_err());
    assert!(check(&[Message::assistant("a")]).is_err());
    let paired = [
        Message::user("q"),
        Message::Assistant {
            content: String::new(),
            tool_calls: vec![asked.clone()],
        },
        Message::result_of(&asked, "x", false),
    ];
    assert!(check(&paired).is_ok());
}
