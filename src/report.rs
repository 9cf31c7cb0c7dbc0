//! How a failure reaches the person: printed once, at the edge, with its whole context
//! chain; the exit codes (0 ok, 1 a failure while doing the work, 2 a problem with how
//! LocalGPT was invoked or configured), which the front door chooses by the error's kind
//! (`commands::exit_code`); and what a caught panic said. A leaf: every layer
//! may report, so this knows none of them.

use std::io::{self, Write};

use crate::style::Style;

/// A mistake in how a command was invoked that clap cannot catch on its own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_FAILURE: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;

/// A write to a reader that went away (`localgpt … | head`).
pub(crate) fn is_broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause
        .downcast_ref::<io::Error>()
        .is_some_and(|err| err.kind() == io::ErrorKind::BrokenPipe)
}

/// Prints `error: …` with the context chain (outermost first) to stderr. A broken pipe is
/// silent: the reader went away and nobody is there to read the complaint.
pub fn print_error(err: &anyhow::Error, style: &Style) {
    if err.chain().any(is_broken_pipe) {
        return;
    }
    let mut stderr = io::stderr().lock();
    // If stderr itself is gone there is nowhere left to report to.
    let _ = writeln!(stderr, "{} {err:#}", style.error("error:"));
}

/// Panics go to the log, with where they happened and the stack, not to the terminal: each
/// front door (a request, a script, a task, a line at the prompt) catches its own and
/// answers with an "internal error" of its own, and `main` catches the rest.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|at| format!("{}:{}", at.file(), at.line()))
            .unwrap_or_default();
        let message = panic_message(info.payload());
        let stack = std::backtrace::Backtrace::force_capture();
        tracing::error!(target: crate::logging::PANIC_TARGET, "panic at {location}: {message}\n{stack}");
    }));
}

/// What a caught panic said, for the error that replaces it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}
