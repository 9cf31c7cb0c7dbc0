//! `localgpt memory …`: search, reindex, stats, recent, add and get.

use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context as _, Result};
use chrono::{Days, Local, TimeZone};
use indicatif::{ProgressBar, ProgressStyle};

use super::Context;
use crate::cli::MemoryCommand;
use crate::memory::semantic::Mode;
use crate::memory::{self, Freshness, MATCH_END, MATCH_START, Memory, SearchHit};
use crate::report::{EXIT_FAILURE, EXIT_OK, UsageError};

/// Below this many files a reindex is too quick for a progress bar to be more than noise.
const PROGRESS_MIN_FILES: usize = 500;

pub fn run(command: MemoryCommand, ctx: &mut Context<'_>) -> Result<u8> {
    match command {
        MemoryCommand::Add { text } => add(ctx, &text),
        MemoryCommand::Recent { days } => recent(ctx, days),
        MemoryCommand::Search {
            query,
            limit,
            json,
            mode,
            min_score,
            as_of,
        } => search(
            ctx,
            &query.join(" "),
            memory::Options {
                limit,
                mode: Mode::Keyword,
                min_score,
            },
            json,
            mode.as_deref(),
            as_of,
        ),
        MemoryCommand::Reindex { force } => reindex(ctx, force),
        MemoryCommand::Stats => stats(ctx),
        MemoryCommand::Get { path } => get(ctx, &path),
        MemoryCommand::Consolidate { days, apply } => {
            super::memory_review::consolidate(ctx, days, apply)
        }
        MemoryCommand::Review { all } => super::memory_review::review(ctx, all),
    }
}

fn open(ctx: &Context<'_>) -> Result<Memory> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: memory commands need the settings loaded")?;
    Ok(Memory::open(
        &ctx.home,
        &settings.config.memory,
        memory::today(),
    )?)
}

fn show_notices(memory: &mut Memory) {
    for notice in memory.take_notices() {
        tracing::warn!("{notice}");
    }
}

