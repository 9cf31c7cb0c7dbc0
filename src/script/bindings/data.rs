//! Data, time and the environment: `to_json`, `from_json`, `now`, `today`, `sleep`, `env`,
//! `log`, `script_dir`, `workspace_dir`.

use std::time::Duration;

use rhai::{Dynamic, NativeCallContext};

use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, from_dynamic, run_context, to_dynamic};

/// Carried out of the engine by `exit(n)`. Rhai's own `exit` turns into the script's
/// return value, which loses the difference between `exit(3)` and a script ending in `3`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExitRequest(pub i64);

fn exit_with(code: i64) -> RhaiResult<()> {
    // Terminated, unlike a thrown error, cannot be caught by the script's own `try`.
    Err(Box::new(rhai::EvalAltResult::ErrorTerminated(
        Dynamic::from(ExitRequest(code)),
        rhai::Position::NONE,
    )))
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "exit",
        "exit(code: int)",
        "Ends the script now, from anywhere, with this exit status.",
        exit_with,
    );
    b.func(
        "exit",
        "exit()",
        "Ends the script now with exit status 0.",
        || exit_with(0),
    );
    b.func(
        "to_json",
        "to_json(value) -> String",
        "The value as JSON text (maps and arrays included).",
        |value: Dynamic| -> RhaiResult<String> {
            let json = from_dynamic(&value)?;
            Ok(json.to_string())
        },
    );
    b.func(
        "from_json",
        "from_json(text: String) -> Dynamic",
        "Parses JSON text into maps, arrays, strings and numbers.",
        |text: &str| -> RhaiResult<Dynamic> {
            let json: serde_json::Value = serde_json::from_str(text)
                .map_err(|err| format!("from_json: not valid JSON: {err}"))?;
            to_dynamic(&json)
        },
    );
    b.func(
        "now",
        "now() -> String",
        "The local date and time, RFC 3339 (2026-11-24T09:30:00+01:00).",
        || chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    );
    b.func(
        "today",
        "today() -> String",
        "Today's local date, YYYY-MM-DD.",
        || chrono::Local::now().format("%Y-%m-%d").to_string(),
    );
    b.func(
        "sleep",
        "sleep(ms: int)",
        "Waits this many milliseconds (cancelled with the script).",
        |call: NativeCallContext, ms: i64| -> RhaiResult<()> {
            let run = run_context(&call)?;
            let wait = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
            // An async block: the timer must be created inside the runtime, not here.
            run.block_on(async move { tokio::time::sleep(wait).await })
        },
    );
    b.func(
        "env",
        "env(name: String) -> String or ()",
        "An environment variable, or () when unset. Credentials are not readable.",
        |name: &str| -> Dynamic {
            if crate::policy::environment::is_secret_var(name) {
                return Dynamic::UNIT;
            }
            std::env::var(name).map_or(Dynamic::UNIT, Dynamic::from)
        },
    );
    b.func(
        "log",
        "log(level: String, message: String)",
        "Writes to LocalGPT's log (level: error, warn, info, debug).",
        |level: &str, message: &str| -> RhaiResult<()> {
            match level {
                "error" => tracing::error!(target: "script", "{message}"),
                "warn" | "warning" => tracing::warn!(target: "script", "{message}"),
                "info" => tracing::info!(target: "script", "{message}"),
                "debug" | "trace" => tracing::debug!(target: "script", "{message}"),
                other => {
                    return Err(format!(
                        "log: unknown level `{other}`; use error, warn, info or debug"
                    )
                    .into());
                }
            }
            Ok(())
        },
    );
    b.func(
        "script_dir",
        "script_dir() -> String",
        "The folder of the running script.",
        |call: NativeCallContext| -> RhaiResult<String> {
            Ok(run_context(&call)?
                .script_dir
                .to_string_lossy()
                .into_owned())
        },
    );
    b.func(
        "workspace_dir",
        "workspace_dir() -> String",
        "The LocalGPT workspace folder (MEMORY.md, memory/, skills/).",
        |call: NativeCallContext| -> RhaiResult<String> {
            Ok(run_context(&call)?
                .home
                .workspace()
                .to_string_lossy()
                .into_owned())
        },
    );
}
