//! `localgpt ask`: one question, the answer streamed to stdout (tool activity to stderr),
//! or one JSON object with `--json`. Recorded as a session like every conversation.

use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use serde_json::json;

use super::Context;
use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, Observer, Policy, TurnReport};
use crate::cli::AskArgs;
use crate::config::ApprovalMode;
use crate::provider::ToolCall;
use crate::report::{EXIT_FAILURE, EXIT_OK, UsageError};
use crate::session::Transcript;
use crate::style::Style;
use crate::truncate::ellipsize;

pub fn run(args: AskArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let prompt = read_prompt(&args.prompt)?;
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: ask needs the settings loaded")?;
    let model = settings.model().to_string();
    // --yes answers the questions `ask` mode would ask; it does not lift a `deny`.
    let approval = match (args.yes, settings.config.tools.approval) {
        (true, ApprovalMode::Ask) => ApprovalMode::Auto,
        (_, mode) => mode,
    };
    let cwd = std::env::current_dir().context("cannot tell the current folder")?;
    let policy = Policy::new(&ctx.home, &cwd, &settings.config.tools).with_approval(approval);
    // One thread is plenty for one conversation, and on a small machine it avoids
    // handing every streamed token between threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut agent = {
        let _guard = runtime.enter();
        Agent::new(&ctx.home, &settings.config, &model, policy, !args.no_tools)?
    };
    let transcript = match Transcript::start(&ctx.home, &model, "ask", chrono::Local::now()) {
        Ok(transcript) => Some(transcript),
        Err(err) => {
            tracing::warn!("the session will not be saved: {err}");
            None
        }
    };
    let mut observer = TerminalObserver {
        json: args.json,
        err_style: ctx.err_style,
        can_ask: io::stdin().is_terminal() && io::stderr().is_terminal(),
        wrote_text: false,
        ends_with_newline: true,
    };
    let mut conversation = Vec::new();
    let outcome = runtime.block_on(agent.turn(
        &mut conversation,
        &prompt,
        transcript.as_ref(),
        &mut observer,
    ));
    let session = transcript.as_ref().map(|t| t.id.clone());
    let (report, error) = match outcome {
        Ok(report) => (report, None),
        Err(err) => (err.report, Some(err.source)),
    };
    if args.json {
        print_json(
            &model,
            session.as_deref(),
            &report,
            error.as_ref().map(|e| e.to_string()),
        )?;
        return Ok(if error.is_some() {
            EXIT_FAILURE
        } else {
            EXIT_OK
        });
    }
    if observer.wrote_text && !observer.ends_with_newline {
        writeln!(io::stdout().lock())?;
    }
    match error {
        Some(err) => Err(err.into()),
        None => Ok(EXIT_OK),
    }
}

/// The prompt: the words given, or stdin when they are absent or `-`; with words and a
/// pipe, what is piped in follows the words as context (`git diff | localgpt ask "review"`).
fn read_prompt(words: &[String]) -> Result<String> {
    let from_stdin = words.is_empty() || (words.len() == 1 && words[0] == "-");
    let piped = stdin_is_data();
    let mut input = String::new();
    if piped {
        io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the prompt from stdin")?;
    }
    let prompt = if from_stdin {
        input
    } else if input.trim().is_empty() {
        words.join(" ")
    } else {
        format!("{}\n\n{}", words.join(" "), input.trim_end())
    };
    if prompt.trim().is_empty() {
        return Err(UsageError(
            "no question: give it as words (`localgpt ask \"…\"`) or pipe it in".to_string(),
        )
        .into());
    }
    Ok(prompt)
}

/// True when stdin is a pipe or a file, not a terminal or /dev/null: only then is there
/// something to read, and reading never waits for a person.
fn stdin_is_data() -> bool {
    if io::stdin().is_terminal() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata("/dev/stdin")
            .map(|meta| meta.file_type().is_fifo() || meta.file_type().is_file())
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

fn print_json(
    model: &str,
    session: Option<&str>,
    report: &TurnReport,
    error: Option<String>,
) -> Result<()> {
    let tool_calls: Vec<_> = report
        .tool_calls
        .iter()
        .map(|(call, output)| {
            json!({
                "id": call.id, "name": call.name, "arguments": call.arguments,
                "output": output.content, "is_error": output.is_error,
            })
        })
        .collect();
    let value = json!({
        "answer": report.text,
        "model": model,
        "session": session,
        "tool_calls": tool_calls,
        "usage": report.usage,
        "rounds": report.rounds,
        "hit_round_limit": report.hit_round_limit,
        "error": error,
    });
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &value)?;
    writeln!(out)?;
    Ok(())
}

struct TerminalObserver {
    json: bool,
    err_style: Style,
    /// Whether a person is there to answer approval prompts.
    can_ask: bool,
    wrote_text: bool,
    ends_with_newline: bool,
}

#[async_trait]
impl Observer for TerminalObserver {
    fn text(&mut self, delta: &str) {
        if self.json || delta.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        // A closed stdout (`| head`) must not abort the turn; the answer is still recorded.
        let _ = out.write_all(delta.as_bytes()).and_then(|()| out.flush());
        self.wrote_text = true;
        self.ends_with_newline = delta.ends_with('\n');
    }

    fn tool_call(&mut self, call: &ToolCall) {
        if self.json {
            return;
        }
        if self.wrote_text && !self.ends_with_newline {
            let _ = writeln!(io::stdout().lock());
            self.ends_with_newline = true;
        }
        let summary = summarize_arguments(&call.arguments);
        let _ = writeln!(
            io::stderr().lock(),
            "{}",
            self.err_style.dim(&format!("⏺ {} {summary}", call.name))
        );
    }

    fn tool_result(&mut self, _call: &ToolCall, output: &ToolOutput) {
        if self.json {
            return;
        }
        let first_line = output.content.lines().next().unwrap_or_default();
        let line = if output.is_error {
            format!("  ✗ {}", ellipsize(first_line, 160))
        } else {
            format!("  ✓ {} lines", output.content.lines().count())
        };
        let _ = writeln!(io::stderr().lock(), "{}", self.err_style.dim(&line));
    }

    async fn approve(&mut self, request: &str) -> Option<Approval> {
        if !self.can_ask {
            return None;
        }
        let question = format!("{request}? [y]es / [n]o / [a]lways for this session ");
        let style = self.err_style;
        let answer = tokio::task::spawn_blocking(move || {
            let mut err = io::stderr().lock();
            let _ = write!(err, "{}", style.bold(&question));
            let _ = err.flush();
            let mut line = String::new();
            io::stdin().read_line(&mut line).ok().map(|_| line)
        })
        .await
        .ok()
        .flatten()?;
        Some(match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Approval::Yes,
            "a" | "always" => Approval::Always,
            _ => Approval::No,
        })
    }

    fn notice(&mut self, text: &str) {
        let _ = writeln!(
            io::stderr().lock(),
            "{} {text}",
            self.err_style.warning("note:")
        );
    }
}

/// A short view of a call's arguments: the command or path, else the JSON, cut short.
fn summarize_arguments(arguments: &serde_json::Value) -> String {
    let main = ["command", "path", "query", "url", "text"]
        .iter()
        .find_map(|key| arguments.get(key).and_then(|v| v.as_str()))
        .map(String::from)
        .unwrap_or_else(|| arguments.to_string());
    ellipsize(main.lines().next().unwrap_or_default(), 100)
}
