//! The agent loop — the only one. A turn sends the conversation, streams the answer to an
//! [`Observer`], runs the tools the model asks for (with approval where the policy says),
//! feeds the results back, and repeats until the model stops, `agent.max_tool_rounds` is
//! reached, or the turn is cancelled.
//!
//! The loop owns the conversation's invariants: every message goes to the transcript as it
//! happens (the assistant message that asks for tools before their results, as Anthropic
//! requires); a cancelled turn closes its own round — each pending call gets a result
//! saying it was interrupted, a partial answer is kept and marked — so no front door cleans
//! up after it; and the conversation is repaired before every request.
//!
//! - [`turn`]: the loop itself.
//! - [`observer`]: how a front door watches a turn and answers approval questions.
//! - [`compaction`]: shortening a conversation near the context window.
//! - [`context`]: context windows and token counts.
//! - [`prompt`]: the system prompt.
//! - `remembering`: capture of what the person says, recall of notes into each turn.
//! - [`tools`]: the tool registry and the built-in tools.

mod compaction;
pub mod consolidation;
pub mod context;
mod observer;
pub mod prompt;
mod remembering;
pub mod tools;
mod trace;
mod turn;

#[cfg(test)]
mod loop_tests;

pub(crate) use compaction::Compacted;
pub(crate) use observer::{Approval, LogObserver, Observer};

use std::collections::HashSet;
use std::sync::Mutex;

use crate::config::Config;
use crate::config::schema::CompactionConfig;
use crate::conversation::{Message, ToolCall};
use crate::home::Home;
use crate::net::HttpSettings;
use crate::policy::Policy;
use crate::provider::{
    ModelRoute, Provider, ProviderError, Sampling, ToolSpec, Usage, build_provider, resolve_model,
};
use tools::{Registry, ToolContext, ToolOutput};

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
    /// True when the turn was cancelled: its round was closed (pending calls answered as
    /// interrupted, a partial answer kept and marked).
    pub interrupted: bool,
    /// Calls of the caller's own tools ([`Agent::with_client_tools`]), left for the
    /// caller to answer; the turn stopped after running LocalGPT's calls of that round.
    pub client_calls: Vec<ToolCall>,
    /// The notes recalled from memory into this turn's request.
    pub recalled: Vec<crate::memory::recall::Recalled>,
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
    provider: std::sync::Arc<dyn Provider>,
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
    /// Messages before this index already left their trace in the daily log.
    traced_upto: usize,
    /// The provider's own count of the last prompt plus its answer, and how many
    /// messages that covered: better than any estimate.
    reported: Option<(u64, usize)>,
    /// Whether the MCP servers' tools were added (on the first turn, which starts them).
    mcp_attached: bool,
    /// Tools the caller runs itself (an OpenAI client's): offered beside ours, and a call
    /// of one ends the turn.
    client_tools: Vec<ToolSpec>,
    /// Whether the provider was asked about the model (`Provider::model_info`).
    model_learnt: bool,
    /// False for a model its provider says cannot call tools.
    takes_tools: bool,
    /// The window comes from `[models.NAME]`, which wins over what a provider says.
    window_configured: bool,
    /// The caller's instructions, added to the system prompt.
    instructions: Option<String>,
    sampling: Sampling,
    /// The person speaks through this agent (the prompt, `ask`, the API and web page):
    /// what they say is captured in memory. Scripts and tasks speak for themselves.
    person: bool,
    /// Notes are recalled into each turn (`memory.recall = "auto"`): for the person and
    /// for tasks, not for a script's own prompts, which it writes whole.
    recalls: bool,
}

