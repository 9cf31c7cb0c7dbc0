//! Commands: `bash(cmd)` → `#{ code, stdout, stderr }`, `sh(cmd)` → stdout or an error,
//! and `shell_quote(text)` to put any text into a command line safely.
//! The same runner as the model's `bash` tool: secrets scrubbed, timeout, process group.

use std::time::Duration;

use rhai::{Map, NativeCallContext};

use crate::sandbox::{CommandError, CommandResult, run_command};
use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, RunContext, run_context};

fn run(run: &RunContext, command_line: &str) -> RhaiResult<CommandResult> {
    let timeout = Duration::from_secs(run.config.tools.bash_timeout_secs);
    let result = run.block_on(run_command(command_line, &run.policy, timeout, false))?;
    let result = result.map_err(|err| match err {
        CommandError::Refused(refusal) => refusal,
        err => format!("cannot run `{command_line}`: {err}"),
    })?;
    if result.timed_out {
        return Err(format!(
            "`{command_line}` was stopped after {} s (tools.bash_timeout_secs)",
            timeout.as_secs()
        )
        .into());
    }
    if result.output_overflowed {
        return Err(format!(
            "`{command_line}` was stopped: it printed more than {} MiB",
            crate::sandbox::HARD_CAP_BYTES / (1024 * 1024)
        )
        .into());
    }
    Ok(result)
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "bash",
        "bash(command: String) -> #{ code, stdout, stderr }",
        "Runs a shell command; returns its exit code, stdout and stderr.",
        |call: NativeCallContext, command: &str| -> RhaiResult<Map> {
            let result = run(&*run_context(&call)?, command)?;
            let mut map = Map::new();
            map.insert("code".into(), i64::from(result.status).into());
            map.insert("stdout".into(), result.stdout.into());
            map.insert("stderr".into(), result.stderr.into());
            Ok(map)
        },
    );
    b.func(
        "sh",
        "sh(command: String) -> String",
        "Runs a shell command and returns its stdout; throws with stderr if it fails.",
        |call: NativeCallContext, command: &str| -> RhaiResult<String> {
            let result = run(&*run_context(&call)?, command)?;
            if result.status != 0 {
                return Err(format!(
                    "`{command}` failed with exit code {}: {}",
                    result.status,
                    crate::truncate::ellipsize(result.stderr.trim(), 2000)
                )
                .into());
            }
            Ok(result.stdout)
        },
    );
    b.func(
        "shell_quote",
        "shell_quote(text: String) -> String",
        "The text as one shell word, quoted so the shell passes it on unchanged.",
        |text: &str| -> String { shell_words::quote(text).into_owned() },
    );
}
