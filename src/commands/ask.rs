//! `localgpt ask`: one question, the answer streamed to stdout (tool activity to stderr),
//! or one JSON object with `--json`. Recorded as a session like every conversation.

use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context as _, Result};
use serde_json::json;

use super::Context;
use crate::agent::{Agent, TurnReport};
use crate::cancel::interruptible_runtime;
use crate::cli::AskArgs;
use crate::config::ApprovalMode;
use crate::policy::Policy;
use crate::report::{EXIT_FAILURE, EXIT_OK, UsageError};
use crate::session::Session;
use crate::terminal::TerminalObserver;

pub fn run(args: AskArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let prompt = read_prompt(&args.prompt)?;
    one_turn(
        ctx,
        &prompt,
        &TurnOptions {
            yes: args.yes,
            tools: !args.no_tools,
            json: args.json,
            kind: "ask",
            // `-v` says what LocalGPT does: what it recalled among it.
            verbose: matches!(ctx.verbosity, crate::logging::Verbosity::Verbose(_)),
        },
    )
}

/// How a one-shot turn runs (`ask`, a prompt skill from `skills run`).
pub(crate) struct TurnOptions {
    /// Answers the questions `ask` approval mode would ask; never lifts a `deny`.
    pub yes: bool,
    pub tools: bool,
    /// One JSON object instead of streamed text.
    pub json: bool,
    /// What the session is recorded as.
    pub kind: &'static str,
    /// Show what was recalled from memory.
    pub verbose: bool,
}

/// One turn with the model, streamed to stdout (tool activity to stderr) and saved as a
/// session.
pub(crate) fn one_turn(ctx: &mut Context<'_>, prompt: &str, options: &TurnOptions) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: ask needs the settings loaded")?;
    let can_ask = io::stdin().is_terminal() && io::stderr().is_terminal();
    let model = crate::offer::answerable_model(&ctx.home, settings, settings.model(), can_ask)?
        .unwrap_or_else(|| settings.model().to_string());
    // --yes answers the questions `ask` mode would ask; it does not lift a `deny`.
    let approval = match (options.yes, settings.config.tools.approval) {
        (true, ApprovalMode::Ask) => ApprovalMode::Auto,
        (_, mode) => mode,
    };
    let cwd = std::env::current_dir().context("cannot tell the current folder")?;
    let policy = Policy::new(&ctx.home, &cwd, &settings.config.tools).with_approval(approval);
    // One thread is plenty for one conversation, and on a small machine it avoids
    // handing every streamed token between threads. Ctrl-C stops the turn, which closes
    // its round so the saved session can be continued.
    let (runtime, cancel) = interruptible_runtime(0).context("cannot start the async runtime")?;
    let mut agent = {
        let _guard = runtime.enter();
        let mut agent = Agent::new(&ctx.home, &settings.config, &model, policy)?;
        // A question asked is the person speaking; a prompt skill's text is not.
        if options.kind == "ask" {
            agent = agent.for_person();
        }
        if options.tools {
            agent
        } else {
            agent.without_tools()
        }
    };
    let mut session = Session::start(&ctx.home, &model, options.kind);
    let mut observer = TerminalObserver::new(
        options.json,
        ctx.err_style,
        io::stdin().is_terminal() && io::stderr().is_terminal(),
    )
    .with_cancel(cancel.clone())
    .showing_recalled(options.verbose);
    if let Some(notice) = crate::provider::local::first_use_notice(
        &crate::models::models_dir(&ctx.home),
        &model,
        settings.model_chosen_automatically(),
    ) {
        crate::agent::Observer::notice(&mut observer, notice);
    }
    let outcome = runtime.block_on(agent.turn(&mut session, prompt, &mut observer, &cancel));
    let session = session.id().map(str::to_string);
    let (report, error) = match outcome {
        Ok(report) => (report, None),
        Err(err) => (err.report, Some(err.source)),
    };
    if options.json {
        print_json(
            &model,
            session.as_deref(),
            &report,
            error.as_ref().map(|e| e.to_string()),
        )?;
        return Ok(if error.is_some() || report.interrupted {
            EXIT_FAILURE
        } else {
            EXIT_OK
        });
    }
    if error.is_none() && !report.interrupted {
        observer.finish_turn();
    } else {
        observer.finish_line();
    }
    match error {
        Some(err) => Err(err.into()),
        None if report.interrupted => {
            writeln!(io::stderr().lock(), "{}", crate::conversation::INTERRUPTED)?;
            Ok(EXIT_FAILURE)
        }
        None => Ok(EXIT_OK),
    }
}

/// The prompt: the words given, or stdin when they are absent or `-`; with words and a
/// pipe, what is piped in follows the words as context (`git diff | localgpt ask "review"`).
pub(crate) fn read_prompt(words: &[String]) -> Result<String> {
    let from_stdin = words.is_empty() || (words.len() == 1 && words[0] == "-");
    let piped = crate::env::stdin_is_data();
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
        "recalled": report.recalled,
        "hit_round_limit": report.hit_round_limit,
        "interrupted": report.interrupted,
        "error": error,
    });
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &value)?;
    writeln!(out)?;
    Ok(())
}
