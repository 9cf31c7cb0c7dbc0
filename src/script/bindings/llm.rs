//! The model: `ask(prompt)`, `ask(prompt, #{ model, system, temperature, tools, stream })`
//! and `chat(message)`, through the one agent loop.

use async_trait::async_trait;
use rhai::{Map, NativeCallContext};

use crate::agent::tools::ToolOutput;
use crate::agent::{Approval, LogObserver, Observer};
use crate::conversation::ToolCall;
use crate::script::catalog::Binder;
use crate::script::context::{ChatSession, RhaiResult, run_context};
use crate::session::Session;

/// Shows the answer as it arrives (`ask(…, #{ stream: true })`), tool activity to the log.
struct Streaming {
    sink: crate::script::OutputSink,
    shown: String,
}

#[async_trait]
impl Observer for Streaming {
    fn text(&mut self, delta: &str) {
        (self.sink)(delta);
        self.shown.push_str(delta);
    }
    fn tool_call(&mut self, call: &ToolCall) {
        LogObserver.tool_call(call);
    }
    fn tool_result(&mut self, _call: &ToolCall, _output: &ToolOutput) {}
    async fn approve(&mut self, _request: &str) -> Option<Approval> {
        None
    }
}

fn ask(call: &NativeCallContext, prompt: &str, options: &Map) -> RhaiResult<String> {
    let run = run_context(call)?;
    let text = |key: &str| options.get(key).and_then(|v| v.clone().into_string().ok());
    let model = text("model").unwrap_or_else(|| run.model.clone());
    let tools = options
        .get("tools")
        .and_then(|v| v.as_bool().ok())
        .unwrap_or(false);
    let temperature = options
        .get("temperature")
        .and_then(|v| {
            v.as_float()
                .ok()
                .or_else(|| v.as_int().ok().map(|i| i as f64))
        })
        .map(|t| t as f32);
    let stream = options
        .get("stream")
        .and_then(|v| v.as_bool().ok())
        .unwrap_or(false);
    const OPTIONS: [&str; 5] = ["model", "system", "temperature", "tools", "stream"];
    for key in options.keys() {
        if !OPTIONS.contains(&key.as_str()) {
            return Err(format!("ask: unknown option `{key}` ({})", OPTIONS.join(", ")).into());
        }
    }
    let mut agent = run
        .agent(&model, tools)?
        .with_system(text("system"))
        .with_temperature(temperature);
    let mut session = Session::ephemeral(Vec::new());
    match (stream, run.stream.clone()) {
        (true, Some(sink)) => {
            let mut observer = Streaming {
                sink,
                shown: String::new(),
            };
            let outcome = run.turn(&mut agent, &mut session, prompt, &mut observer)?;
            if !observer.shown.is_empty() && !observer.shown.ends_with('\n') {
                (observer.sink)("\n");
            }
            Ok(outcome.map_err(|err| format!("ask: {err}"))?.text)
        }
        (quiet, _) => {
            let report = run
                .turn(&mut agent, &mut session, prompt, &mut LogObserver)?
                .map_err(|err| format!("ask: {err}"))?;
            if quiet {
                (run.output)(report.text.trim_end());
            }
            Ok(report.text)
        }
    }
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "ask",
        "ask(prompt: String) -> String",
        "Asks the model one question (no tools) and returns its answer.",
        |call: NativeCallContext, prompt: &str| ask(&call, prompt, &Map::new()),
    );
    b.func(
        "ask",
        "ask(prompt: String, options: #{ model, system, temperature, tools, stream }) -> String",
        "Asks with a chosen model, system prompt, temperature, tools on or off; `stream: true` also shows the answer as it arrives.",
        |call: NativeCallContext, prompt: &str, options: Map| ask(&call, prompt, &options),
    );
    b.func(
        "chat",
        "chat(message: String) -> String",
        "Continues this run's conversation with the assistant (tools and memory included).",
        |call: NativeCallContext, message: &str| -> RhaiResult<String> {
            let run = run_context(&call)?;
            let mut slot = run
                .chat
                .lock()
                .map_err(|_| "chat: the conversation is unavailable")?;
            if slot.is_none() {
                *slot = Some(ChatSession {
                    agent: run.agent(&run.model, true)?,
                    session: Session::start(&run.home, &run.model, "script"),
                });
            }
            let Some(chat) = slot.as_mut() else {
                return Err("chat: the conversation could not be started".into());
            };
            let report = run
                .turn(
                    &mut chat.agent,
                    &mut chat.session,
                    message,
                    &mut LogObserver,
                )?
                .map_err(|err| format!("chat: {err}"))?;
            Ok(report.text)
        },
    );
}
