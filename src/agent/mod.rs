//! The agent loop — the only one. A turn sends the conversation, streams the answer to an
//! [`Observer`], runs the tools the model asks for (with approval where the policy says),
//! feeds the results back, and repeats until the model stops or `agent.max_tool_rounds`
//! is reached. Every message goes to the transcript as it happens; the assistant message
//! that asks for tools is recorded before their results (Anthropic rejects the other
//! order), and text the model writes beside a tool call is kept.

mod compaction;
pub mod context;
pub mod prompt;
pub mod tools;

pub use compaction::{Compacted, SUMMARY_ACK, SUMMARY_HEADER};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Local;

use crate::config::schema::CompactionConfig;
use crate::config::{ApprovalMode, Config};
use crate::home::Home;
use crate::provider::{
    ChatRequest, Event, HttpSettings, Message, ModelRoute, Provider, ProviderError, RetryPolicy,
    StopReason, ToolCall, Usage, build_provider, resolve_model,
};
use crate::session::Transcript;
pub use tools::Policy;
use tools::{Registry, Sensitivity, ToolContext, ToolOutput};

/// A person's answer to "may I run this?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Yes,
    No,
    /// Yes, and do not ask again for this tool in this session.
    Always,
}

/// How a front door shows a turn: the terminal, an SSE stream, a script's return value.
#[async_trait]
pub trait Observer: Send {
    fn text(&mut self, delta: &str);
    fn tool_call(&mut self, call: &ToolCall);
    fn tool_result(&mut self, call: &ToolCall, output: &ToolOutput);
    /// Asked only when `tools.approval` is `ask`. `None` means nobody can answer (no
    /// terminal): the call is refused and the model is told why.
    async fn approve(&mut self, request: &str) -> Option<Approval>;
    fn notice(&mut self, _text: &str) {}
}

/// For turns nobody watches (a script's `ask`, a skill run by a script): the answer is
/// collected as a value and tool activity goes to the log.
pub struct LogObserver;

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

/// What one turn did.
#[derive(Debug, Clone, Default)]
pub struct TurnReport {
    /// All text the model wrote in this turn, across tool rounds.
    pub text: String,
    pub tool_calls: Vec<(ToolCall, ToolOutput)>,
    pub usage: Usage,
    pub rounds: u32,
    /// True when the turn stopped at `agent.max_tool_rounds` with tools still wanted.
    pub hit_round_limit: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct TurnError {
    #[source]
    pub source: ProviderError,
    /// What the turn had done before the failure (text already shown is in it).
    pub report: TurnReport,
}

pub struct Agent {
    provider: Arc<dyn Provider>,
    route: ModelRoute,
    model: String,
    registry: Registry,
    context: ToolContext,
    max_rounds: u32,
    max_tokens: u32,
    /// Tools the person said "always" to in this session.
    always_allowed: HashSet<String>,
    /// Replaces the assembled system prompt (a script's `ask(…, #{ system })`).
    system_override: Option<String>,
    temperature: Option<f32>,
    /// Tokens the model takes in.
    context_window: u64,
    counter: context::Counter,
    compaction: CompactionConfig,
    auto_title: bool,
    /// Whether this conversation has been given a title (or did not need one).
    titled: bool,
    /// Messages before this index were already offered to the memory flush.
    flushed_upto: usize,
    /// The provider's own count of the last prompt plus its answer, and how many
    /// messages that covered: better than any estimate.
    reported: Option<(u64, usize)>,
}

impl Agent {
    /// An agent for `model` (a name as the person typed it) with the home's settings.
    pub fn new(
        home: &Home,
        config: &Config,
        model: &str,
        policy: Policy,
        with_tools: bool,
    ) -> Result<Agent, ProviderError> {
        let http = http_settings(config);
        let route = resolve_model(model, config);
        let provider = build_provider(&route, config, &http, &crate::models::models_dir(home))?;
        // Claude Code brings its own tools; ours are not offered to it. The built-in
        // model is too small to call them reliably.
        let registry = if with_tools
            && !matches!(
                route.kind,
                crate::config::ProviderKind::ClaudeCli | crate::config::ProviderKind::Local
            ) {
            Registry::builtin()
        } else {
            Registry::empty()
        };
        let context = ToolContext {
            home: home.clone(),
            config: config.clone(),
            // The model may read the files of skills kept outside the allowed folders.
            policy: policy.with_read_roots(&config.skills.extra_paths),
            model: model.to_string(),
            memory: Mutex::new(None),
            embedder: Default::default(),
            http: std::sync::OnceLock::new(),
        };
        let context_window = context::context_window(config, model, &route.model);
        Ok(Agent {
            counter: context::Counter::for_model(route.kind, &route.model),
            context_window,
            compaction: config.compaction.clone(),
            auto_title: config.sessions.auto_title,
            titled: false,
            flushed_upto: 0,
            reported: None,
            provider,
            route,
            model: model.to_string(),
            registry,
            context,
            max_rounds: config.agent.max_tool_rounds,
            max_tokens: config.agent.max_tokens,
            always_allowed: HashSet::new(),
            system_override: None,
            temperature: None,
        })
    }

