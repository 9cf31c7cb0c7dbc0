//! Logging: everything worth keeping goes to `logs/agent.YYYY-MM-DD.log` (one file a day,
//! the oldest removed after `logging.keep_days`); stderr shows warnings and errors in a
//! plain `warning: …` form, and more with `-v`. `RUST_LOG` overrides both filters.
//!
//! API keys cannot reach a log line through configuration values: they are
//! [`crate::config::Secret`]s, whose `Debug` and `Display` are masked.

use std::fmt;
use std::path::Path;

use tracing::{Event, Level, Subscriber};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::style::Style;

/// How chatty stderr is: `-q` for errors only, `-v`, `-vv`, `-vvv` for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose(u8),
}

impl Verbosity {
    pub(crate) fn from_flags(verbose: u8, quiet: bool) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, n) => Verbosity::Verbose(n),
        }
    }

    fn stderr_filter(self) -> &'static str {
        match self {
            Verbosity::Quiet => "error",
            Verbosity::Normal => "warn",
            // Our own detail first; other crates' chatter only at the highest level.
            Verbosity::Verbose(1) => "warn,localgpt=info",
            Verbosity::Verbose(2) => "info,localgpt=debug",
            Verbosity::Verbose(_) => "trace",
        }
    }
}

/// The target panics are logged under: to the log file only, since the place that caught
/// the panic reports it on the terminal in its own words.
pub(crate) const PANIC_TARGET: &str = "localgpt_panic";

pub struct LogSetup<'a> {
    /// Where the log files go; `None` logs to stderr only.
    pub logs_dir: Option<&'a Path>,
    /// `logging.level` from the config.
    pub file_filter: &'a str,
    pub keep_days: u16,
    pub verbosity: Verbosity,
    pub style: Style,
    /// `$RUST_LOG`, which replaces both filters when set.
    pub rust_log: Option<String>,
}

/// Installs the global subscriber. A log folder that cannot be opened is not fatal — the
/// assistant still works — so it comes back as a warning for the caller to show.
pub fn init(setup: LogSetup<'_>) -> Option<String> {
    let stderr_filter = format!(
        "{},{PANIC_TARGET}=off",
        setup
            .rust_log
            .as_deref()
            .unwrap_or(setup.verbosity.stderr_filter())
    );
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(setup.style.color)
        .event_format(PlainFormat { style: setup.style })
        .with_filter(EnvFilter::new(&stderr_filter));

    let mut warning = None;
    let file_layer = setup.logs_dir.and_then(|dir| {
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("agent")
            .filename_suffix("log")
            .max_log_files(usize::from(setup.keep_days.max(1)))
            .build(dir);
        match appender {
            Ok(appender) => {
                let filter = setup.rust_log.as_deref().unwrap_or(setup.file_filter);
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_writer(appender)
                        .with_ansi(false)
                        .with_filter(EnvFilter::new(filter)),
                )
            }
            Err(err) => {
                warning = Some(format!(
                    "cannot write logs to {}: {err}; logging to stderr only",
                    dir.display()
                ));
                None
            }
        }
    });

    // A second init (tests embedding the library) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    warning
}

/// `warning: message key=value` — what a person at a terminal wants, without timestamps
/// or module paths (those are in the log file).
struct PlainFormat {
    style: Style,
}

impl<S, N> FormatEvent<S, N> for PlainFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let label = match *event.metadata().level() {
            Level::ERROR => self.style.error("error:"),
            Level::WARN => self.style.warning("warning:"),
            Level::INFO => self.style.dim("info:"),
            Level::DEBUG => self.style.dim("debug:"),
            Level::TRACE => self.style.dim("trace:"),
        };
        write!(writer, "{label} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_flags() {
        assert_eq!(Verbosity::from_flags(0, false), Verbosity::Normal);
        assert_eq!(Verbosity::from_flags(2, false), Verbosity::Verbose(2));
        assert_eq!(Verbosity::from_flags(3, true), Verbosity::Quiet);
        for verbosity in [
            Verbosity::Quiet,
            Verbosity::Normal,
            Verbosity::Verbose(1),
            Verbosity::Verbose(9),
        ] {
            assert!(
                EnvFilter::builder()
                    .parse(verbosity.stderr_filter())
                    .is_ok()
            );
        }
    }
}
