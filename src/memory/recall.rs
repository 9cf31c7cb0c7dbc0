//! Recall: before every turn, the notes that bear on the person's message reach the model
//! by themselves — no tool call, so the built-in model (which has none) remembers too.
//! Memory is searched with the message (the default search, [`super::rank`]); the hits
//! that score at least [`super::RELEVANT`] are kept, a few within a token budget, each
//! with its source (path:line, and the day for a daily log). Nothing relevant, nothing
//! recalled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::embed::Embedder;
use super::{Freshness, Memory, MemoryError, SearchHit};

/// One recalled note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recalled {
    /// As people name it: relative to the workspace when inside it.
    pub path: String,
    pub line: usize,
    /// The note's last line.
    pub end_line: usize,
    /// The day of a daily log (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub text: String,
    /// How much of the message the note answers, 0 to 1 (the search's score).
    pub relevance: f64,
}

/// The notes that bear on `message`: at most `hits`, together within about `tokens`.
pub fn recall(
    memory: &mut Memory,
    embedder: Option<&Embedder>,
    message: &str,
    hits: usize,
    tokens: usize,
) -> Result<Vec<Recalled>, MemoryError> {
    if hits == 0 || super::query::content_words(message).is_empty() {
        return Ok(Vec::new());
    }
    let options = super::Options {
        limit: hits,
        mode: super::semantic::Mode::Hybrid,
        min_score: super::RELEVANT,
    };
    let found = memory.find(message, options, Freshness::Quick, embedder)?;
    let per_note = (tokens * 4 / hits).max(80);
    // Several hits often come from one daily log: each file is read once.
    let mut files: HashMap<PathBuf, Option<String>> = HashMap::new();
    let found: Vec<Recalled> = found
        .iter()
        .map(|hit| {
            let file = files
                .entry(hit.file.clone())
                .or_insert_with(|| crate::home::read_real_to_string(&hit.file).ok());
            let text = note_text(hit, file.as_deref());
            Recalled {
                path: hit.path.clone(),
                line: hit.start_line,
                end_line: hit.end_line,
                date: day_of(&hit.path),
                text: crate::truncate::ellipsize(&text, per_note),
                relevance: hit.score,
            }
        })
        .collect();
    let mut budget = tokens * 4;
    let mut kept = Vec::new();
    for note in found.into_iter().take(hits) {
        let cost = note.text.len() + note.path.len() + 24;
        if cost > budget && !kept.is_empty() {
            break;
        }
        budget = budget.saturating_sub(cost);
        kept.push(note);
    }
    Ok(kept)
}

/// The block the request carries before the person's message.
pub fn block(notes: &[Recalled]) -> String {
    let mut block = String::from(
        "[Recalled from memory: the person's own notes that may bear on this message, each \
         with its source. Where two disagree, the newer one holds.]\n",
    );
    for note in notes {
        let source = match &note.date {
            Some(date) => format!("{}:{}, {date}", note.path, note.line),
            None => format!("{}:{}", note.path, note.line),
        };
        block.push_str(&format!("- ({source}) {}\n", note.text));
    }
    block.push_str("[End of recalled notes]\n\n");
    block
}

/// The notes as plain facts for a small model's system prompt (it copies a block's
/// brackets and sources into its answer); empty when there are none.
pub(crate) fn plain_block(notes: &[Recalled]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut block = String::from("\n\nFrom your notes about the user:\n");
    for note in notes {
        block.push_str(&format!("- {}\n", note.text));
    }
    block
}

/// The chunk's own lines (without its heading line) from its file's `text`; the snippet
/// when the file could not be read.
fn note_text(hit: &SearchHit, text: Option<&str>) -> String {
    let Some(text) = text else {
        return hit.snippet_marked("", "");
    };
    let lines: Vec<&str> = text
        .lines()
        .skip(hit.start_line.saturating_sub(1))
        .take(hit.end_line.saturating_sub(hit.start_line) + 1)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    lines.join(" ")
}

/// `2026-12-06` for `memory/2026-12-06.md`.
fn day_of(path: &str) -> Option<String> {
    let stem = Path::new(path).file_stem()?.to_str()?;
    chrono::NaiveDate::parse_from_str(stem, "%Y-%m-%d")
        .ok()
        .map(|day| day.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_logs_day_is_its_name() {
        assert_eq!(
            day_of("memory/2026-12-06.md").as_deref(),
            Some("2026-12-06")
        );
        assert_eq!(day_of("MEMORY.md"), None);
    }
}
