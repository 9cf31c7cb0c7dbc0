//! `localgpt heartbeat list|run|check|log`.

use std::io::{self, Write};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Local, Utc};

use super::Context;
use crate::cancel::interruptible_runtime;
use crate::cli::HeartbeatCommand;
use crate::heartbeat::check::{self, CheckOutcome};
use crate::heartbeat::history::{HEARTBEAT_TASK, History, Run, Status};
use crate::heartbeat::runner::{RunEnv, run_task};
use crate::heartbeat::scheduler::check_run;
use crate::heartbeat::tasks::{self, Task};
use crate::heartbeat::{check::has_work, format_duration, format_elapsed};
use crate::report::{EXIT_FAILURE, EXIT_OK, UsageError};
use crate::script::context::stdout_lines;
use crate::style::Style;

pub fn run(command: HeartbeatCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: heartbeat needs the settings loaded")?;
    let history = History::open(&ctx.home.index_db())?;
    match command {
        HeartbeatCommand::List => list(ctx, &settings.config, &history),
        HeartbeatCommand::Log { name, limit, json } => {
            log(&history, name.as_deref(), limit, json, ctx.style)
        }
        HeartbeatCommand::Run { name } => {
            let found = tasks::discover(&ctx.home, &settings.config);
            let Some(task) = found.into_iter().find(|task| task.name == name) else {
                return Err(UsageError(format!(
                    "there is no task `{name}` in {} (a .rhai file with a `//! schedule:` line)",
                    tasks::folder(&ctx.home).display()
                ))
                .into());
            };
            if let Some(problem) = task.problem() {
                return Err(UsageError(format!("{}: {problem}", task.path.display())).into());
            }
            let (runtime, cancel) =
                interruptible_runtime(1).context("cannot start the async runtime")?;
            let env = RunEnv::new(ctx.home.clone(), settings, runtime.handle().clone());
            let run = run_task(&env, &task, "manual", cancel, Some(stdout_lines()));
            history.record(&run)?;
            runtime.shutdown_background();
            report(&run, ctx.err_style)
        }
        HeartbeatCommand::Check => {
            let (runtime, cancel) =
                interruptible_runtime(1).context("cannot start the async runtime")?;
            let env = RunEnv::new(ctx.home.clone(), settings, runtime.handle().clone());
            let now = Utc::now();
            if let Some(reason) = check::idle_reason(&env, now, true) {
                writeln!(io::stdout().lock(), "nothing to do: {reason}")?;
                return Ok(EXIT_OK);
            }
            let transcript =
                crate::session::Transcript::start(&ctx.home, &env.model, "heartbeat", Local::now())
                    .ok();
            let history = std::sync::Mutex::new(history);
            let clock = std::time::Instant::now();
            let outcome = runtime.block_on(check::run_check(
                &env,
                &history,
                transcript.as_ref(),
                now,
                &cancel,
            ));
            let run = check_run(outcome.clone(), now, clock.elapsed());
            if let Ok(history) = history.lock() {
                history.record(&Run {
                    trigger: "manual".to_string(),
                    ..run
                })?;
            }
            runtime.shutdown_background();
            let mut out = io::stdout().lock();
            match outcome {
                CheckOutcome::Ok => {
                    writeln!(out, "{}: nothing needs your attention", check::OK_TOKEN)?
                }
                CheckOutcome::Message(message) => writeln!(out, "{message}")?,
                CheckOutcome::Repeated(message) => writeln!(
                    out,
                    "{message}\n(said within the last 24 hours: not logged or sent again)"
                )?,
                CheckOutcome::Failed(error) => {
                    return Err(anyhow::anyhow!("the heartbeat check failed: {error}"));
                }
                CheckOutcome::Cancelled => {
                    writeln!(io::stderr().lock(), "[interrupted]")?;
                    return Ok(EXIT_FAILURE);
                }
            }
            Ok(EXIT_OK)
        }
    }
}

