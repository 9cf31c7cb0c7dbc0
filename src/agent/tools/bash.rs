//! `bash {command, timeout?}`: runs a shell command in the current folder, with a time
//! limit, its output capped, and secrets (API keys, tokens) removed from its environment.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::{Sensitivity, Tool, ToolContext, limit_output, str_arg, u64_arg};

pub struct Bash;

/// Environment variables a command never sees: anything that looks like a credential.
pub fn is_secret_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "API_KEY",
        "APIKEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|marker| upper.contains(marker))
}

#[async_trait]
impl Tool for Bash {
    fn name(&self) -> &'static str {
        "bash"
    }

    fn description(&self) -> &'static str {
        "Run a shell command (sh -c) in the current folder and return its output and exit \
         status. Use for listing, building, testing, git and other command-line work."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command line to run."},
                "timeout": {"type": "integer", "minimum": 1, "description": "Seconds before it is stopped."},
            },
            "required": ["command"],
        })
    }

    fn assess(&self, args: &Value, ctx: &ToolContext) -> Sensitivity {
        let command_line = str_arg(args, "command");
        match ctx.policy.refuse_command(command_line) {
            Some(refusal) => Sensitivity::Refused(refusal),
            None => Sensitivity::NeedsApproval(format!("Run bash: {command_line}")),
        }
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let command_line = str_arg(args, "command");
        if !ctx.policy.commands_allowed {
            return Err(ctx.policy.refuse_command(command_line).unwrap_or_default());
        }
        let limit = ctx.config.tools.bash_timeout_secs;
        let timeout = Duration::from_secs(u64_arg(args, "timeout").unwrap_or(limit).min(limit));
        let max_bytes =
            usize::try_from(ctx.config.tools.output_limit_kb * 1024).unwrap_or(usize::MAX);
        match run_command(command_line, ctx.policy.cwd(), timeout, true).await {
            Ok(result) => {
                let mut text = result.stdout;
                if result.timed_out {
                    text.push_str(&format!("\n[stopped after {} s]", timeout.as_secs()));
                } else if result.status != 0 {
                    text.push_str(&format!("\n[exit status {}]", result.status));
                }
                let text = limit_output(text.trim_end(), max_bytes);
                let text = if text.is_empty() {
                    "(no output)".to_string()
                } else {
                    text
                };
                if result.timed_out || result.status != 0 {
                    Err(text)
                } else {
                    Ok(text)
                }
            }
            Err(err) => Err(format!("could not run the command: {err}")),
        }
    }
}

pub struct CommandResult {
    /// With `merge_stderr`, stdout and stderr interleaved as far as pipes allow.
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
    pub timed_out: bool,
}

/// Runs `sh -c command` with a clean-of-secrets environment, killing the whole process
/// group when the time is up. `merge_stderr` sends stderr into stdout (what the model
/// reads: errors where they happened); scripts get them apart.
pub async fn run_command(
    command_line: &str,
    cwd: &std::path::Path,
    timeout: Duration,
    merge_stderr: bool,
) -> std::io::Result<CommandResult> {
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
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_secret_var) {
            command.env_remove(&name);
        }
    }
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

    #[test]
    fn credentials_are_recognised() {
        for name in [
            "OPENAI_API_KEY",
            "GITHUB_TOKEN",
            "aws_secret_access_key",
            "DB_PASSWORD",
        ] {
            assert!(is_secret_var(name), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "TERM"] {
            assert!(!is_secret_var(name), "{name}");
        }
    }

    #[tokio::test]
    async fn output_status_and_timeout() {
        let cwd = std::env::temp_dir();
        let ten = Duration::from_secs(10);
        let result = run_command("echo out; echo err >&2; exit 3", &cwd, ten, true)
            .await
            .unwrap();
        assert_eq!(result.status, 3);
        assert!(result.stdout.contains("out") && result.stdout.contains("err"));
        let apart = run_command("echo out; echo err >&2", &cwd, ten, false)
            .await
            .unwrap();
        assert_eq!(
            (apart.stdout.as_str(), apart.stderr.as_str()),
            ("out\n", "err\n")
        );
        let slow = Duration::from_millis(200);
        let result = run_command("sleep 30 & sleep 30", &cwd, slow, true)
            .await
            .unwrap();
        assert!(result.timed_out);
    }
}
