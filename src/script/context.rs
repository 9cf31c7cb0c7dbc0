//! What a running script's bindings can reach: the home folder, the settings, the tool
//! policy, the async runtime (through a handle, since scripts run on a plain thread), the
//! run's cancel signal and output sink, and lazily opened memory and chat session.
//!
//! Bindings are registered once into a shared module; each run's engine carries its own
//! [`RunHandle`] as the engine tag, which the bindings read back from their call context.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, EvalAltResult, NativeCallContext};

use crate::agent::Agent;
use crate::cancel::Cancel;
use crate::config::Config;
use crate::home::Home;
use crate::memory::Memory;
use crate::policy::Policy;
use crate::session::Session;

/// Where `print`, `debug` and `log` output goes.
pub(crate) type OutputSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Asks the person a yes/no question; `None` when nobody can answer.
pub(crate) type Confirmer = Arc<dyn Fn(&str) -> Option<bool> + Send + Sync>;

/// How deeply skills may run skills.
pub(crate) const MAX_SKILL_DEPTH: usize = 4;

pub struct RunContext {
    pub home: Home,
    pub config: Config,
    /// The model `ask` and `chat` use unless told otherwise.
    pub model: String,
    pub policy: Policy,
    pub runtime: tokio::runtime::Handle,
    pub cancel: Cancel,
    /// The folder of the script file (the current folder for `-e` and stdin).
    pub script_dir: PathBuf,
    pub output: OutputSink,
    /// Where `ask(…, #{ stream: true })` shows text as it arrives; without one, the
    /// answer goes to `output` when it is complete.
    pub stream: Option<OutputSink>,
    /// How `confirm()` asks; `None` when there is nobody to ask.
    pub confirm: Option<Confirmer>,
    /// How many skills deep this run is (a skill running a skill…).
    pub skill_depth: usize,
    pub memory: Mutex<Option<Memory>>,
    /// The embedding model, loaded the first time memory is searched.
    pub embedder: crate::memory::embed::LazyEmbedder,
    /// The conversation `chat()` continues, created on first use.
    pub chat: Mutex<Option<ChatSession>>,
    /// Built on first use: loading the system's root certificates costs milliseconds
    /// that a script without HTTP should not pay.
    pub http: std::sync::OnceLock<reqwest::Client>,
}

/// The conversation a script's `chat()` calls continue, saved like any other session.
pub struct ChatSession {
    pub agent: Agent,
    pub session: Session,
}

/// The per-run context as the engine tag carries it.
#[derive(Clone)]
pub(crate) struct RunHandle(pub Arc<RunContext>);

pub(crate) type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The run context of the script calling a binding.
pub(crate) fn run_context(call: &NativeCallContext) -> RhaiResult<Arc<RunContext>> {
    call.tag()
        .and_then(|tag| tag.read_lock::<RunHandle>().map(|handle| handle.0.clone()))
        .ok_or_else(|| "this function is only available inside a LocalGPT script run".into())
}

impl RunContext {
    /// A run in `home` with `config`, under `policy`, on `runtime`. The rest has defaults
    /// that the `with_…` methods change: the configured model, a cancel signal of its
    /// own, the policy's current folder as the script's folder, output to nowhere.
    pub fn new(
        home: Home,
        config: Config,
        policy: Policy,
        runtime: tokio::runtime::Handle,
    ) -> RunContext {
        RunContext {
            model: config.model().to_string(),
            script_dir: policy.cwd().to_path_buf(),
            home,
            config,
            policy,
            runtime,
            cancel: Cancel::new(),
            output: Arc::new(|_: &str| {}),
            stream: None,
            confirm: None,
            skill_depth: 0,
            memory: Mutex::new(None),
            embedder: Default::default(),
            chat: Mutex::new(None),
            http: std::sync::OnceLock::new(),
        }
    }

    /// A run inside this one (a skill run by a script or by the model's tool): the same
    /// settings, policy, runtime and cancel signal, one level deeper.
    pub(crate) fn nested(&self, script_dir: PathBuf, output: OutputSink) -> RunContext {
        RunContext {
            skill_depth: self.skill_depth + 1,
            ..RunContext::new(
                self.home.clone(),
                self.config.clone(),
                self.policy.clone(),
                self.runtime.clone(),
            )
            .with_model(self.model.clone())
            .with_cancel(self.cancel.clone())
            .with_script_dir(script_dir)
            .with_output(output)
        }
    }

    pub(crate) fn with_model(mut self, model: impl Into<String>) -> RunContext {
        self.model = model.into();
        self
    }

