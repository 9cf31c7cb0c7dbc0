//! One run of a scheduled task: a script run with the daemon's policy (no approvals:
//! writes within the allowed folders, shell commands only with `heartbeat.allow_bash`),
//! the task's time limit, and its output captured (capped) for the history. A failure,
//! a timeout, even a panic, becomes a recorded status; nothing here can stop the daemon.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::history::{Run, Status};
use super::tasks::Task;
use crate::cancel::Cancel;
use crate::config::Config;
use crate::home::Home;
use crate::policy::Policy;
use crate::script::{Captured, Outcome, OutputSink, RunContext, Script, ScriptHost};

/// What every run of the daemon shares.
#[derive(Clone)]
pub struct RunEnv {
    pub home: Home,
    pub config: Config,
    /// `heartbeat.model`, else the model in effect.
    pub model: String,
    pub runtime: tokio::runtime::Handle,
}

impl RunEnv {
    pub fn new(
        home: Home,
        settings: &crate::config::Settings,
        runtime: tokio::runtime::Handle,
    ) -> RunEnv {
        let model = match settings.config.heartbeat.model.trim() {
            "" => settings.model().to_string(),
            model => model.to_string(),
        };
        RunEnv {
            home,
            config: settings.config.clone(),
            model,
            runtime,
        }
    }

    /// Nobody can answer a question here: what the policy does not allow is refused.
    pub fn policy(&self) -> Policy {
        Policy::unattended(&self.home, &self.config)
    }
}

/// Runs `task` on the calling (blocking) thread. `tee` also shows the output (the
/// foreground `heartbeat run`).
pub(crate) fn run_task(
    env: &RunEnv,
    task: &Task,
    trigger: &str,
    cancel: Cancel,
    tee: Option<OutputSink>,
) -> Run {
    let started = Utc::now();
    let clock = Instant::now();
    let captured = Captured::new();
    let output = captured.sink(tee.clone());
    let mut config = env.config.clone();
    config.script.timeout_secs = task.timeout.as_secs().max(1);
    let dir = task
        .path
        .parent()
        .map_or_else(|| env.home.workspace(), std::path::Path::to_path_buf);
    let run = Arc::new(
        RunContext::new(env.home.clone(), config, env.policy(), env.runtime.clone())
            .with_model(env.model.clone())
            .with_cancel(cancel.clone())
            .with_script_dir(dir)
            .with_output(output),
    );
    let script = Script {
        name: task.path.display().to_string(),
        text: task.source.clone(),
        args: Vec::new(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ScriptHost::shared().run(&run, &script)
    }));
    drop(run);
    let mut output = captured.text();
    let printed = output.len();
    let status = match outcome {
        _ if cancel.is_timed_out() => {
            output.push_str(&format!(
                "stopped after {} (the task's timeout)",
                crate::heartbeat::format_duration(task.timeout)
            ));
            Status::Timeout
        }
        Ok(Err(_)) if cancel.is_cancelled() => {
            output.push_str("stopped before it finished (the daemon is stopping)");
            Status::Cancelled
        }
        Ok(Ok(Outcome::Finished(_) | Outcome::Exit(0))) => Status::Ok,
        Ok(Ok(Outcome::Exit(code))) => {
            output.push_str(&format!("exit {code}"));
            Status::Error
        }
        Ok(Err(err)) => {
            output.push_str(&err.message);
            Status::Error
        }
        Err(_) => {
            output.push_str("the task panicked (a bug in LocalGPT; see logs/agent.log)");
            Status::Error
        }
    };
    if let (Some(tee), Some(problem)) = (&tee, output.get(printed..))
        && !problem.is_empty()
    {
        tee(problem);
    }
    Run {
        task: task.name.clone(),
        trigger: trigger.to_string(),
        started,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        status,
        output: output.trim_end().to_string(),
    }
}
