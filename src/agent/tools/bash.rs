//! `bash {command, timeout?}`: runs a shell command in the current folder, in the kernel
//! sandbox, with a time limit, its output capped, and secrets (API keys, tokens) removed
//! from its environment (see [`crate::sandbox::run_command`]).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::sandbox::run_command;

use super::{Sensitivity, Tool, ToolContext, limit_output, str_arg, u64_arg};

pub struct Bash;

#[async_trait]
impl Tool for Bash {
    fn name(&self) -> &str {
        "bash"
    }

    fn description(&self) -> &str {
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
        let limit = ctx.config.tools.bash_timeout_secs;
        let timeout = Duration::from_secs(u64_arg(args, "timeout").unwrap_or(limit).min(limit));
        let max_bytes =
            usize::try_from(ctx.config.tools.output_limit_kb * 1024).unwrap_or(usize::MAX);
        match run_command(command_line, &ctx.policy, timeout, true).await {
            Ok(result) => {
                let mut text = result.stdout;
                if result.timed_out {
                    text.push_str(&format!("\n[stopped after {} s]", timeout.as_secs()));
                } else if result.output_overflowed {
                    // The output says so already.
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
            Err(refused @ crate::sandbox::CommandError::Refused(_)) => Err(refused.to_string()),
            Err(err) => Err(format!("could not run the command: {err}")),
        }
    }
}