    pub fn with_system(mut self, system: Option<String>) -> Agent {
        self.system_override = system;
        self
    }

    pub fn with_temperature(mut self, temperature: Option<f32>) -> Agent {
        self.temperature = temperature;
        self
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn route(&self) -> &ModelRoute {
        &self.route
    }

    pub fn context_window(&self) -> u64 {
        self.context_window
    }

    /// The tokens the next request would take: the provider's count of the last one when
    /// there is one, plus counts of what came after. A cheap estimate decides first; the
    /// model's own tokenizer is asked only when that comes near the compaction limit.
    pub fn estimated_tokens(&self, system: &str, conversation: &[Message]) -> u64 {
        let rough = self.rough_tokens(system, conversation);
        let limit = self.compaction.threshold * self.context_window as f64;
        if self.counter == context::Counter::Estimate || (rough as f64) < limit * 0.5 {
            return rough;
        }
        match self.reported {
            Some((tokens, covered)) if covered <= conversation.len() => {
                tokens + self.counter.count_messages(&conversation[covered..])
            }
            _ => {
                let tools = serde_json::to_string(&self.registry.specs()).unwrap_or_default();
                self.counter.count(system)
                    + self.counter.count(&tools)
                    + self.counter.count_messages(conversation)
            }
        }
    }

    fn rough_tokens(&self, system: &str, conversation: &[Message]) -> u64 {
        match self.reported {
            Some((tokens, covered)) if covered <= conversation.len() => {
                tokens + context::estimate_messages(&conversation[covered..])
            }
            _ => {
                let tools: u64 = self
                    .registry
                    .specs()
                    .iter()
                    .map(|t| {
                        context::estimate_text(&t.description)
                            + context::estimate_text(&t.parameters.to_string())
                    })
                    .sum();
                context::estimate_text(system) + tools + context::estimate_messages(conversation)
            }
        }
    }

    /// Runs one turn: `user` is added to `conversation`, and so is everything that follows.
    pub async fn turn(
        &mut self,
        conversation: &mut Vec<Message>,
        user: &str,
        transcript: Option<&Transcript>,
        observer: &mut dyn Observer,
    ) -> Result<TurnReport, TurnError> {
        let record = |message: &Message| {
            if let Some(transcript) = transcript
                && let Err(err) = transcript.message(message)
            {
                tracing::warn!("cannot write the session transcript: {err}");
            }
        };
        let user_message = Message::User {
            content: user.to_string(),
        };
        record(&user_message);
        conversation.push(user_message);
        let specs = self.registry.specs();
        let system = match &self.system_override {
            Some(system) => system.clone(),
            None if self.route.kind == crate::config::ProviderKind::Local => {
                prompt::small_model_prompt(&self.context.home, Local::now())
            }
            None => {
                let skills = if self.registry.get("run_skill").is_some() {
                    crate::skills::Skills::discover(&self.context.home, &self.context.config)
                        .prompt_section(self.context.config.skills.prompt_max_chars)
                } else {
                    String::new()
                };
                prompt::system_prompt(&self.context.home, Local::now(), &specs, &skills)
            }
        };
        let mut report = TurnReport::default();
        loop {
            report.rounds += 1;
            let limit = self.compaction.threshold * self.context_window as f64;
            if self.estimated_tokens(&system, conversation) as f64 > limit {
                match self.compact(conversation, transcript).await {
                    Compacted::Nothing => {}
                    Compacted::Summarised { replaced } => observer.notice(&format!(
                        "compacted the conversation: {replaced} earlier messages are now a summary"
                    )),
                    Compacted::Dropped { dropped, reason } => observer.notice(&format!(
                        "could not summarise the conversation ({reason}); dropped the {dropped} oldest messages"
                    )),
                }
            }
            let request = ChatRequest {
                model: self.route.model.clone(),
                system: system.clone(),
                messages: conversation.clone(),
                tools: specs.clone(),
                temperature: self.temperature,
                max_tokens: self.max_tokens,
            };
            let mut streamed = String::new();
            let result = {
                let mut sink = |event: Event| {
                    if let Event::TextDelta(text) = &event {
                        streamed.push_str(text);
                        observer.text(text);
                    }
                };
                self.provider.stream(&request, &mut sink).await
            };
            let completion = match result {
                Ok(completion) => completion,
                Err(source) => {
                    report.text.push_str(&streamed);
                    if !streamed.is_empty() {
                        // Keep what was shown: the conversation continues from it.
                        let partial = Message::Assistant {
                            content: streamed,
                            tool_calls: Vec::new(),
                        };
                        record(&partial);
                        conversation.push(partial);
                    }
                    if let Some(transcript) = transcript {
                        let _ = transcript.error(&source.to_string(), source.partial_text());
                    }
                    return Err(TurnError { source, report });
                }
            };
            report.text.push_str(&completion.text);
            report.usage.input_tokens += completion.usage.input_tokens;
            report.usage.output_tokens += completion.usage.output_tokens;
            if let Some(transcript) = transcript {
                let _ = transcript.usage(&self.model, &completion.usage);
            }
            let calls = completion.tool_calls.clone();
            let assistant = Message::Assistant {
                content: completion.text,
                tool_calls: calls.clone(),
            };
            record(&assistant);
            conversation.push(assistant);
            let used = completion.usage.input_tokens + completion.usage.output_tokens;
            self.reported =
                (completion.usage.input_tokens > 0).then_some((used, conversation.len()));
            let wants_tools =
                !calls.is_empty() && completion.stop_reason != Some(StopReason::MaxTokens);
            if !wants_tools {
                self.maybe_title(conversation, transcript).await;
                return Ok(report);
            }
            for call in &calls {
                observer.tool_call(call);
                let mut output = self.run_tool(call, observer).await;
                // A result that alone would crowd the window is cut, and says so.
                let room = self.context_window / 4;
                if context::estimate_text(&output.content) > room {
                    let max_bytes = usize::try_from(room.saturating_mul(4)).unwrap_or(usize::MAX);
                    output.content = format!(
                        "{}\n[cut to fit the model's context window]",
                        crate::truncate::head_and_tail(&output.content, max_bytes)
                    );
                }
                observer.tool_result(call, &output);
                let result = Message::Tool {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: output.content.clone(),
                    is_error: output.is_error,
                };
                record(&result);
                conversation.push(result);
                report.tool_calls.push((call.clone(), output));
            }
            if report.rounds >= self.max_rounds {
                report.hit_round_limit = true;
                observer.notice(&format!(
                    "stopped after {} rounds of tool calls (agent.max_tool_rounds)",
                    self.max_rounds
                ));
                return Ok(report);
            }
            if !report.text.is_empty() && !report.text.ends_with('\n') {
                // Text before and after tool calls are separate paragraphs; how that shows
                // on screen is the observer's business.
                report.text.push('\n');
            }
        }
    }

    /// With `sessions.auto_title`, a few words from the model name the session after its
    /// first answer. A failure here costs nothing but the title.
    async fn maybe_title(&mut self, conversation: &[Message], transcript: Option<&Transcript>) {
        if self.titled || !self.auto_title {
            return;
        }
        self.titled = true;
        let (Some(transcript), Some(Message::User { content })) =
            (transcript, conversation.first())
        else {
            return;
        };
        let request = ChatRequest {
            model: self.route.model.clone(),
            system:
                "You name conversations. Reply with a title of at most six words, nothing else."
                    .to_string(),
            messages: vec![Message::User {
                content: crate::truncate::ellipsize(content, 2000),
            }],
            tools: Vec::new(),
            temperature: None,
            max_tokens: 32,
        };
        if let Ok(completion) = self.provider.stream(&request, &mut |_| {}).await {
            let title = completion.text.trim().trim_matches('"').to_string();
            if !title.is_empty() {
                let title = crate::truncate::ellipsize(&title, 80);
                let _ = transcript.record(serde_json::json!({"type": "title", "title": title}));
            }
        }
    }

    async fn run_tool(&mut self, call: &ToolCall, observer: &mut dyn Observer) -> ToolOutput {
        let Some(tool) = self.registry.get(&call.name) else {
            return ToolOutput::error(format!("there is no tool named {}", call.name));
        };
        if let Err(problem) = self.registry.validate(tool.as_ref(), &call.arguments) {
            return ToolOutput::error(problem);
        }
        if let Sensitivity::NeedsApproval(what) = tool.sensitivity(&call.arguments, &self.context) {
            let allowed = match self.context.policy.approval {
                ApprovalMode::Auto => true,
                ApprovalMode::Deny => {
                    return ToolOutput::error(format!(
                        "not allowed: {what} (tools.approval is \"deny\")"
                    ));
                }
                ApprovalMode::Ask if self.always_allowed.contains(tool.name()) => true,
                ApprovalMode::Ask => match observer.approve(&what).await {
                    Some(Approval::Yes) => true,
                    Some(Approval::Always) => {
                        self.always_allowed.insert(tool.name().to_string());
                        true
                    }
                    Some(Approval::No) => {
                        return ToolOutput::error(format!("the user declined: {what}"));
                    }
                    None => {
                        return ToolOutput::error(format!(
                            "not run: {what} needs approval and there is no terminal to ask \
                             (run with --yes, or set tools.approval = \"auto\")"
                        ));
                    }
                },
            };
            debug_assert!(allowed);
        }
        match tool.run(&call.arguments, &self.context).await {
            Ok(content) => ToolOutput::ok(content),
            Err(content) => ToolOutput::error(content),
        }
    }
}

pub fn http_settings(config: &Config) -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(config.agent.connect_timeout_secs),
        idle_timeout: Duration::from_secs(config.agent.idle_timeout_secs),
        retry: RetryPolicy {
            max_retries: config.agent.max_retries,
            ..RetryPolicy::default()
        },
    }
}
