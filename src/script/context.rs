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

use super::Cancel;
use crate::agent::{Agent, Policy};
use crate::config::Config;
use crate::home::Home;
use crate::memory::Memory;
use crate::provider::Message;

/// Where `print`, `debug` and `log` output goes.
pub type OutputSink = Arc<dyn Fn(&str) + Send + Sync>;

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
    pub memory: Mutex<Option<Memory>>,
    /// The conversation `chat()` continues, created on first use.
    pub chat: Mutex<Option<ChatSession>>,
    /// Built on first use: loading the system's root certificates costs milliseconds
    /// that a script without HTTP should not pay.
    pub http: std::sync::OnceLock<reqwest::Client>,
}

/// The conversation a script's `chat()` calls continue, saved like any other session.
pub struct ChatSession {
    pub agent: Agent,
    pub conversation: Vec<Message>,
    pub transcript: Option<crate::session::Transcript>,
}

/// The per-run context as the engine tag carries it.
#[derive(Clone)]
pub struct RunHandle(pub Arc<RunContext>);

pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The run context of the script calling a binding.
pub fn run_context(call: &NativeCallContext) -> RhaiResult<Arc<RunContext>> {
    call.tag()
        .and_then(|tag| tag.read_lock::<RunHandle>().map(|handle| handle.0.clone()))
        .ok_or_else(|| "this function is only available inside a LocalGPT script run".into())
}

impl RunContext {
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
        crate::provider::lazy_client(&self.http, &crate::agent::http_settings(&self.config))
            .map_err(|err| err.to_string().into())
    }

    /// Runs `work` with the memory index, opening it on first use.
    pub fn with_memory<T>(
        &self,
        work: impl FnOnce(&mut Memory) -> Result<T, String>,
    ) -> RhaiResult<T> {
        crate::memory::with_lazy(&self.memory, &self.home, &self.config.memory, work)
            .map_err(Into::into)
    }
}

/// Converts a JSON value into a Rhai value (maps and arrays included).
pub fn to_dynamic(value: &serde_json::Value) -> RhaiResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}

/// Converts a Rhai value into JSON.
pub fn from_dynamic(value: &Dynamic) -> RhaiResult<serde_json::Value> {
    rhai::serde::from_dynamic(value)
}