fn search(
    ctx: &Context<'_>,
    query: &str,
    options: memory::Options,
    json: bool,
    mode: Option<&str>,
    as_of: Option<chrono::NaiveDate>,
) -> Result<u8> {
    let mut memory = open(ctx)?;
    if let Some(day) = as_of {
        memory.set_today(day);
    }
    let embedder = match mode {
        Some("keyword") => None,
        // One query, then the process ends: no need to keep the weights resident.
        _ => embedder(ctx)?.map(|mut embedder| {
            embedder.release_weights_after_each_query();
            embedder
        }),
    };
    let mode = match (mode.and_then(Mode::parse), &embedder) {
        (Some(Mode::Keyword), _) | (None, None) => Mode::Keyword,
        (Some(mode), Some(_)) => mode,
        (None, Some(_)) => Mode::Hybrid,
        (Some(_), None) => {
            return Err(UsageError(
                "semantic search needs embeddings: install the local model with \
                 `localgpt models install minilm` (and keep memory.embeddings at \"auto\" or \"local\"), \
                 or set memory.embeddings to \"openai\" or \"ollama\""
                    .to_string(),
            )
            .into());
        }
    };
    let hits = memory.find(
        query,
        memory::Options { mode, ..options },
        Freshness::Full,
        embedder.as_ref(),
    )?;
    if let Some(embedder) = embedder.as_ref().filter(|_| mode != Mode::Keyword) {
        let pending = memory.pending_embeddings(embedder.key())?;
        if pending > 0 {
            tracing::warn!(
                "{pending} chunks are not embedded yet, so meaning-based results may miss them; `localgpt memory reindex` embeds them"
            );
        }
    }
    // The process ends after printing: freeing the tokenizer's 60,000 small strings
    // one by one took longer than embedding the query.
    std::mem::forget(embedder);
    show_notices(&mut memory);
    let mut out = io::stdout().lock();
    if json {
        let hits: Vec<SearchHit> = hits
            .into_iter()
            .map(|mut hit| {
                hit.snippet = hit.snippet_marked("**", "**");
                hit
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &hits)?;
        writeln!(out)?;
        return Ok(EXIT_OK);
    }
    if hits.is_empty() {
        writeln!(io::stderr().lock(), "nothing in memory matches {query:?}")?;
        return Ok(EXIT_FAILURE);
    }
    for hit in &hits {
        let place = format!("{}:{}-{}", hit.path, hit.start_line, hit.end_line);
        let heading = if hit.heading.is_empty() {
            String::new()
        } else {
            format!("  {}", ctx.style.dim(&hit.heading))
        };
        let score = ctx.style.dim(&format!("  {:.2}", hit.score));
        writeln!(out, "{}{score}{heading}", ctx.style.bold(&place))?;
        let snippet = highlight(ctx, &hit.snippet);
        for line in snippet.lines().filter(|line| !line.trim().is_empty()) {
            writeln!(out, "    {line}")?;
        }
        writeln!(out)?;
    }
    Ok(EXIT_OK)
}

fn highlight(ctx: &Context<'_>, snippet: &str) -> String {
    if !ctx.style.color {
        return snippet.replace([MATCH_START, MATCH_END], "**");
    }
    let mut out = String::with_capacity(snippet.len());
    for (index, piece) in snippet.split([MATCH_START, MATCH_END]).enumerate() {
        // Pieces alternate: outside a match, inside, outside, …
        if index % 2 == 1 {
            out.push_str(&ctx.style.warning(piece));
        } else {
            out.push_str(piece);
        }
    }
    out
}

fn reindex(ctx: &Context<'_>, force: bool) -> Result<u8> {
    let mut memory = open(ctx)?;
    let show_progress =
        io::stderr().is_terminal() && ctx.verbosity != crate::logging::Verbosity::Quiet;
    let bar = ProgressBar::hidden();
    if let Ok(style) =
        ProgressStyle::default_bar().template("indexing {bar:30} {pos}/{len} files {eta}")
    {
        bar.set_style(style);
    }
    let report = memory.reindex(force, &mut |done, total| {
        if show_progress && total >= PROGRESS_MIN_FILES {
            if bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    })?;
    bar.finish_and_clear();
    show_notices(&mut memory);
    let mut embedded = 0;
    if let Some(embedder) = embedder(ctx)? {
        let pending = memory.pending_embeddings(embedder.key())?;
        let bar = ProgressBar::hidden();
        if let Ok(style) =
            ProgressStyle::default_bar().template("embedding {bar:30} {pos}/{len} chunks {eta}")
        {
            bar.set_style(style);
        }
        if show_progress && pending >= PROGRESS_MIN_FILES {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(pending as u64);
        }
        embedded = memory.embed_pending(&embedder, usize::MAX, &mut |done| {
            bar.set_position(done as u64);
        })?;
        bar.finish_and_clear();
    }
    writeln!(
        io::stdout().lock(),
        "{} files: {} new, {} changed, {} removed, {} unchanged; {} chunks written in {} ms",
        report.files,
        report.added,
        report.changed,
        report.removed,
        report.unchanged,
        report.chunks_written,
        report.elapsed.as_millis()
    )?;
    if embedded > 0 {
        writeln!(
            io::stdout().lock(),
            "{embedded} chunks embedded for semantic search"
        )?;
    }
    Ok(EXIT_OK)
}

/// The embedding model, when memory.embeddings wants it and it is there.
fn embedder(ctx: &Context<'_>) -> Result<Option<crate::memory::embed::Embedder>> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: memory commands need the settings loaded")?;
    Ok(crate::memory::embed::configured(
        &ctx.home,
        &settings.config,
    )?)
}

fn stats(ctx: &Context<'_>) -> Result<u8> {
    let mut memory = open(ctx)?;
    memory.reindex(false, &mut |_, _| {})?;
    show_notices(&mut memory);
    let stats = memory.stats()?;
    let last = stats
        .last_indexed
        .and_then(|secs| Local.timestamp_opt(secs, 0).single())
        .map_or_else(
            || "never".to_string(),
            |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
    let ratio = if stats.bytes == 0 {
        String::new()
    } else {
        format!(
            " ({:.1}× the text)",
            stats.index_bytes as f64 / stats.bytes as f64
        )
    };
    writeln!(
        io::stdout().lock(),
        "files         {}\nchunks        {}\nembedded      {}\ntext          {}\nindex         {}{ratio}  {}\nlast indexed  {last}",
        stats.files,
        stats.chunks,
        stats.vectors,
        human_bytes(stats.bytes),
        human_bytes(stats.index_bytes),
        ctx.home.index_db().display(),
    )?;
    Ok(EXIT_OK)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn recent(ctx: &Context<'_>, days: u32) -> Result<u8> {
    let today = memory::today();
    let mut out = io::stdout().lock();
    let mut shown = 0;
    for back in (0..days.max(1)).rev() {
        let Some(day) = today.checked_sub_days(Days::new(u64::from(back))) else {
            continue;
        };
        let date = day.format("%Y-%m-%d").to_string();
        let Some(bytes) = ctx.home.read_workspace_file(&format!("memory/{date}.md")) else {
            continue;
        };
        if shown > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "{}",
            ctx.style
                .dim(&format!("── memory/{} ──", day.format("%Y-%m-%d.md")))
        )?;
        write!(out, "{}", String::from_utf8_lossy(&bytes))?;
        shown += 1;
    }
    if shown == 0 {
        writeln!(
            io::stderr().lock(),
            "no daily log in the last {days} day(s); add to today's with `localgpt memory add \"…\"`"
        )?;
    }
    Ok(EXIT_OK)
}

fn add(ctx: &Context<'_>, words: &[String]) -> Result<u8> {
    let text = if words.len() == 1 && words[0] == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the note from stdin")?;
        text
    } else {
        words.join(" ")
    };
    if text.trim().is_empty() {
        return Err(UsageError("the note is empty; nothing was added".to_string()).into());
    }
    let path = memory::append_daily(&ctx.home, Local::now(), &text)
        .context("cannot add to today's daily log")?;
    if let Some(settings) = ctx.settings.as_ref() {
        memory::index_written(
            &std::sync::Mutex::new(None),
            &ctx.home,
            &settings.config,
            &Default::default(),
            &path,
        );
    }
    let shown = path
        .strip_prefix(ctx.home.workspace())
        .unwrap_or(&path)
        .display()
        .to_string();
    writeln!(io::stdout().lock(), "added to {shown}")?;
    Ok(EXIT_OK)
}

fn get(ctx: &Context<'_>, spec: &str) -> Result<u8> {
    let (name, range) = split_line_range(spec)?;
    let memory = open(ctx)?;
    let path = memory.resolve(&ctx.home, name)?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let (from, to) = match range {
        Some((from, to)) => (from, to.unwrap_or(from)),
        None => (1, lines.len()),
    };
    if from > to || (range.is_some() && from > lines.len()) {
        return Err(UsageError(format!(
            "{name} has {} lines; lines {from}-{to} are not in it",
            lines.len()
        ))
        .into());
    }
    let mut out = io::stdout().lock();
    for line in lines
        .iter()
        .skip(from.saturating_sub(1))
        .take(to + 1 - from)
    {
        writeln!(out, "{line}")?;
    }
    Ok(EXIT_OK)
}

/// `notes.md:12-20` → ("notes.md", Some((12, Some(20)))); `notes.md:7` → one line. A
/// colon followed by something other than a line range is part of the name.
/// Lines `first` to `last` (just `first` when `last` is `None`), numbered from 1.
type LineRange = (usize, Option<usize>);

fn split_line_range(spec: &str) -> Result<(&str, Option<LineRange>)> {
    let Some((name, range)) = spec.rsplit_once(':') else {
        return Ok((spec, None));
    };
    let (first, last) = match range.split_once('-') {
        Some((first, last)) => (first, Some(last)),
        None => (range, None),
    };
    let Ok(first) = first.parse::<usize>() else {
        return Ok((spec, None));
    };
    let last = match last.map(str::parse::<usize>) {
        None => None,
        Some(Ok(last)) => Some(last),
        Some(Err(_)) => {
            return Err(UsageError(format!("`{range}` is not a line range like 12-20")).into());
        }
    };
    if first == 0 {
        return Err(UsageError("lines are numbered from 1".to_string()).into());
    }
    Ok((name, Some((first, last))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_parse() {
        assert_eq!(split_line_range("a.md").unwrap(), ("a.md", None));
        assert_eq!(
            split_line_range("a.md:7").unwrap(),
            ("a.md", Some((7, None)))
        );
        assert_eq!(
            split_line_range("a.md:7-9").unwrap(),
            ("a.md", Some((7, Some(9))))
        );
        assert_eq!(split_line_range("c:/x.md").unwrap(), ("c:/x.md", None));
        assert!(split_line_range("a.md:0").is_err());
        assert!(split_line_range("a.md:3-x").is_err());
    }

    #[test]
    fn byte_sizes_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(50 * 1024 * 1024), "50.0 MB");
    }
}
