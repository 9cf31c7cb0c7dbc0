//! The HEARTBEAT.md check. Every `heartbeat.interval` within `heartbeat.active_hours`,
//! when HEARTBEAT.md holds more than headings and comments, the assistant gets a turn to
//! do what is due with its tools. It answers `HEARTBEAT_OK` when nothing needs the
//! person; anything else is a message for them: appended to the daily log under a
//! "Heartbeat" heading and passed to `heartbeat.notify`. The same message is not repeated
//! within 24 hours — a reminder nobody acts on should not become noise.

use std::time::Duration;

use chrono::{DateTime, Local, Utc};

use super::history::{HEARTBEAT_TASK, History};
use super::runner::RunEnv;
use crate::agent::{Agent, LogObserver};
use crate::cancel::Cancel;
use crate::session::{Session, Transcript};

/// The reply that means "nothing for the person".
pub(crate) const OK_TOKEN: &str = "HEARTBEAT_OK";

/// A reply that is the token plus a little chatter still counts as OK.
const OK_CHATTER_CHARS: usize = 300;

/// Why a check did or did not happen, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CheckOutcome {
    /// The model found nothing that needs the person.
    Ok,
    /// A message for the person, logged and sent.
    Message(String),
    /// The same message was sent within the last day; not sent again.
    Repeated(String),
    /// The turn or the delivery failed.
    Failed(String),
    /// Stopped before it finished (the daemon is stopping).
    Cancelled,
}

/// Whether a check should run now. `manual` (the `heartbeat check` command) ignores the
/// switch and the active hours, not an empty file.
pub(crate) fn idle_reason(env: &RunEnv, now: DateTime<Utc>, manual: bool) -> Option<String> {
    let config = &env.config.heartbeat;
    if !manual {
        if !config.enabled {
            return Some("heartbeat.enabled is false".to_string());
        }
        if let Some(hours) = config.active_hours() {
            let local = match config.zone() {
                super::schedule::Zone::Local => now.with_timezone(&Local).time(),
                super::schedule::Zone::Named(tz) => now.with_timezone(&tz).time(),
            };
            if !hours.contains(local) {
                return Some(format!(
                    "outside heartbeat.active_hours ({})",
                    config.active_hours
                ));
            }
        }
    }
    let text = heartbeat_text(&env.home);
    (!has_work(&text)).then(|| "HEARTBEAT.md lists nothing to do".to_string())
}

