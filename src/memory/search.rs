//! A search result: where a note is, how well it answers (0-1, see `rank`), and a
//! snippet with the query's words marked.

use std::path::PathBuf;

use serde::Serialize;

/// Marks the start and end of a matched word inside [`SearchHit::snippet`]; front doors
/// turn them into bold, colour or Markdown with [`SearchHit::snippet_marked`].
pub(crate) const MATCH_START: char = '\u{2}';
pub(crate) const MATCH_END: char = '\u{3}';

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The file as people name it: relative to the workspace when inside it.
    pub path: String,
    pub start_line: usize,
    pub end_line: usize,
    /// The heading path, e.g. "Projects › LocalGPT"; empty before the first heading.
    pub heading: String,
    /// How much of the query the note answers, from 0 to 1.
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