impl Agent {
    /// An agent for `model` (a name as the person typed it) with the home's settings and
    /// the built-in tools (see [`Agent::without_tools`]).
    pub fn new(
        home: &Home,
        config: &Config,
        model: &str,
        policy: Policy,
    ) -> Result<Agent, ProviderError> {
        let http = HttpSettings::from_config(config);
        let route = resolve_model(model, config);
        let provider = build_provider(&route, config, &http, &crate::models::models_dir(home))?;
        // Claude Code brings its own tools; ours are not offered to it. The built-in
        // SmolLM2 is too small to call them reliably; other models run in-process get them
        // when their chat template can write them (see `learn_model`).
        let registry = match route.kind {
            crate::config::ProviderKind::ClaudeCli => Registry::empty(),
            crate::config::ProviderKind::Local
                if route.model == crate::models::chat::MODEL_NAME =>
            {
                Registry::empty()
            }
            _ => Registry::builtin(),
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
            traced_upto: 0,
            reported: None,
            mcp_attached: false,
            client_tools: Vec::new(),
            model_learnt: false,
            takes_tools: true,
            window_configured: [model, route.model.as_str()].iter().any(|name| {
                config
                    .models
                    .get(*name)
                    .is_some_and(|m| m.context_window.is_some())
            }),
            instructions: None,
            sampling: Sampling::default(),
            person: false,
            recalls: false,
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

    /// The same agent speaking to another provider: the in-process loop tests' scripted
    /// one.
    #[cfg(test)]
    pub(crate) fn with_provider(mut self, provider: std::sync::Arc<dyn Provider>) -> Agent {
        self.provider = provider;
        self
    }

    /// The person speaks through this agent: their messages are captured in memory
    /// (`memory.capture`, and "Remember …" always).
    pub(crate) fn for_person(mut self) -> Agent {
        self.person = true;
        self.recalls = true;
        self
    }

    /// Notes that bear on each message are recalled into the request (a task's turn).
    pub(crate) fn recalling(mut self) -> Agent {
        self.recalls = true;
        self
    }

    /// No tools for the model: a plain question and answer.
    pub(crate) fn without_tools(mut self) -> Agent {
        self.registry = Registry::empty();
        self
    }

    /// Adds the configured MCP servers' tools, starting the servers (once per process) if
    /// this is the first turn that needs them. A server that cannot start is reported
    /// and left out; the turn goes on with the others.
    async fn attach_mcp_tools(&mut self, observer: &mut dyn Observer) {
        self.mcp_attached = true;
        // No tools for this model (or this caller): none of the servers' either.
        if self.registry.is_empty() {
            return;
        }
        let hub = crate::mcp::Hub::global(&self.context.config);
        if !hub.has_servers() {
            return;
        }
        let mut running = Vec::new();
        for (server, opened) in hub.connect_all().await {
            match opened {
                Ok(connection) => running.push((server, connection)),
                Err(reason) => observer.notice(&reason),
            }
        }
        for offered in crate::mcp::client::offered(&running) {
            self.registry.add(std::sync::Arc::new(tools::McpTool::new(
                hub.clone(),
                offered,
            )));
        }
    }

    /// The tools the person said "always" to: kept by a caller whose agent lives for one
    /// turn only (the web page's), and given back to the next with
    /// [`Agent::with_always_allowed`].
    pub(crate) fn always_allowed(&self) -> &HashSet<String> {
        &self.always_allowed
    }

    pub(crate) fn with_always_allowed(mut self, tools: HashSet<String>) -> Agent {
        self.always_allowed = tools;
        self
    }

    pub(crate) fn with_system(mut self, system: Option<String>) -> Agent {
        self.system_override = system;
        self
    }

    /// Tools the caller defines and runs: offered to the model beside LocalGPT's own (one
    /// of the same name is replaced); when the model calls one, the turn ends with the
    /// call in [`TurnReport::client_calls`].
    pub(crate) fn with_client_tools(mut self, tools: Vec<ToolSpec>) -> Agent {
        self.client_tools = tools;
        self
    }

    /// Instructions from the caller (an OpenAI client's system messages), added to the
    /// system prompt: LocalGPT's own prompt stays.
    pub(crate) fn with_instructions(mut self, instructions: Option<String>) -> Agent {
        self.instructions = instructions.filter(|text| !text.trim().is_empty());
        self
    }

    pub(crate) fn with_sampling(mut self, sampling: Sampling) -> Agent {
        self.sampling = sampling;
        self
    }

    /// Why this agent's model cannot be shown these pictures, if it cannot.
    pub(crate) async fn refuses_images(
        &self,
        images: &[crate::conversation::Image],
    ) -> Option<String> {
        use crate::config::ProviderKind;
        if images.is_empty() {
            return None;
        }
        let model = &self.route.model;
        match self.route.kind {
            // Their APIs take both kinds; a model that cannot see says so itself.
            ProviderKind::OpenAi | ProviderKind::Anthropic => None,
            ProviderKind::Ollama => {
                if images
                    .iter()
                    .any(|image| matches!(image, crate::conversation::Image::Link { .. }))
                {
                    return Some(
                        "Ollama takes pictures as data, not links: send a data: URL".to_string(),
                    );
                }
                (self.provider.model_info(model).await.vision == Some(false))
                    .then(|| format!("{model} cannot see pictures (Ollama says so)"))
            }
            ProviderKind::Local | ProviderKind::ClaudeCli => {
                Some(format!("LocalGPT gives {model} text only"))
            }
        }
    }

    /// Whether this agent's model can be offered tools at all (as far as is known before
    /// its provider is asked: a GGUF model's template may still say no).
    pub fn takes_tools(&self) -> bool {
        !self.registry.is_empty()
            || (self.route.kind == crate::config::ProviderKind::Local
                && self.route.model != crate::models::chat::MODEL_NAME)
    }

    /// The tools offered to the model: ours, except where the caller's have the name.
    fn offered_specs(&self) -> Vec<ToolSpec> {
        let mut specs: Vec<ToolSpec> = self
            .registry
            .specs()
            .into_iter()
            .filter(|spec| !self.is_client_tool(&spec.name))
            .collect();
        specs.extend(self.client_tools.iter().cloned());
        specs
    }

    fn is_client_tool(&self, name: &str) -> bool {
        self.client_tools.iter().any(|tool| tool.name == name)
    }

    pub(crate) fn with_temperature(mut self, temperature: Option<f32>) -> Agent {
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
    pub(crate) fn estimated_tokens(&self, system: &str, conversation: &[Message]) -> u64 {
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
}
