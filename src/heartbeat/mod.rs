//! The heartbeat: LocalGPT working while nobody types. The daemon runs the workspace's
//! scheduled Rhai tasks (`heartbeat/NAME.rhai` with a `//! schedule:` header) and, every
//! `heartbeat.interval` within `heartbeat.active_hours`, an agent turn over HEARTBEAT.md.
//!
//! - [`schedule`]: crontab expressions, time zones and daylight-saving rules.
//! - [`hours`]: the active-hours window.
//! - [`tasks`]: discovery of scheduled tasks and their headers.
//! - [`history`]: every run, recorded in `index.sqlite`.
//! - [`runner`]: one task run, with its limits.
//! - [`check`]: the HEARTBEAT.md turn.
//! - [`scheduler`]: the loop the daemon runs.
//! - [`daemon`]: the pid file, start, stop and status.

pub mod check;
pub mod daemon;
pub mod history;
pub mod hours;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod tasks;

use std::time::Duration;

use crate::config::schema::HeartbeatConfig;

impl HeartbeatConfig {
    /// Checks the settings that are text; `Err` names the key and the problem.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        parse_duration(&self.interval).map_err(|m| ("interval", m))?;
        parse_duration(&self.task_timeout).map_err(|m| ("task_timeout", m))?;
        parse_duration(&self.stop_grace).map_err(|m| ("stop_grace", m))?;
        hours::ActiveHours::parse(&self.active_hours).map_err(|m| ("active_hours", m))?;
        schedule::Zone::parse(&self.timezone).map_err(|m| ("timezone", m))?;
        if !self.notify.trim().is_empty() {
            shell_words::split(&self.notify)
                .map_err(|err| ("notify", format!("cannot split the command: {err}")))?;
        }
        for target in &self.deliver {
            crate::delivery::Target::parse(target).map_err(|err| ("deliver", err.to_string()))?;
        }
        Ok(())
    }

    pub(crate) fn interval(&self) -> Duration {
        parse_duration(&self.interval).unwrap_or(Duration::from_secs(1800))
    }

    pub(crate) fn task_timeout(&self) -> Duration {
        parse_duration(&self.task_timeout).unwrap_or(Duration::from_secs(300))
    }

    pub(crate) fn stop_grace(&self) -> Duration {
        parse_duration(&self.stop_grace).unwrap_or(Duration::from_secs(10))
    }

    pub(crate) fn zone(&self) -> schedule::Zone {
        schedule::Zone::parse(&self.timezone).unwrap_or(schedule::Zone::Local)
    }

    pub(crate) fn active_hours(&self) -> Option<hours::ActiveHours> {
        hours::ActiveHours::parse(&self.active_hours).ok().flatten()
    }
}

/// A duration as people write it: `45s`, `5m`, `1h 30m`.
pub(crate) fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    match (total / 3600, total % 3600 / 60, total % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// How long a run took: milliseconds under a second, else as [`format_duration`].
pub(crate) fn format_elapsed(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format_duration(duration)
    }
}

/// `90s`, `5m`, `2h`, `1d` → a duration of at least a second.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let problem = || format!("\"{text}\" is not a duration: write it as 30s, 5m, 2h or 1d");
    let unit = text.chars().last().ok_or_else(problem)?;
    let number: u64 = text
        .get(..text.len() - unit.len_utf8())
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(problem)?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(problem()),
    };
    match number.checked_mul(seconds) {
        Some(0) => Err(format!("\"{text}\" is zero: give at least 1s")),
        Some(total) => Ok(Duration::from_secs(total)),
        None => Err(problem()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in [
            "",
            "5",
            "m",
            "0s",
            "-1m",
            "5 minutes",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_settings_name_their_key() {
        let config = HeartbeatConfig {
            active_hours: "8 to 22".to_string(),
            ..HeartbeatConfig::default()
        };
        assert_eq!(config.check().unwrap_err().0, "active_hours");
        let config = HeartbeatConfig {
            timezone: "Moon/Base".to_string(),
            ..HeartbeatConfig::default()
        };
        assert_eq!(config.check().unwrap_err().0, "timezone");
        assert!(HeartbeatConfig::default().check().is_ok());
    }
}