/// HEARTBEAT.md's text (empty when missing, or led out of the workspace by a link).
pub(crate) fn heartbeat_text(home: &crate::home::Home) -> String {
    home.read_workspace_file("HEARTBEAT.md")
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// Whether the file holds anything beyond headings, comments, blank lines and empty or
/// ticked-off checklist items.
pub(crate) fn has_work(text: &str) -> bool {
    let mut in_comment = false;
    for line in text.lines() {
        let mut rest = line.trim();
        loop {
            if in_comment {
                match rest.find("-->") {
                    Some(end) => {
                        in_comment = false;
                        rest = rest.get(end + 3..).unwrap_or_default().trim();
                    }
                    None => {
                        rest = "";
                        break;
                    }
                }
            }
            match rest.find("<!--") {
                Some(start) => {
                    let before = rest.get(..start).unwrap_or_default().trim();
                    if !before.is_empty() && counts(before) {
                        return true;
                    }
                    in_comment = true;
                    rest = rest.get(start + 4..).unwrap_or_default();
                }
                None => break,
            }
        }
        if !in_comment && counts(rest) {
            return true;
        }
    }
    false
}

fn counts(line: &str) -> bool {
    let line = line.trim();
    !(line.is_empty()
        || line.starts_with('#')
        || matches!(line, "-" | "*" | "- [ ]" | "* [ ]")
        || line.starts_with("- [x]")
        || line.starts_with("- [X]")
        || line.starts_with("* [x]")
        || line.starts_with("* [X]"))
}

/// The model's reply, read: `None` when it means OK.
pub(crate) fn message_in(reply: &str) -> Option<String> {
    let trimmed = reply.trim();
    let stripped = if let Some(rest) = trimmed.strip_prefix(OK_TOKEN) {
        rest
    } else if let Some(rest) = trimmed.strip_suffix(OK_TOKEN) {
        rest
    } else {
        return (!trimmed.is_empty()).then(|| trimmed.to_string());
    };
    let rest = stripped
        .trim()
        .trim_matches(|c: char| c == '.' || c == '!')
        .trim();
    (rest.chars().count() > OK_CHATTER_CHARS).then(|| rest.to_string())
}

fn prompt(now: DateTime<Local>, heartbeat: &str) -> String {
    format!(
        "This is a scheduled heartbeat check ({}). Nobody is at the keyboard. Read \
         HEARTBEAT.md below and do what is due now with your tools; keep notes in memory as \
         usual. If nothing needs the user's attention, reply with exactly {OK_TOKEN}. \
         Otherwise reply with a short message for the user, nothing else.\n\n\
         HEARTBEAT.md:\n{}",
        now.format("%A %Y-%m-%d %H:%M"),
        crate::truncate::cut_chars(heartbeat, 20_000, "\n[… cut]")
    )
}

/// Runs one check: the turn, then the delivery of any message. `transcript` is the
/// heartbeat session the turns are recorded in.
pub(crate) async fn run_check(
    env: &RunEnv,
    history: &std::sync::Mutex<History>,
    transcript: Option<&Transcript>,
    now: DateTime<Utc>,
    cancel: &Cancel,
) -> CheckOutcome {
    let text = heartbeat_text(&env.home);
    let mut agent = match Agent::new(&env.home, &env.config, &env.model, env.policy()) {
        Ok(agent) => agent.recalling(),
        Err(err) => return CheckOutcome::Failed(err.to_string()),
    };
    let mut session = Session::recorded_in(transcript.cloned());
    let reply = match agent
        .turn(
            &mut session,
            &prompt(now.with_timezone(&Local), &text),
            &mut LogObserver,
            cancel,
        )
        .await
    {
        Ok(report) if report.interrupted => return CheckOutcome::Cancelled,
        Ok(report) => report.text,
        Err(err) => return CheckOutcome::Failed(err.to_string()),
    };
    let Some(message) = message_in(&reply) else {
        return CheckOutcome::Ok;
    };
    let day_ago = now - chrono::Duration::hours(24);
    let repeated = history
        .lock()
        .ok()
        .and_then(|h| h.said_since(HEARTBEAT_TASK, &message, day_ago).ok())
        .unwrap_or(false);
    if repeated {
        return CheckOutcome::Repeated(message);
    }
    let entry = format!("### Heartbeat\n{message}");
    if let Err(err) = crate::memory::append_daily(&env.home, now.with_timezone(&Local), &entry) {
        return CheckOutcome::Failed(format!(
            "could not write the message to the daily log ({err}): {message}"
        ));
    }
    let mut failed: Vec<String> = Vec::new();
    if let Err(err) = notify(&env.config.heartbeat.notify, &message).await {
        failed.push(err);
    }
    failed.extend(deliver(&env.config, &message).await);
    if !failed.is_empty() {
        return CheckOutcome::Failed(format!(
            "{}; the message is in the daily log: {message}",
            failed.join("; ")
        ));
    }
    CheckOutcome::Message(message)
}

/// Sends the message to every chat of `heartbeat.deliver`; what failed, by target.
async fn deliver(config: &crate::config::Config, message: &str) -> Vec<String> {
    let mut failed = Vec::new();
    for target in &config.heartbeat.deliver {
        let sent = match crate::delivery::Target::parse(target) {
            Ok(parsed) => crate::delivery::send(config, parsed, message).await,
            Err(err) => Err(err),
        };
        if let Err(err) = sent {
            failed.push(format!("heartbeat.deliver {target}: {err}"));
        }
    }
    failed
}

/// Passes the message to the configured command as its last argument.
async fn notify(command: &str, message: &str) -> Result<(), String> {
    let words = shell_words::split(command).map_err(|err| format!("heartbeat.notify: {err}"))?;
    let Some((program, args)) = words.split_first() else {
        return Ok(());
    };
    let mut child = tokio::process::Command::new(program);
    child
        .args(args)
        .arg(message)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let status = tokio::time::timeout(Duration::from_secs(30), child.output())
        .await
        .map_err(|_| format!("heartbeat.notify `{command}` did not finish within 30 s"))?
        .map_err(|err| format!("heartbeat.notify `{command}` could not start: {err}"))?;
    if status.status.success() {
        Ok(())
    } else {
        Err(format!(
            "heartbeat.notify `{command}` failed ({}): {}",
            status.status,
            crate::truncate::ellipsize(String::from_utf8_lossy(&status.stderr).trim(), 300)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_content_counts_as_work() {
        let starter = "# Heartbeat\n\n<!-- Examples:\n- [ ] summarise the log\n-->\n\n## Later\n- [x] done already\n- [ ]\n";
        assert!(!has_work(starter));
        assert!(!has_work(""));
        assert!(has_work("# Tasks\n- [ ] renew the certificate\n"));
        assert!(has_work("<!-- note --> check the backups\n"));
        assert!(has_work("Check the backups every morning."));
    }

    fn env_with(heartbeat: &str, hours: &str, zone: &str) -> (tempfile::TempDir, RunEnv) {
        let dir = tempfile::tempdir().unwrap();
        let home = crate::home::Home::at(dir.path());
        std::fs::create_dir_all(home.workspace()).unwrap();
        std::fs::write(home.workspace().join("HEARTBEAT.md"), heartbeat).unwrap();
        let mut config = crate::config::Config::default();
        config.heartbeat.active_hours = hours.to_string();
        config.heartbeat.timezone = zone.to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let env = RunEnv {
            home,
            config,
            model: "gpt-4o".to_string(),
            runtime: runtime.handle().clone(),
        };
        (dir, env)
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn active_hours_are_honoured_in_the_configured_zone() {
        let (_dir, env) = env_with("- [ ] water the plants\n", "08:00-22:00", "Europe/Berlin");
        // 06:30 UTC is 07:30 in Berlin in winter: before the window.
        let early = idle_reason(&env, at("2026-11-24T06:30:00Z"), false).unwrap();
        assert!(early.contains("active_hours"), "{early}");
        assert_eq!(idle_reason(&env, at("2026-11-24T07:30:00Z"), false), None);
        assert!(idle_reason(&env, at("2026-11-24T21:00:00Z"), false).is_some());
        // By hand, any time.
        assert_eq!(idle_reason(&env, at("2026-11-24T06:30:00Z"), true), None);
        let (_dir, env) = env_with("- [ ] water the plants\n", "22:00-06:00", "UTC");
        assert_eq!(idle_reason(&env, at("2026-11-24T23:00:00Z"), false), None);
        assert!(idle_reason(&env, at("2026-11-24T12:00:00Z"), false).is_some());
        let (_dir, mut env) = env_with("# Only a heading\n", "", "");
        assert!(
            idle_reason(&env, at("2026-11-24T12:00:00Z"), true)
                .unwrap()
                .contains("nothing")
        );
        env.config.heartbeat.enabled = false;
        assert!(
            idle_reason(&env, at("2026-11-24T12:00:00Z"), false)
                .unwrap()
                .contains("enabled")
        );
    }

    #[test]
    fn ok_replies_and_messages() {
        assert_eq!(message_in("HEARTBEAT_OK"), None);
        assert_eq!(message_in("  HEARTBEAT_OK.\n"), None);
        assert_eq!(message_in("All quiet. HEARTBEAT_OK"), None);
        assert_eq!(
            message_in("The certificate expires tomorrow."),
            Some("The certificate expires tomorrow.".to_string())
        );
        let long = format!("HEARTBEAT_OK {}", "x".repeat(400));
        assert!(message_in(&long).is_some());
        assert_eq!(message_in("   "), None);
    }
}
