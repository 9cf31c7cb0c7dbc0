//! `memory consolidate` and `memory review`: the model proposes changes to MEMORY.md from
//! the recent daily logs (see [`crate::memory::consolidate`]); the person accepts or
//! rejects them one by one, or `memory.consolidate = "auto"` makes them at once. A copy of
//! MEMORY.md is kept before every change.

use std::io::{self, BufRead, Write};

use anyhow::{Context as _, Result, anyhow};
use chrono::Local;

use super::Context;
use crate::agent::consolidation::{self, Settled};
use crate::cancel::interruptible_runtime;
use crate::config::schema::ConsolidateMode;
use crate::memory::consolidate::{self, Change};
use crate::policy::Policy;
use crate::report::{EXIT_FAILURE, EXIT_OK};

pub fn consolidate(ctx: &mut Context<'_>, days: u32, apply: bool) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: memory consolidate needs the settings loaded")?;
    let home = &ctx.home;
    let model = settings.model().to_string();
    let cwd = std::env::current_dir().context("cannot tell the current folder")?;
    let policy = Policy::new(home, &cwd, &settings.config.tools);
    let (runtime, cancel) = interruptible_runtime(0).context("cannot start the async runtime")?;
    let found = runtime
        .block_on(consolidation::find(
            home,
            &settings.config,
            &model,
            policy,
            days,
            &cancel,
        ))
        .map_err(|err| anyhow!(err))?;
    if found.logs.is_empty() {
        writeln!(
            io::stderr().lock(),
            "no daily logs in the last {days} days: nothing to consolidate"
        )?;
        return Ok(EXIT_OK);
    }
    for why in &found.dropped {
        tracing::warn!("a proposed change was left out: {why}");
    }
    let mut out = io::stdout().lock();
    for change in &found.changes {
        writeln!(out, "{}\n", show(ctx, change))?;
    }
    let apply = apply || settings.config.memory.consolidate == ConsolidateMode::Auto;
    match consolidation::settle(home, &settings.config, found, apply).map_err(|err| anyhow!(err))? {
        Settled::Nothing => writeln!(out, "nothing to change in MEMORY.md")?,
        Settled::Applied(copy) => writeln!(
            out,
            "MEMORY.md changed; the copy from before is {}",
            copy.display()
        )?,
        Settled::Proposed(_) => writeln!(
            out,
            "proposed; `localgpt memory review` accepts or rejects each change"
        )?,
    }
    Ok(EXIT_OK)
}

pub fn review(ctx: &mut Context<'_>, all: bool) -> Result<u8> {
    let home = ctx.home.clone();
    let Some(proposal) = consolidate::load(&home).map_err(|err| anyhow!(err))? else {
        writeln!(
            io::stderr().lock(),
            "no changes are waiting: `localgpt memory consolidate` proposes some"
        )?;
        return Ok(EXIT_FAILURE);
    };
    let mut accepted: Vec<usize> = Vec::new();
    let stdin = io::stdin();
    let mut answers = stdin.lock().lines();
    let total = proposal.changes.len();
    for (index, change) in proposal.changes.iter().enumerate() {
        if all {
            accepted.push(index);
            continue;
        }
        let mut err = io::stderr().lock();
        writeln!(err, "[{}/{total}]\n{}", index + 1, show(ctx, change))?;
        write!(err, "accept? [y/n/q] ")?;
        err.flush()?;
        let answer = match answers.next() {
            Some(line) => line.context("cannot read the answer")?,
            None => "q".to_string(),
        };
        match answer.trim().to_lowercase().as_str() {
            "y" | "yes" => accepted.push(index),
            "q" | "quit" => break,
            _ => {}
        }
    }
    let mut out = io::stdout().lock();
    let count = accepted.len();
    let Some(copy) = consolidate::decide(&home, proposal, &accepted, Local::now())
        .context("cannot change MEMORY.md")?
    else {
        writeln!(out, "no change accepted; MEMORY.md is as it was")?;
        return Ok(EXIT_OK);
    };
    if let Some(settings) = ctx.settings.as_ref() {
        crate::memory::index_written_now(&home, &settings.config, &home.memory_file());
    }
    writeln!(
        out,
        "MEMORY.md changed ({count} of {total} accepted); the copy from before is {}",
        copy.display()
    )?;
    Ok(EXIT_OK)
}

fn show(ctx: &Context<'_>, change: &Change) -> String {
    consolidate::diff(change)
        .lines()
        .map(|line| {
            if line.starts_with('-') {
                ctx.err_style.error(line)
            } else {
                ctx.err_style.success(line)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
