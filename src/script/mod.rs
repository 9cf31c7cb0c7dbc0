//! The one Rhai engine every front door uses: `localgpt run`, the REPL's `:` lines,
//! skills, heartbeat tasks and the API's script route.
//!
//! The expensive parts — the standard package, the binding module, the compiled stdlib —
//! are built once in a [`ScriptHost`] and shared. Each run gets its own cheap engine
//! (`Engine::new_raw` plus those modules) whose limits, output sink, cancel signal and
//! context belong to that run alone. Scripts run on the caller's plain thread, never on a
//! tokio worker: bindings reach async code through [`context::RunContext::block_on`].
//!
//! - [`bindings`]: the functions scripts call, one file per family.
//! - [`catalog`]: their signatures and descriptions (`--list-functions`).
//! - [`context`]: what bindings can reach during a run.
//! - [`resolver`]: `import` of the standard library and of files.
//! - [`error`]: errors with file:line:column, the line and a caret.
//! - [`ceiling`]: the memory each run may hold.

pub mod bindings;
mod capture;
pub mod catalog;
pub mod ceiling;
pub mod context;
pub mod error;
pub mod resolver;
mod session;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::packages::{Package, StandardPackage};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Module, Scope, Shared};

type SharedModule = Shared<Module>;

pub(crate) use capture::Captured;
pub(crate) use catalog::FnDoc;
pub use context::RunContext;
pub(crate) use context::{Confirmer, OutputSink, RunHandle};
pub(crate) use error::ScriptError;
use resolver::{ModuleCache, StdlibResolver};
pub(crate) use session::{Evaluated, ScriptSession};

/// How often (in operations) the progress callback looks at the clock and the cancel
/// signal; checking on every operation would cost more than the scripts themselves.
const PROGRESS_CHECK_EVERY: u64 = 4096;

/// When the current evaluation must stop; reset before each one.
pub(crate) type Deadline = Arc<Mutex<Instant>>;

/// A deadline `timeout_secs` from now.
fn deadline_in(seconds: u64) -> Deadline {
    Arc::new(Mutex::new(Instant::now() + Duration::from_secs(seconds)))
}

/// What a run ended with.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The script finished; its last expression's value.
    Finished(Dynamic),
    /// The script called `exit(code)`.
    Exit(i32),
}

impl Outcome {
    /// The process exit status for this outcome: `exit(code)` as a shell reads it (modulo
    /// 256, so `exit(-1)` is 255), except that a failure never reads as success.
    pub(crate) fn exit_status(&self) -> u8 {
        match self {
            Outcome::Finished(_) | Outcome::Exit(0) => 0,
            Outcome::Exit(code) => match u8::try_from(code.rem_euclid(256)) {
                Ok(0) | Err(_) => 1,
                Ok(status) => status,
            },
        }
    }
}

/// One script to run.
pub struct Script {
    /// How errors name it: a path, or `<expression>` / `<stdin>`.
    pub name: String,
    pub text: String,
    /// The script's `args`.
    pub args: Vec<String>,
}

/// The parts every run shares, built once per process.
pub struct ScriptHost {
    standard: SharedModule,
    bindings: SharedModule,
    docs: Arc<Vec<FnDoc>>,
    modules: ModuleCache,
}

impl Default for ScriptHost {
    fn default() -> Self {
        ScriptHost::new()
    }
}

impl ScriptHost {
    pub fn new() -> ScriptHost {
        let (bindings, docs) = bindings::build();
        ScriptHost {
            standard: StandardPackage::new().as_shared_module(),
            bindings: SharedModule::new(bindings),
            docs: Arc::new(docs),
            modules: ModuleCache::default(),
        }
    }

