//! Recall: before every turn, the notes that bear on the person's message reach the model
//! by themselves — no tool call, so the built-in model (which has none) remembers too.
//! Memory is searched with the message; the hits that share at least half of its content
//! words are kept, the newer first among equals, a few within a token budget, each with
//! its source (path:line, and the day for a daily log). Nothing relevant, nothing recalled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::embed::Embedder;
use super::{Freshness, Memory, MemoryError, SearchHit};

/// A hit must share at least this share of the message's content words.
const MIN_RELEVANCE: f64 = 0.5;

/// One recalled note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recalled {
    /// As people name it: relative to the workspace when inside it.
    pub path: String,
    pub line: usize,
    /// The day of a daily log (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub text: String,
    /// The share of the message's content words the note holds, 0 to 1.
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
    let words = super::query::content_words(message);
    if words.is_empty() || hits == 0 {
        return Ok(Vec::new());
    }
    let candidates = memory.search_best(message, hits * 4, Freshness::Quick, embedder)?;
    let weights = weights(&memory.store.conn, &words)?;
    let per_note = (tokens * 4 / hits).max(80);
    // Several candidates often come from one daily log: each file is read once.
    let mut files: HashMap<PathBuf, Option<String>> = HashMap::new();
    let mut found: Vec<Recalled> = candidates
        .iter()
        .filter_map(|hit| {
            let file = files
                .entry(hit.file.clone())
                .or_insert_with(|| crate::home::read_real_to_string(&hit.file).ok());
            let text = note_text(hit, file.as_deref());
            let relevance = relevance(&weights, &format!("{}\n{text}", hit.heading));
            (relevance >= MIN_RELEVANCE).then(|| Recalled {
                path: hit.path.clone(),
                line: hit.start_line,
                date: day_of(&hit.path),
                text: crate::truncate::ellipsize(&text, per_note),
                relevance,
            })
        })
        .collect();
    // The most relevant first; among equals, the newer (a fact that changed).
    found.sort_by(|a, b| {
        b.relevance
            .total_cmp(&a.relevance)
            .then_with(|| b.date.cmp(&a.date))
    });
    found.dedup_by(|a, b| a.path == b.path && a.line == b.line);
    // Distinct places first: one day's neighbouring entries do not crowd out a second day
    // that the question needs; a file's further notes follow, in order.
    let mut seen = std::collections::HashSet::new();
    let (firsts, rest): (Vec<Recalled>, Vec<Recalled>) = found
        .into_iter()
        .partition(|note| seen.insert(note.path.clone()));
    let found: Vec<Recalled> = firsts.into_iter().chain(rest).collect();
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
pub fn plain_block(notes: &[Recalled]) -> String {
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

/// A word's stem for matching: its first three quarters ("lives" finds "live",
/// "sisters" finds "sister").
fn stem(word: &str) -> String {
    let length = word.chars().count();
    word.chars().take((length * 3).div_ceil(4).max(3)).collect()
}

/// The message's words that memory holds at all, each weighed by how rare it is there
/// (inverse document frequency): a word no note has says nothing about which note is
/// meant ("Which *city* does Ana live in?" is about Ana), and a name counts more than
/// a word most notes have.
fn weights(conn: &rusqlite::Connection, words: &[String]) -> rusqlite::Result<Vec<(String, f64)>> {
    let chunks: i64 = conn.query_row("SELECT count(*) FROM chunks", [], |row| row.get(0))?;
    let mut count =
        conn.prepare_cached("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1")?;
    let mut weighed = Vec::new();
    for word in words {
        let Some(query) = super::query::to_fts(&format!("{}*", stem(word))) else {
            continue;
        };
        let holding: i64 = count.query_row([&query.all], |row| row.get(0))?;
        if holding > 0 {
            let idf = ((chunks as f64 + 1.0) / holding as f64).ln() + 1.0;
            weighed.push((word.clone(), idf));
        }
    }
    Ok(weighed)
}

/// The weighed share of the message's known words that `text` holds.
fn relevance(weights: &[(String, f64)], text: &str) -> f64 {
    let total: f64 = weights.iter().map(|(_, weight)| weight).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let lowered = text.to_lowercase();
    let text_words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let matched: f64 = weights
        .iter()
        .filter(|(word, _)| {
            let stem = stem(word);
            text_words
                .iter()
                .any(|candidate| candidate.starts_with(&stem))
                || (word.chars().any(super::cjk::is_cjk) && lowered.contains(word.as_str()))
        })
        .map(|(_, weight)| weight)
        .sum();
    matched / total
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
    fn relevance_weighs_the_messages_words_a_note_holds() {
        let words = crate::memory::query::content_words("Where does my sister Ana live now?");
        assert_eq!(words, ["sister", "ana", "live", "now"]);
        let weighed: Vec<(String, f64)> = vec![("sister".into(), 1.0), ("ana".into(), 3.0)];
        let note = "My sister Ana lives in Porto.";
        assert!((relevance(&weighed, note) - 1.0).abs() < 1e-9);
        assert!((relevance(&weighed, "Ana called.") - 0.75).abs() < 1e-9);
        assert_eq!(relevance(&weighed, "The launch moved to Friday."), 0.0);
        assert_eq!(relevance(&[], note), 0.0);
        assert_eq!(
            day_of("memory/2026-12-06.md").as_deref(),
            Some("2026-12-06")
        );
        assert_eq!(day_of("MEMORY.md"), None);
    }
}
