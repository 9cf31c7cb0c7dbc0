//! Ranked full-text search over the chunks: BM25 with headings weighted above body text,
//! and a snippet around the best match.

use std::path::PathBuf;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::query::FtsQuery;

/// Marks the start and end of a matched word inside [`SearchHit::snippet`]; front doors
/// turn them into bold, colour or Markdown with [`SearchHit::snippet_marked`].
pub const MATCH_START: char = '\u{2}';
pub const MATCH_END: char = '\u{3}';

/// Words of context a snippet shows around the match.
const SNIPPET_WORDS: i64 = 24;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The file as people name it: relative to the workspace when inside it.
    pub path: String,
    pub start_line: usize,
    pub end_line: usize,
    /// The heading path, e.g. "Projects › LocalGPT"; empty before the first heading.
    pub heading: String,
    /// Higher is better (BM25, sign flipped).
    pub score: f64,
    /// An excerpt with matches between [`MATCH_START`] and [`MATCH_END`].
    pub snippet: String,
    /// Where the file is on disk.
    #[serde(skip)]
    pub file: PathBuf,
    /// The file's stamp when it was indexed, to detect a stale result.
    #[serde(skip)]
    pub(super) indexed_stamp: (u64, i64),
}

impl SearchHit {
    /// The snippet with its matches wrapped in `open` and `close` (e.g. `**` and `**`).
    pub fn snippet_marked(&self, open: &str, close: &str) -> String {
        self.snippet
            .replace(MATCH_START, open)
            .replace(MATCH_END, close)
    }
}

/// Runs the query: every term first, and any term when that finds nothing.
pub fn run(conn: &Connection, query: &FtsQuery, limit: usize) -> rusqlite::Result<Vec<SearchHit>> {
    let hits = run_expression(conn, &query.all, query.ranked, limit)?;
    match &query.any {
        Some(any) if hits.is_empty() => run_expression(conn, any, query.ranked, limit),
        _ => Ok(hits),
    }
}

/// Best first by BM25, or newest first for a query of common words only.
const BY_RANK: &str = "ORDER BY rank";
const NEWEST_FIRST: &str = "ORDER BY rowid DESC";

fn run_expression(
    conn: &Connection,
    expression: &str,
    ranked: bool,
    limit: usize,
) -> rusqlite::Result<Vec<SearchHit>> {
    let order = if ranked { BY_RANK } else { NEWEST_FIRST };
    // Rank and cut inside the FTS table first, so only `limit` rows are joined.
    let mut statement = conn.prepare_cached(&format!(
        "WITH best AS (
             SELECT rowid, rank,
                    snippet(chunks_fts, 1, char(2), char(3), '…', ?3) AS excerpt
             FROM chunks_fts WHERE chunks_fts MATCH ?1 {order} LIMIT ?2
         )
         SELECT f.path, f.display, f.size, f.mtime_ns,
                c.start_line, c.end_line, c.heading, best.rank, best.excerpt
         FROM best
         JOIN chunks c ON c.id = best.rowid
         JOIN files f ON f.id = c.file_id
         ORDER BY best.rank"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![expression, limit, SNIPPET_WORDS], |row| {
        let heading: String = row.get(6)?;
        let excerpt: String = row.get(8)?;
        Ok(SearchHit {
            file: PathBuf::from(row.get::<_, String>(0)?),
            path: row.get(1)?,
            indexed_stamp: (row.get::<_, i64>(2)?.max(0).unsigned_abs(), row.get(3)?),
            start_line: usize::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
            end_line: usize::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
            // A heading-only chunk has no body to excerpt; its title is the excerpt.
            snippet: if excerpt.trim().is_empty() {
                heading.clone()
            } else {
                excerpt
            },
            heading,
            score: -row.get::<_, f64>(7)?,
        })
    })?;
    rows.collect()
}
