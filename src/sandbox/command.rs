//! Running one shell command: the sandbox's plan applied in the child, the environment
//! scrubbed, output collected within bounds, the time limit enforced on all of the
//! command's processes.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{ChildStderr, ChildStdout, Command};

use super::output::{Bounded, HARD_CAP_BYTES, KEPT_BYTES};

use crate::policy::Policy;

/// What a command did.
pub struct CommandResult {
    /// With `merge_stderr`, stdout and stderr interleaved as far as pipes allow. A large
    /// output keeps its start and end, with a line saying how much was left out between.
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
    pub timed_out: bool,
    /// Stopped because its output passed [`HARD_CAP_BYTES`].
    pub output_overflowed: bool,
}

/// Why a command did not run.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The policy does not let shell commands run here (`tools.approval = "deny"`, or
    /// nobody can approve them): the message says which setting.
    #[error("{0}")]
    Refused(String),
    #[error("cannot start it: {0}")]
    Start(#[from] std::io::Error),
}

/// Runs `sh -c command` in the sandbox `policy` describes, with a clean-of-secrets
/// environment and a private temporary folder, ending the command with all its processes
/// when the time is up. `merge_stderr` sends stderr into stdout (what the model reads:
/// errors where they happened); scripts get them apart. Output is read as it comes, kept
/// within [`KEPT_BYTES`] a stream, and the command stopped past [`HARD_CAP_BYTES`]. This
/// is the one way LocalGPT runs a shell command: the model's `bash`, `!` at the prompt,
/// scripts' `bash()`/`sh()`, skills and heartbeat tasks all come here, so the policy's
/// refusal is decided here too, for all of them.
pub async fn run_command(
    command_line: &str,
    policy: &Policy,
    timeout: Duration,
    merge_stderr: bool,
) -> Result<CommandResult, CommandError> {
    if let Some(refusal) = policy.refuse_command(command_line) {
        return Err(CommandError::Refused(refusal));
    }
    let cwd = policy.cwd();
    let plan = super::Plan::for_policy(policy).map_err(std::io::Error::other)?;
    let script = if merge_stderr {
        format!("exec 2>&1\n{command_line}")
    } else {
        command_line.to_string()
    };
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if merge_stderr {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .kill_on_drop(true);
    crate::policy::environment::scrub(&mut command, &policy.env_allow);
    plan.apply(&mut command);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let stderr = child.stderr.take();
    let mut output = Bounded::new(KEPT_BYTES);
    let mut errors = Bounded::new(KEPT_BYTES);
    let finished = tokio::time::timeout(timeout, async {
        let within_cap = read_bounded(stdout, stderr, &mut output, &mut errors).await?;
        if !within_cap {
            return Ok(None);
        }
        child.wait().await.map(Some)
    })
    .await;
    let (status, timed_out, output_overflowed) = match finished {
        Ok(Ok(Some(status))) => (status.code().unwrap_or(-1), false, false),
        Ok(Ok(None)) => {
            stop(&mut child).await;
            (-1, false, true)
        }
        Ok(Err(err)) => {
            stop(&mut child).await;
            return Err(err.into());
        }
        Err(_) => {
            stop(&mut child).await;
            (-1, true, false)
        }
    };
    let mut stdout = output.into_text();
    if output_overflowed {
        stdout.push_str(&format!(
            "\n[stopped: more than {} MiB of output]",
            HARD_CAP_BYTES / (1024 * 1024)
        ));
    }
    Ok(CommandResult {
        stdout,
        stderr: errors.into_text(),
        status,
        timed_out,
        output_overflowed,
    })
}

/// Reads both streams to their end into `output` and `errors`; `false` when together
/// they passed [`HARD_CAP_BYTES`] first.
async fn read_bounded(
    mut stdout: ChildStdout,
    stderr: Option<ChildStderr>,
    output: &mut Bounded,
    errors: &mut Bounded,
) -> std::io::Result<bool> {
    let mut stderr = stderr;
    let mut out_open = true;
    let mut out_buf = vec![0_u8; 64 * 1024];
    let mut err_buf = vec![0_u8; 64 * 1024];
    while out_open || stderr.is_some() {
        tokio::select! {
            read = stdout.read(&mut out_buf), if out_open => match read? {
                0 => out_open = false,
                n => output.push(&out_buf[..n]),
            },
            read = async {
                match stderr.as_mut() {
                    Some(stream) => stream.read(&mut err_buf).await,
                    None => std::future::pending().await,
                }
            }, if stderr.is_some() => match read? {
                0 => stderr = None,
                n => errors.push(&err_buf[..n]),
            },
        }
        if output.total().saturating_add(errors.total()) > HARD_CAP_BYTES {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Ends the command and everything it started: its process group, and — where the
/// sandbox holds its processes in a PID namespace — every process in it.
async fn stop(child: &mut tokio::process::Child) {
    kill_group(child);
    let _ = child.kill().await;
}

/// Children of the shell (a server it started, `sleep`) share its process group, which
/// the shell leads (`process_group(0)`): signal the group, never anything wider.
fn kill_group(child: &tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .filter(|id| *id > 1)
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_status_and_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let home = crate::home::Home::at(dir.path().join("home"));
        home.ensure("").unwrap();
        let cwd = &Policy::new(&home, dir.path(), &Default::default());
        let ten = Duration::from_secs(10);
        let result = run_command("echo out; echo err >&2; exit 3", cwd, ten, true)
            .await
            .unwrap();
        assert_eq!(result.status, 3);
        assert!(result.stdout.contains("out") && result.stdout.contains("err"));
        let apart = run_command("echo out; echo err >&2", cwd, ten, false)
            .await
            .unwrap();
        assert_eq!(
            (apart.stdout.as_str(), apart.stderr.as_str()),
            ("out\n", "err\n")
        );
        let slow = Duration::from_millis(200);
        let result = run_command("sleep 30 & sleep 30", cwd, slow, true)
            .await
            .unwrap();
        assert!(result.timed_out);
    }

    #[tokio::test]
    async fn a_policy_that_refuses_commands_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let line = format!("touch {}", marker.display());
        let ten = Duration::from_secs(10);
        let denied = policy_in(dir.path()).with_approval(crate::config::ApprovalMode::Deny);
        let Err(CommandError::Refused(why)) = run_command(&line, &denied, ten, true).await else {
            panic!("a command ran under tools.approval = \"deny\"");
        };
        assert!(why.contains("tools.approval"), "{why}");
        let unattended = policy_in(dir.path()).with_commands(false);
        let Err(CommandError::Refused(why)) = run_command(&line, &unattended, ten, true).await
        else {
            panic!("a command ran where commands are off");
        };
        assert!(why.contains("heartbeat.allow_bash"), "{why}");
        assert!(!marker.exists());
        run_command(&line, &policy_in(dir.path()), ten, true)
            .await
            .unwrap();
        assert!(
            marker.exists(),
            "the same command runs where the policy allows it"
        );
    }

    fn policy_in(dir: &std::path::Path) -> Policy {
        let home = crate::home::Home::at(dir.join("home"));
        home.ensure("").unwrap();
        Policy::new(&home, dir, &Default::default())
    }

    #[tokio::test]
    async fn endless_output_is_cut_and_the_command_stopped_within_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let policy = policy_in(dir.path());
        // `yes` never ends by itself: only the output cap stops it (the time limit is
        // far away).
        let result = run_command("echo first; yes", &policy, Duration::from_secs(600), true)
            .await
            .unwrap();
        assert!(result.output_overflowed && !result.timed_out);
        assert!(result.stdout.starts_with("first\ny\ny\n"));
        assert!(result.stdout.contains("bytes of output omitted"));
        assert!(
            result
                .stdout
                .ends_with("[stopped: more than 64 MiB of output]")
        );
        assert!(
            result.stdout.len() < KEPT_BYTES + 200,
            "{}",
            result.stdout.len()
        );
        // Both streams kept apart are bounded too.
        let result = run_command(
            "head -c 5000000 /dev/zero | tr '\\0' e >&2; echo done",
            &policy,
            Duration::from_secs(600),
            false,
        )
        .await
        .unwrap();
        assert_eq!(result.stdout, "done\n");
        assert!(result.stderr.len() < KEPT_BYTES + 200);
        assert!(result.stderr.contains("bytes of output omitted"));
    }

    #[cfg_attr(
        not(kernel_sandbox),
        ignore = "needs unprivileged user namespaces (this kernel has not)"
    )]
    #[tokio::test]
    async fn a_commands_processes_end_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let policy = policy_in(dir.path());
        // A background job holding the output pipe, and one detached into a session of its
        // own: both end when the shell does, so the command returns at once instead of
        // waiting out its time limit.
        let started = std::time::Instant::now();
        let result = run_command(
            "sleep 600 & setsid sleep 600 & echo done",
            &policy,
            Duration::from_secs(300),
            true,
        )
        .await
        .unwrap();
        assert!(
            !result.timed_out,
            "the background jobs outlived the command"
        );
        assert_eq!((result.stdout.as_str(), result.status), ("done\n", 0));
        assert!(started.elapsed() < Duration::from_secs(300));
        // The person's own `!` lines may keep them (the pipe is then held to the limit).
        let own = policy_in(dir.path()).with_background_jobs();
        let result = run_command(
            "sleep 600 & echo done",
            &own,
            Duration::from_millis(300),
            true,
        )
        .await
        .unwrap();
        assert!(result.timed_out);
    }
}
