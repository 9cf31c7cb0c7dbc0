//! How a failure reaches the person: printed once, at the edge, with its whole context
//! chain, and turned into an exit code — 0 ok, 1 a failure while doing the work, 2 a
//! problem with how LocalGPT was invoked or configured (bad flags, a bad config file, an
//! unusable home folder).

use std::io::{self, Write};

use crate::config::ConfigError;
use crate::home::HomeError;
use crate::memory::MemoryError;
use crate::provider::ProviderError;
use crate::session::SessionError;
use crate::style::Style;

/// A mistake in how a command was invoked that clap cannot catch on its own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

/// The exit code for an error, by the kind of the first cause that decides it.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if is_broken_pipe(cause) {
            // `localgpt … | head` closing early is not a failure.
            return EXIT_OK;
        }
        if cause.is::<ConfigError>()
            || cause.is::<HomeError>()
            || cause.is::<UsageError>()
            || matches!(
                cause.downcast_ref::<MemoryError>(),
                Some(MemoryError::NotMemory(_) | MemoryError::Pattern { .. })
            )
            || matches!(
                cause.downcast_ref::<SessionError>(),
                Some(
                    SessionError::NotFound(_) | SessionError::Ambiguous { .. } | SessionError::None
                )
            )
            || matches!(
                cause.downcast_ref::<crate::skills::SkillError>(),
                Some(
                    crate::skills::SkillError::NotFound { .. }
                        | crate::skills::SkillError::Broken { .. }
                        | crate::skills::SkillError::Unavailable { .. }
                        | crate::skills::SkillError::NotInvocable { .. }
                )
            )
            || matches!(
                cause.downcast_ref::<ProviderError>(),
                Some(ProviderError::MissingKey { .. } | ProviderError::Setup(_))
            )
        {
            return EXIT_USAGE;
        }
    }
    EXIT_FAILURE
}

fn is_broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_codes_follow_the_cause() {
        let usage: anyhow::Error = UsageError("no such flag".into()).into();
        assert_eq!(exit_code(&usage), EXIT_USAGE);
        let wrapped = Err::<(), _>(UsageError("bad".into()))
            .context("while starting")
            .unwrap_err();
        assert_eq!(exit_code(&wrapped), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("provider down")), EXIT_FAILURE);
        let pipe: anyhow::Error = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert_eq!(exit_code(&pipe), EXIT_OK);
    }
}