fn report(run: &Run, style: Style) -> Result<u8> {
    let line = format!(
        "{} {} in {}",
        run.task,
        run.status.as_str(),
        format_elapsed(run.duration())
    );
    let mut err = io::stderr().lock();
    if run.status == Status::Ok {
        writeln!(err, "{}", style.dim(&line))?;
        Ok(EXIT_OK)
    } else {
        // The output, error included, went to stdout as it came; the status says what.
        writeln!(err, "{}", style.error(&line))?;
        Ok(EXIT_FAILURE)
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn list(ctx: &Context<'_>, config: &crate::config::Config, history: &History) -> Result<u8> {
    let found = tasks::discover(&ctx.home, config);
    let zone = config.heartbeat.zone();
    let now = Utc::now();
    let mut out = io::stdout().lock();
    if found.is_empty() {
        writeln!(
            out,
            "No scheduled tasks. Put NAME.rhai files with a `//! schedule: <cron>` line in {}\n(examples: scripts/heartbeat/ in the LocalGPT repository).",
            tasks::folder(&ctx.home).display()
        )?;
    }
    for task in &found {
        describe_task(&mut out, task, history, zone, now, ctx.style)?;
    }
    let heartbeat = &config.heartbeat;
    let text = crate::heartbeat::check::heartbeat_text(&ctx.home);
    let state = if !heartbeat.enabled {
        "off (heartbeat.enabled = false)".to_string()
    } else if !has_work(&text) {
        "idle: HEARTBEAT.md lists nothing to do".to_string()
    } else {
        let hours = match heartbeat.active_hours.trim() {
            "" => "any time".to_string(),
            hours => hours.to_string(),
        };
        format!("every {}, {hours}", heartbeat.interval)
    };
    writeln!(out, "{}  {state}", ctx.style.bold(HEARTBEAT_TASK))?;
    if let Some(last) = history.last(HEARTBEAT_TASK)? {
        writeln!(out, "  last: {}", last_line(&last))?;
    }
    Ok(EXIT_OK)
}

fn describe_task(
    out: &mut impl Write,
    task: &Task,
    history: &History,
    zone: crate::heartbeat::schedule::Zone,
    now: DateTime<Utc>,
    style: Style,
) -> Result<()> {
    writeln!(out, "{}", style.bold(&task.name))?;
    match &task.schedule {
        Ok(schedule) => {
            writeln!(
                out,
                "  schedule: {} ({})",
                schedule.describe(),
                schedule.expression()
            )?;
            let next = schedule.next_after(now, zone).map_or_else(
                || "at the next daemon start".to_string(),
                |at| zone.show(at),
            );
            writeln!(
                out,
                "  next: {next}   timeout: {}",
                format_duration(task.timeout)
            )?;
        }
        Err(problem) => writeln!(out, "  {}", style.error(&format!("broken: {problem}")))?,
    }
    match history.last(&task.name)? {
        Some(last) => writeln!(out, "  last: {}", last_line(&last))?,
        None => writeln!(out, "  last: never run")?,
    }
    Ok(())
}

fn last_line(run: &Run) -> String {
    let first_line = run
        .output
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    format!(
        "{} at {} ({}, {}){}",
        run.status.as_str(),
        when(run.started),
        run.trigger,
        format_elapsed(run.duration()),
        if first_line.is_empty() {
            String::new()
        } else {
            format!(": {}", crate::truncate::ellipsize(first_line, 100))
        }
    )
}

fn log(
    history: &History,
    name: Option<&str>,
    limit: usize,
    json: bool,
    style: Style,
) -> Result<u8> {
    let runs = history.recent(name, limit)?;
    let mut out = io::stdout().lock();
    for run in &runs {
        if json {
            serde_json::to_writer(&mut out, run)?;
            writeln!(out)?;
            continue;
        }
        let status = match run.status {
            Status::Ok => style.success(run.status.as_str()),
            Status::Skipped => style.dim(run.status.as_str()),
            _ => style.error(run.status.as_str()),
        };
        writeln!(
            out,
            "{}  {:<20} {status:<8} {:>8}  {}",
            when(run.started),
            run.task,
            format_elapsed(run.duration()),
            run.trigger
        )?;
        for line in run.output.lines().take(5) {
            writeln!(out, "    {}", crate::truncate::ellipsize(line, 160))?;
        }
    }
    if runs.is_empty() && !json {
        writeln!(out, "no runs recorded yet")?;
    }
    Ok(EXIT_OK)
}

/// Shared with `daemon status`.
pub fn last_result(history: &History, task: &str) -> Option<String> {
    history.last(task).ok().flatten().map(|run| last_line(&run))
}
