//! Running one shell command: the sandbox's plan applied in the child, the environment
//! scrubbed, output collected, the time limit enforced on the whole process group.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::policy::Policy;

/// What a command did.
pub struct CommandResult {
    /// With `merge_stderr`, stdout and stderr interleaved as far as pipes allow.
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
    pub timed_out: bool,
}

/// Runs `sh -c command` in the sandbox `policy` describes, with a clean-of-secrets
/// environment and a private temporary folder, killing the whole process group when the
/// time is up. `merge_stderr` sends stderr into stdout (what the model reads: errors where
/// they happened); scripts get them apart. This is the one way LocalGPT runs a shell
/// command: the model's `bash`, `!` at the prompt, scripts' `bash()`/`sh()`, skills and
/// heartbeat tasks all come here.
pub async fn run_command(
    command_line: &str,
    policy: &Policy,
    timeout: Duration,
    merge_stderr: bool,
) -> std::io::Result<CommandResult> {
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
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let stderr = child.stderr.take();
    let mut output = Vec::new();
    let mut errors = Vec::new();
    let finished = tokio::time::timeout(timeout, async {
        let read_errors = async {
            match stderr {
                Some(mut stderr) => stderr.read_to_end(&mut errors).await.map(drop),
                None => Ok(()),
            }
        };
        let (out, err) = tokio::join!(stdout.read_to_end(&mut output), read_errors);
        out?;
        err?;
        child.wait().await
    })
    .await;
    let (status, timed_out) = match finished {
        Ok(status) => (status?.code().unwrap_or(-1), false),
        Err(_) => {
            kill_group(&child);
            let _ = child.kill().await;
            (-1, true)
        }
    };
    Ok(CommandResult {
        stdout: String::from_utf8_lossy(&output).into_owned(),
        stderr: String::from_utf8_lossy(&errors).into_owned(),
        status,
        timed_out,
    })
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
}