    pub(crate) fn with_cancel(mut self, cancel: Cancel) -> RunContext {
        self.cancel = cancel;
        self
    }

    pub(crate) fn with_script_dir(mut self, script_dir: PathBuf) -> RunContext {
        self.script_dir = script_dir;
        self
    }

    pub(crate) fn with_output(mut self, output: OutputSink) -> RunContext {
        self.output = output;
        self
    }

    pub(crate) fn with_stream(mut self, stream: OutputSink) -> RunContext {
        self.stream = Some(stream);
        self
    }

    pub(crate) fn with_confirm(mut self, confirm: Option<Confirmer>) -> RunContext {
        self.confirm = confirm;
        self
    }

    /// Runs async work from the script's thread, giving up when the run is cancelled.
    pub fn block_on<T>(&self, work: impl Future<Output = T>) -> RhaiResult<T> {
        let cancel = self.cancel.clone();
        let finished = if cancel.is_cancelled() {
            None
        } else {
            self.runtime.block_on(async move {
                tokio::select! {
                    output = work => Some(output),
                    () = cancel.cancelled() => None,
                }
            })
        };
        finished.ok_or_else(|| self.stop_reason())
    }

    /// A turn of the agent loop from the script's thread. The turn watches the run's
    /// cancel signal itself and closes its round when stopped; the script then stops too.
    pub fn turn(
        &self,
        agent: &mut Agent,
        session: &mut Session,
        message: &str,
        observer: &mut dyn crate::agent::Observer,
    ) -> RhaiResult<Result<crate::agent::TurnReport, crate::agent::TurnError>> {
        if self.cancel.is_cancelled() {
            return Err(self.stop_reason());
        }
        let outcome = self
            .runtime
            .block_on(agent.turn(session, message, observer, &self.cancel));
        match outcome {
            Ok(report) if report.interrupted => Err(self.stop_reason()),
            other => Ok(other),
        }
    }

    /// An agent for `model` with this run's settings and policy; `tools` off gives a plain
    /// question and answer.
    pub fn agent(&self, model: &str, tools: bool) -> RhaiResult<Agent> {
        let _guard = self.runtime.enter();
        let agent = Agent::new(&self.home, &self.config, model, self.policy.clone())
            .map_err(|err| err.to_string())?;
        Ok(if tools { agent } else { agent.without_tools() })
    }

    /// Why the run is being stopped, as an uncatchable termination.
    pub fn stop_reason(&self) -> Box<EvalAltResult> {
        let token = if self.cancel.is_timed_out() {
            "timeout"
        } else {
            "cancelled"
        };
        Box::new(EvalAltResult::ErrorTerminated(
            token.into(),
            rhai::Position::NONE,
        ))
    }

    /// The HTTP client, built on first use.
    pub fn http(&self) -> RhaiResult<&reqwest::Client> {
        let _runtime = self.runtime.enter();
        crate::net::lazy_web_client(
            &self.http,
            &crate::net::HttpSettings::from_config(&self.config),
            self.config.tools.web_allow_local,
        )
        .map_err(|err| err.to_string().into())
    }

    /// Runs `work` with the memory index, opening it on first use.
    pub(crate) fn with_memory<T>(
        &self,
        work: impl FnOnce(&mut Memory) -> Result<T, String>,
    ) -> RhaiResult<T> {
        crate::memory::with_lazy(&self.memory, &self.home, &self.config.memory, work)
            .map_err(Into::into)
    }
}

/// Lines to stdout, flushed at once; a closed stdout must not crash the script.
pub(crate) fn stdout_lines() -> OutputSink {
    Arc::new(|text: &str| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    })
}

/// Text to stdout as it comes, for streamed answers.
pub(crate) fn stdout_raw() -> OutputSink {
    Arc::new(|text: &str| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{text}").and_then(|()| out.flush());
    })
}

/// Asks on the terminal: the question on stderr, the answer a line of stdin.
pub(crate) fn terminal_confirmer() -> Confirmer {
    Arc::new(|question: &str| {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{question} [y/N] ").and_then(|()| err.flush());
        drop(err);
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok()?;
        Some(matches!(
            line.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    })
}

/// Says yes without asking (`--yes`).
pub(crate) fn assume_yes() -> Confirmer {
    Arc::new(|_: &str| Some(true))
}

/// Converts a JSON value into a Rhai value (maps and arrays included).
pub(crate) fn to_dynamic(value: &serde_json::Value) -> RhaiResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}

/// Converts a Rhai value into JSON.
pub(crate) fn from_dynamic(value: &Dynamic) -> RhaiResult<serde_json::Value> {
    rhai::serde::from_dynamic(value)
}
