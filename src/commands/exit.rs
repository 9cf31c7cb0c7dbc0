//! The exit code for a failed command, by the kind of error that decided it. The
//! front door decides, so the core's errors stay plain and `report` stays a leaf.

use crate::config::ConfigError;
use crate::home::HomeError;
use crate::memory::MemoryError;
use crate::provider::ProviderError;
use crate::report::{self, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError};
use crate::session::SessionError;
use crate::skills::SkillError;

/// The exit code for an error, by the kind of the first cause that decides it.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if report::is_broken_pipe(cause) {
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
                cause.downcast_ref::<SkillError>(),
                Some(
                    SkillError::NotFound { .. }
                        | SkillError::Broken { .. }
                        | SkillError::Unavailable { .. }
                        | SkillError::NotInvocable { .. }
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

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use std::io;

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