    /// The process's one host, built on first use, for runs that do not keep their own
    /// (skills the model or another script starts).
    pub fn shared() -> &'static ScriptHost {
        static SHARED: std::sync::OnceLock<ScriptHost> = std::sync::OnceLock::new();
        SHARED.get_or_init(ScriptHost::new)
    }

    /// Every binding's documentation, in registration order.
    pub fn docs(&self) -> &[FnDoc] {
        &self.docs
    }

    /// A fresh engine for one run, with its limits and sinks; `budget` is the memory the
    /// run may hold (entered on the thread that evaluates).
    pub fn engine(
        &self,
        run: &Arc<RunContext>,
        sources: &Arc<Mutex<error::Sources>>,
        deadline_slot: &Deadline,
        budget: &Arc<ceiling::Budget>,
    ) -> Engine {
        let limits = &run.config.script;
        let mut engine = Engine::new_raw();
        engine.register_global_module(self.standard.clone());
        engine.register_global_module(self.bindings.clone());
        // Release builds default to 64 levels and debug builds to 8: set it either way.
        engine.set_max_call_levels(limits.max_call_depth);
        engine.set_max_operations(limits.max_operations);
        engine.set_max_string_size(limits.max_string_kb.saturating_mul(1024));
        engine.set_max_array_size(limits.max_array_len);
        engine.set_max_map_size(limits.max_map_len);
        engine.set_max_expr_depths(256, 128);
        engine.disable_symbol("eval");
        engine.set_default_tag(Dynamic::from(RunHandle(run.clone())));

        let cancel = run.cancel.clone();
        let deadline = deadline_slot.clone();
        let memory = Arc::clone(budget);
        engine.on_progress(move |operations| {
            // Every operation: one may allocate a limit's worth, and a thousand of them
            // before the next look would be far past the ceiling.
            if memory.is_spent() {
                return Some(Dynamic::from("memory"));
            }
            if operations % PROGRESS_CHECK_EVERY != 0 {
                return None;
            }
            let past = deadline
                .lock()
                .map(|at| Instant::now() > *at)
                .unwrap_or(false);
            if past || cancel.is_timed_out() {
                // Said on the signal too, so whoever started the run knows why it stopped.
                cancel.time_out();
                return Some(Dynamic::from("timeout"));
            }
            cancel.is_cancelled().then(|| Dynamic::from("cancelled"))
        });
        let output = run.output.clone();
        engine.on_print(move |text| output(text));
        let output = run.output.clone();
        engine.on_debug(move |text, source, position| {
            let at = match (source, position.line()) {
                (Some(source), Some(line)) => format!("{source}:{line}"),
                (None, Some(line)) => format!("line {line}"),
                _ => "debug".to_string(),
            };
            output(&format!("[{at}] {text}"));
        });
        engine.set_module_resolver(StdlibResolver {
            workspace_stdlib: run.home.workspace().join("stdlib"),
            script_dir: run.script_dir.clone(),
            cache: self.modules.clone(),
            sources: sources.clone(),
            policy: run.policy.clone(),
            loading: Mutex::new(Vec::new()),
        });
        engine
    }

    /// Runs a script to the end (or its `exit`), on the calling thread.
    pub fn run(&self, run: &Arc<RunContext>, script: &Script) -> Result<Outcome, ScriptError> {
        let sources = Arc::new(Mutex::new(error::Sources::new()));
        if let Ok(mut known) = sources.lock() {
            known.insert(script.name.clone(), script.text.clone());
        }
        let deadline = deadline_in(run.config.script.timeout_secs);
        let budget = ceiling::Budget::new(run.config.script.max_memory_mb.saturating_mul(1 << 20));
        let engine = self.engine(run, &sources, &deadline, &budget);
        // The watchdog also stops a script that is blocked in a binding past its time.
        let timeout = Duration::from_secs(run.config.script.timeout_secs);
        let watchdog_cancel = run.cancel.clone();
        let watchdog = run.runtime.spawn(async move {
            tokio::time::sleep(timeout).await;
            watchdog_cancel.time_out();
        });
        let result = {
            let _counted = budget.enter();
            caught(|| self.evaluate(&engine, script))
        };
        watchdog.abort();
        result.or_else(|err| match *err {
            EvalAltResult::ErrorTerminated(token, _) if token.is::<bindings::ExitRequest>() => {
                let code = token.cast::<bindings::ExitRequest>().0;
                Ok(Outcome::Exit(i32::try_from(code).unwrap_or(1)))
            }
            other => {
                let known = sources.lock().map(|s| s.clone()).unwrap_or_default();
                Err(error::describe(
                    &other,
                    &script.name,
                    &known,
                    &self.docs,
                    &run.config.script,
                ))
            }
        })
    }

    fn evaluate(&self, engine: &Engine, script: &Script) -> Result<Outcome, Box<EvalAltResult>> {
        let mut ast = engine.compile(without_shebang(&script.text))?;
        ast.set_source(script.name.as_str());
        let mut scope = Scope::new();
        let args: Array = script.args.iter().cloned().map(Dynamic::from).collect();
        scope.push_constant("args", args);
        let value = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast)?;
        Ok(Outcome::Finished(value))
    }
}

/// Runs an evaluation, turning a panic in it (a bug in LocalGPT or in rhai) into the
/// script's error: a script never takes down the process it runs in — a server, the
/// daemon, the prompt.
pub(crate) fn caught<T>(
    evaluate: impl FnOnce() -> Result<T, Box<EvalAltResult>>,
) -> Result<T, Box<EvalAltResult>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(evaluate)).unwrap_or_else(|panic| {
        let what = crate::report::panic_message(panic.as_ref());
        tracing::info!("a script run failed with an internal error: {what}");
        Err(Box::new(EvalAltResult::ErrorRuntime(
            format!("internal error (a bug in LocalGPT; the log has details): {what}").into(),
            rhai::Position::NONE,
        )))
    })
}

/// A `#!/usr/bin/env -S localgpt run` first line is blanked, keeping line numbers.
fn without_shebang(text: &str) -> String {
    match text.strip_prefix("#!") {
        Some(rest) => match rest.find('\n') {
            Some(end) => rest.get(end..).map_or_else(String::new, str::to_string),
            None => String::new(),
        },
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_are_blanked_keeping_line_numbers() {
        assert_eq!(
            without_shebang("#!/usr/bin/env -S localgpt run\nprint(1);"),
            "\nprint(1);"
        );
        assert_eq!(without_shebang("print(1);"), "print(1);");
        assert_eq!(without_shebang("#!"), "");
    }
}
