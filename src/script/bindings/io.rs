//! The person running the script: `confirm(question)` and `read_stdin()`.

use rhai::{Dynamic, NativeCallContext};

use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, run_context};

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "confirm",
        "confirm(question: String) -> bool",
        "Asks the person yes or no; false when nobody can answer (no terminal) unless run with --yes.",
        |call: NativeCallContext, question: &str| -> RhaiResult<bool> {
            let run = run_context(&call)?;
            let Some(confirm) = run.confirm.clone() else {
                (run.output)(&format!(
                    "{question} — no one to ask here (no terminal); answering no. Run it with --yes to agree."
                ));
                return Ok(false);
            };
            // Reading the answer blocks; the run's cancel signal still ends the script after.
            let answer = confirm(question);
            if run.cancel.is_cancelled() {
                return Err(run.stop_reason());
            }
            Ok(answer.unwrap_or(false))
        },
    );
    b.func(
        "read_stdin",
        "read_stdin() -> String or ()",
        "Everything piped into LocalGPT's stdin, or () when stdin is a terminal or empty.",
        |_call: NativeCallContext| -> RhaiResult<Dynamic> {
            if !crate::env::stdin_is_data() {
                return Ok(Dynamic::UNIT);
            }
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|err| format!("read_stdin: {err}"))?;
            Ok(if text.is_empty() {
                Dynamic::UNIT
            } else {
                text.into()
            })
        },
    );
}
