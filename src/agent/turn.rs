//! One turn of the agent loop, with cancellation inside it: whenever the cancel signal is
//! set — while the answer streams, while a tool runs or waits for approval, between calls —
//! the loop finishes the round itself, so the conversation it leaves is one every provider
//! accepts and the transcript says exactly what happened.

use chrono::Local;

use super::tools::{Decision, ToolOutput, decide};
use super::{Agent, Approval, Compacted, Observer, TurnError, TurnReport, context, prompt};
use crate::cancel::Cancel;
use crate::config::ProviderKind;
use crate::conversation::{
    INTERRUPTED_BEFORE_RUNNING, INTERRUPTED_NOTE, INTERRUPTED_WHILE_RUNNING, Message, ToolCall,
};
use crate::provider::{ChatRequest, Event, StopReason, ToolSpec};
use crate::session::{Record, Session};

impl Agent {
    /// Runs one turn: `user` is added to `session`, and so is everything that follows.
    /// A cancelled turn is not an error: it returns with [`TurnReport::interrupted`] set,
    /// its round closed.
    pub async fn turn(
        &mut self,
        session: &mut Session,
        user: &str,
        observer: &mut dyn Observer,
        cancel: &Cancel,
    ) -> Result<TurnReport, TurnError> {
        session.push(Message::user(user));
        self.capture_message(session, user, observer);
        self.run_rounds(session, observer, cancel).await
    }

    /// Goes on with a turn whose conversation already ends in what the model should
    /// answer: the caller's results for [`TurnReport::client_calls`].
    pub async fn resume(
        &mut self,
        session: &mut Session,
        observer: &mut dyn Observer,
        cancel: &Cancel,
    ) -> Result<TurnReport, TurnError> {
        self.run_rounds(session, observer, cancel).await
    }

    async fn run_rounds(
        &mut self,
        session: &mut Session,
        observer: &mut dyn Observer,
        cancel: &Cancel,
    ) -> Result<TurnReport, TurnError> {
        if !self.mcp_attached {
            tokio::select! {
                () = self.attach_mcp_tools(observer) => {}
                () = cancel.cancelled() => return Ok(interrupted(session, "", TurnReport::default())),
            }
        }
        let mut specs = self.offered_specs();
        self.learn_model(&mut specs, observer).await;
        let mut system = self.system_prompt(&specs);
        let mut sampling = self.sampling.clone();
        let mut report = TurnReport {
            recalled: self.recall_for(session),
            ..TurnReport::default()
        };
        if !report.recalled.is_empty() {
            observer.recalled(&report.recalled);
        }
        // A small model follows plain facts in its prompt and copies a block in a
        // message; the others get the block with the message, so what a provider cached of
        // the conversation before it stays valid.
        let recalled_in_message = if self.speaks_plainly(&specs) {
            system.push_str(&crate::memory::recall::plain_block(&report.recalled));
            Vec::new()
        } else {
            report.recalled.clone()
        };
        loop {
            if cancel.is_cancelled() {
                return Ok(interrupted(session, "", report));
            }
            report.rounds += 1;
            let compacted = tokio::select! {
                compacted = self.compact_if_needed(session, &system) => Some(compacted),
                () = cancel.cancelled() => None,
            };
            match compacted {
                None => return Ok(interrupted(session, "", report)),
                Some(Compacted::Nothing) => {}
                Some(Compacted::Summarised { replaced }) => observer.notice(&format!(
                    "compacted the conversation: {replaced} earlier messages are now a summary"
                )),
                Some(Compacted::Dropped { dropped, reason }) => observer.notice(&format!(
                    "could not summarise the conversation ({reason}); dropped the {dropped} oldest messages"
                )),
            }
            session.repair();
            let request = ChatRequest {
                model: self.route.model.clone(),
                system: system.clone(),
                messages: super::remembering::with_recalled(
                    session.messages(),
                    &recalled_in_message,
                ),
                tools: specs.clone(),
                temperature: self.temperature,
                max_tokens: sampling.max_tokens.unwrap_or(self.max_tokens),
                sampling: sampling.clone(),
                context_window: self.context_window,
            };
            // A tool choice holds for the first request only (see `Sampling`).
            sampling.tool_choice = None;
            let mut streamed = String::new();
            let result = {
                let mut sink = |event: Event| {
                    if let Event::TextDelta(text) = &event {
                        streamed.push_str(text);
                        observer.text(text);
                    }
                };
                tokio::select! {
                    result = self.provider.stream(&request, &mut sink) => Some(result),
                    () = cancel.cancelled() => None,
                }
            };
            let completion = match result {
                None => {
                    report.text.push_str(&streamed);
                    return Ok(interrupted(session, &streamed, report));
                }
                Some(Err(source)) => {
                    report.text.push_str(&streamed);
                    if !streamed.is_empty() {
                        // Keep what was shown: the conversation continues from it.
                        session.push(Message::assistant(streamed));
                    }
                    session.note(&Record::Error {
                        message: source.to_string(),
                        partial: source.partial_text().map(str::to_string),
                    });
                    return Err(TurnError { source, report });
                }
                Some(Ok(completion)) => completion,
            };
            report.text.push_str(&completion.text);
            report.usage.input_tokens += completion.usage.input_tokens;
            report.usage.output_tokens += completion.usage.output_tokens;
            session.note(&Record::usage(&self.model, &completion.usage));
            // Calls in an answer cut off by the token limit may be incomplete: none run.
            let calls = if completion.stop_reason == Some(StopReason::MaxTokens) {
                Vec::new()
            } else {
                completion.tool_calls
            };
            session.push(Message::Assistant {
                content: completion.text,
                tool_calls: calls.clone(),
            });
            let used = completion.usage.input_tokens + completion.usage.output_tokens;
            self.reported = (completion.usage.input_tokens > 0).then_some((used, session.len()));
            if calls.is_empty() {
                tokio::select! {
                    () = self.maybe_title(session) => {}
                    () = cancel.cancelled() => {}
                }
                return Ok(report);
            }
            let (client_calls, calls): (Vec<ToolCall>, Vec<ToolCall>) = calls
                .into_iter()
                .partition(|call| self.is_client_tool(&call.name));
            for (index, call) in calls.iter().enumerate() {
                if cancel.is_cancelled() {
                    for pending in &calls[index..] {
                        session.push(Message::result_of(
                            pending,
                            INTERRUPTED_BEFORE_RUNNING,
                            true,
                        ));
                    }
                    report.interrupted = true;
                    return Ok(report);
                }
                observer.tool_call(call);
                let finished = tokio::select! {
                    output = self.run_tool(call, observer) => Some(output),
                    () = cancel.cancelled() => None,
                };
                let mut output =
                    finished.unwrap_or_else(|| ToolOutput::error(INTERRUPTED_WHILE_RUNNING));
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
                session.push(Message::result_of(call, &output.content, output.is_error));
                report.tool_calls.push((call.clone(), output));
            }
            if cancel.is_cancelled() {
                return Ok(interrupted(session, "", report));
            }
            if !client_calls.is_empty() {
                // The caller runs these and comes back with their results (`resume`).
                report.client_calls = client_calls;
                return Ok(report);
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

    /// Whether the model is a small local one without tools, which gets the short prompt.
    fn speaks_plainly(&self, specs: &[ToolSpec]) -> bool {
        self.route.kind == ProviderKind::Local && specs.is_empty()
    }

    fn system_prompt(&self, specs: &[ToolSpec]) -> String {
        let mut system = match &self.system_override {
            Some(system) => system.clone(),
            None if self.speaks_plainly(specs) => {
                prompt::small_model_prompt(&self.context.home, Local::now())
            }
            None => {
                let skills = if self.registry.get("run_skill").is_some() {
                    crate::skills::Skills::discover(&self.context.home, &self.context.config)
                        .prompt_section(self.context.config.skills.prompt_max_chars)
                } else {
                    String::new()
                };
                prompt::system_prompt(&self.context.home, Local::now(), specs, &skills)
            }
        };
        if let Some(instructions) = &self.instructions {
            system.push_str("\n\n## Instructions from the application you are serving\n\n");
            system.push_str(instructions);
        }
        system
    }

    /// What the provider knows of the model, once per agent: a shorter window than
    /// LocalGPT assumed, and no tools for a model that cannot call them (said once).
    async fn learn_model(&mut self, specs: &mut Vec<ToolSpec>, observer: &mut dyn Observer) {
        if !self.model_learnt {
            self.model_learnt = true;
            let info = self.provider.model_info(&self.route.model).await;
            // Never more than LocalGPT assumed: a model trained on 128k tokens would
            // otherwise make Ollama reserve memory for all of them.
            if let Some(length) = info.context_length
                && !self.window_configured
            {
                self.context_window = self.context_window.min(length);
            }
            self.takes_tools = info.tools != Some(false);
            if !self.takes_tools && !specs.is_empty() {
                let why = if self.route.kind == ProviderKind::Local {
                    "its chat template has no place for them".to_string()
                } else {
                    format!("{} says so", self.provider.name())
                };
                observer.notice(&format!(
                    "{} cannot call tools ({why}): it answers without them",
                    self.route.model
                ));
            }
        }
        if !self.takes_tools {
            specs.clear();
        }
    }

    async fn compact_if_needed(&mut self, session: &mut Session, system: &str) -> Compacted {
        let limit = self.compaction.threshold * self.context_window as f64;
        if self.estimated_tokens(system, session.messages()) as f64 > limit {
            self.compact(session).await
        } else {
            Compacted::Nothing
        }
    }

    /// With `sessions.auto_title`, a few words from the model name the session after its
    /// first answer. A failure here costs nothing but the title.
    async fn maybe_title(&mut self, session: &Session) {
        if self.titled || !self.auto_title {
            return;
        }
        self.titled = true;
        let (Some(_), Some(Message::User { content, .. })) =
            (session.id(), session.messages().first())
        else {
            return;
        };
        let request = ChatRequest {
            model: self.route.model.clone(),
            system:
                "You name conversations. Reply with a title of at most six words, nothing else."
                    .to_string(),
            messages: vec![Message::user(crate::truncate::ellipsize(content, 2000))],
            tools: Vec::new(),
            temperature: None,
            max_tokens: 32,
            sampling: Default::default(),
            context_window: self.context_window,
        };
        if let Ok(completion) = self.provider.stream(&request, &mut |_| {}).await {
            let title = completion.text.trim().trim_matches('"').to_string();
            if !title.is_empty() {
                let title = crate::truncate::ellipsize(&title, 80);
                session.note(&Record::Title { title });
            }
        }
    }

    /// Runs one call under the policy: a call the policy refuses is answered at once; one
    /// that needs a yes asks the observer (or follows `tools.approval`).
    pub(super) async fn run_tool(
        &mut self,
        call: &ToolCall,
        observer: &mut dyn Observer,
    ) -> ToolOutput {
        let Some(tool) = self.registry.get(&call.name) else {
            return ToolOutput::error(format!("there is no tool named {}", call.name));
        };
        match decide(tool.as_ref(), &call.arguments, &self.context) {
            Decision::Run => {}
            Decision::Refuse(reason) => return ToolOutput::error(reason),
            Decision::Ask(_) if self.always_allowed.contains(tool.name()) => {}
            Decision::Ask(what) => match observer.approve(&what).await {
                Some(Approval::Yes) => {}
                Some(Approval::Always) => {
                    self.always_allowed.insert(tool.name().to_string());
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
        }
        match tool.run(&call.arguments, &self.context).await {
            Ok(content) => ToolOutput::ok(content),
            Err(content) => ToolOutput::error(content),
        }
    }
}

/// Ends a turn cancelled before or while the model answered: what it had said is kept as
/// it said it, and a note from the user's side marks where it was cut short.
fn interrupted(session: &mut Session, partial: &str, mut report: TurnReport) -> TurnReport {
    let partial = partial.trim_end();
    if !partial.is_empty() {
        session.push(Message::assistant(partial));
    }
    session.push(Message::user(INTERRUPTED_NOTE));
    report.interrupted = true;
    report
}
