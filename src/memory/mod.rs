//! Persistent memory: Markdown files (MEMORY.md, daily logs, any folder the user adds)
//! indexed in SQLite FTS5 for ranked full-text search.
//!
//! The files are the truth; `index.sqlite` is a cache rebuilt from them whenever it is
//! missing, damaged or stale. [`Memory`] is the one API every front door uses: the CLI,
//! and later the model's tools, Rhai bindings and the HTTP API.
//!
//! - [`chunk`]: Markdown → chunks with heading paths and line ranges.
//! - [`sources`]: which files are memory (globs, extra folders, symlink confinement).
//! - [`store`]: the SQLite schema, WAL, repair of a damaged index.
//! - [`index`]: incremental, transactional reindexing.
//! - [`query`]: user text → a safe FTS5 expression.
//! - `cjk`: Chinese, Japanese and Korean text set apart character by character.
//! - [`dates`]: dates in questions ("last Tuesday", "the day after X") and in notes.
//! - `rank`: every search's ranking, scores 0-1 (words, meaning, time, places).
//! - [`search`]: a hit and its snippet.
//! - [`journal`]: appending to the daily log and to MEMORY.md.
//! - [`capture`]: what a conversation leaves there by itself.
//! - [`recall`]: the notes that bear on a message, for the request.
//! - [`consolidate`]: the daily logs distilled into MEMORY.md, checked and reviewable.

pub mod capture;
pub mod chunk;
mod cjk;
pub mod consolidate;
pub mod dates;
pub mod embed;
mod index;
mod journal;
pub mod query;
mod rank;
pub mod recall;
pub mod remote_embed;
mod search;
pub mod semantic;
mod sources;
mod store;

use std::io;
use std::path::{Path, PathBuf};

use chrono::{Days, Local, NaiveDate};

pub use index::ReindexReport;
pub use journal::append_daily;
pub(crate) use journal::append_to_memory;
pub use search::SearchHit;
pub(crate) use search::{MATCH_END, MATCH_START};
pub use sources::Sources;
pub use store::Store;
pub(crate) use store::{BUSY_TIMEOUT, open_database};

use crate::config::schema::MemoryConfig;
use crate::home::Home;

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("the memory index {path} cannot be opened: {source}")]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the memory index failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("memory path `{pattern}` is not a valid pattern: {message}")]
    Pattern { pattern: String, message: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{0}")]
    NotMemory(String),
    #[error("{0}")]
    Embed(String),
}

/// How hard a search works to make sure its results reflect the files as they are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Walk every configured folder first (what `localgpt memory search` does).
    Full,
    /// Check only the folders' and the assistant's own files' stamps, and the files
    /// behind the results: fast enough to run before every query of a long session.
    Quick,
}

/// Numbers for `localgpt memory stats`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    pub files: u64,
    pub chunks: u64,
    /// Chunks with an embedding, for semantic search.
    pub vectors: u64,
    pub bytes: u64,
    pub index_bytes: u64,
    /// Unix seconds; `None` before the first indexing.
    pub last_indexed: Option<i64>,
}

/// The score (0-1) from which a note bears on a question: automatic recall's cut-off,
/// and the line between "something in memory" and "nothing".
pub const RELEVANT: f64 = 0.35;

/// How a search ranks and cuts its results.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub limit: usize,
    pub mode: semantic::Mode,
    /// Results scoring below this (0-1) are left out: 0 keeps every match.
    pub min_score: f64,
}

impl Options {
    pub fn new(limit: usize, mode: semantic::Mode) -> Options {
        Options {
            limit,
            mode,
            min_score: 0.0,
        }
    }
}

pub struct Memory {
    store: Store,
    sources: Sources,
    /// The day questions are asked on ("yesterday", "last Tuesday").
    today: NaiveDate,
    /// Things the person should hear about (a repaired index, an unreadable file).
    notices: Vec<String>,
}

impl Memory {
    /// Opens the memory of a home folder, as configured, on `today` (whose daily log and
    /// yesterday's are checked for changes before every search).
    pub fn open(
        home: &Home,
        config: &MemoryConfig,
        today: NaiveDate,
    ) -> Result<Memory, MemoryError> {
        let mut hot_files = vec![home.memory_file()];
        for day in [Some(today), today.checked_sub_days(Days::new(1))]
            .into_iter()
            .flatten()
        {
            hot_files.push(home.daily_log(&day.format("%Y-%m-%d").to_string()));
        }
        let max_file_bytes = config.max_file_kb.saturating_mul(1024);
        let sources = Sources::new(
            &home.workspace(),
            &config.paths,
            &config.extra_paths,
            hot_files,
            max_file_bytes,
        )?;
        let (store, notice) = Store::open(&home.index_db())?;
        Ok(Memory {
            store,
            sources,
            today,
            notices: notice.into_iter().collect(),
        })
    }

    /// A memory over an existing store and sources (tests, benchmarks).
    pub fn with_store(store: Store, sources: Sources) -> Memory {
        Memory {
            store,
            sources,
            today: today(),
            notices: Vec::new(),
        }
    }

    /// Questions are asked on `day` from now on: "yesterday" is the day before it.
    pub fn set_today(&mut self, day: NaiveDate) {
        self.today = day;
    }

    /// Notices gathered since the last call, for the front door to show as warnings.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Brings the index up to date; `force` rebuilds it from scratch.
    pub fn reindex(
        &mut self,
        force: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ReindexReport, MemoryError> {
        let report = index::reindex(&mut self.store, &self.sources, force, progress)?;
        self.notices.extend(report.warnings.iter().cloned());
        Ok(report)
    }

    /// Searches memory by keywords. Any text is a valid query; one with nothing
    /// searchable in it finds nothing.
    pub fn search(
        &mut self,
        text: &str,
        limit: usize,
        freshness: Freshness,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        self.find(
            text,
            Options::new(limit, semantic::Mode::Keyword),
            freshness,
            None,
        )
    }

    /// Searches by meaning or by both rankings (see `rank`); `embedder` turns the
    /// query into a vector.
    pub fn search_semantic(
        &mut self,
        text: &str,
        limit: usize,
        freshness: Freshness,
        mode: semantic::Mode,
        embedder: &embed::Embedder,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        self.find(text, Options::new(limit, mode), freshness, Some(embedder))
    }

    /// The default search of every front door: hybrid when there is an embedder (the
    /// model is installed and wanted), keywords otherwise.
    pub(crate) fn search_best(
        &mut self,
        text: &str,
        limit: usize,
        freshness: Freshness,
        embedder: Option<&embed::Embedder>,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        self.find(
            text,
            Options::new(limit, semantic::Mode::Hybrid),
            freshness,
            embedder,
        )
    }

    /// Every search ends here: the index brought up to date as `freshness` says, the
    /// question ranked (see `rank`), scores 0-1. Without an embedder the search is by
    /// keywords whatever `options.mode` asks.
    pub fn find(
        &mut self,
        text: &str,
        options: Options,
        freshness: Freshness,
        embedder: Option<&embed::Embedder>,
    ) -> Result<Vec<SearchHit>, MemoryError> {
        if !text.chars().any(char::is_alphanumeric) {
            return Ok(Vec::new());
        }
        let refreshed = match freshness {
            Freshness::Full => self.reindex(false, &mut |_, _| {}).map(drop),
            Freshness::Quick => self.refresh_quickly(),
        };
        match refreshed {
            Ok(()) => {}
            // Another process is writing the index for longer than we wait: search what
            // is there rather than fail.
            Err(MemoryError::Sql(err)) if store::is_busy(&err) => self.notices.push(
                "the memory index is busy (another LocalGPT is updating it); results may miss \
                 the latest changes"
                    .to_string(),
            ),
            Err(err) => return Err(err),
        }
        let mode = if embedder.is_some() {
            options.mode
        } else {
            semantic::Mode::Keyword
        };
        let ask = rank::Ask {
            text,
            mode,
            limit: options.limit,
            min_score: options.min_score,
            today: self.today,
        };
        let embed = |text: &str| -> Result<Vec<f32>, MemoryError> {
            let Some(embedder) = embedder else {
                return Ok(Vec::new());
            };
            embedder
                .embed_query(text)
                .map_err(|err| MemoryError::Embed(err.to_string()))
        };
        let model = embedder.map(embed::Embedder::key);
        let hits = rank::rank(&self.store.conn, &ask, Some(&embed), model)?;
        // A result from a file that changed since it was indexed is not trusted: refresh
        // those files and ask again.
        let stale: Vec<&Path> = hits
            .iter()
            .filter(|hit| sources::file_stamp(&hit.file).ok().flatten() != Some(hit.indexed_stamp))
            .map(|hit| hit.file.as_path())
            .collect();
        if stale.is_empty() {
            return Ok(hits);
        }
        match index::refresh_files(&mut self.store, &self.sources, &stale) {
            Ok(report) => self.notices.extend(report.warnings),
            Err(MemoryError::Sql(err)) if store::is_busy(&err) => return Ok(hits),
            Err(err) => return Err(err),
        }
        rank::rank(&self.store.conn, &ask, Some(&embed), model)
    }

    /// Embeds up to `limit` chunks that have no vector yet; returns how many.
    pub fn embed_pending(
        &mut self,
        embedder: &embed::Embedder,
        limit: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize, MemoryError> {
        semantic::embed_pending(&self.store.conn, embedder, limit, None, progress)
    }

    /// After a front door wrote a note to `path`: that file is indexed again (its
    /// unchanged chunks keep their vectors) and, with an embedder, its new chunks are
    /// embedded before this returns, so a search by meaning finds the note at once.
    pub fn note_written(
        &mut self,
        path: &Path,
        embedder: Option<&embed::Embedder>,
    ) -> Result<(), MemoryError> {
        let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let report = index::refresh_files(&mut self.store, &self.sources, &[real.as_path()])?;
        self.notices.extend(report.warnings);
        if let Some(embedder) = embedder {
            semantic::embed_pending(
                &self.store.conn,
                embedder,
                usize::MAX,
                Some(&real),
                &mut |_| {},
            )?;
        }
        Ok(())
    }

    /// How many chunks still need a vector from the model `model_key` names
    /// ([`embed::Embedder::key`]).
    pub(crate) fn pending_embeddings(&self, model_key: &str) -> Result<usize, MemoryError> {
        Ok(semantic::pending(&self.store.conn, model_key)?)
    }

    fn refresh_quickly(&mut self) -> Result<(), MemoryError> {
        let conn = &self.store.conn;
        let mut dirs_changed = index::last_indexed(conn)?.is_none();
        if !dirs_changed {
            let mut statement = conn.prepare_cached("SELECT path, mtime_ns FROM dirs")?;
            let stamps = statement.query_map([], |row| {
                Ok((
                    PathBuf::from(row.get::<_, String>(0)?),
                    row.get::<_, i64>(1)?,
                ))
            })?;
            for stamp in stamps {
                let (path, mtime_ns) = stamp?;
                if sources::dir_stamp(&path).mtime_ns != mtime_ns {
                    dirs_changed = true;
                    break;
                }
            }
        }
        if dirs_changed {
            self.reindex(false, &mut |_, _| {})?;
            return Ok(());
        }
        let hot: Vec<PathBuf> = self.sources.hot_files().to_vec();
        let mut changed = Vec::new();
        for path in &hot {
            let now = sources::file_stamp(path).ok().flatten();
            let indexed = index::known_file(conn, path)?.map(|known| (known.size, known.mtime_ns));
            if now != indexed {
                changed.push(path.as_path());
            }
        }
        if !changed.is_empty() {
            let report = index::refresh_files(&mut self.store, &self.sources, &changed)?;
            self.notices.extend(report.warnings);
        }
        Ok(())
    }

    pub fn stats(&self) -> Result<Stats, MemoryError> {
        let conn = &self.store.conn;
        let (files, bytes): (i64, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(size), 0) FROM files",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let chunks: i64 = conn.query_row("SELECT count(*) FROM chunks", [], |row| row.get(0))?;
        let vectors: i64 =
            conn.query_row("SELECT count(*) FROM chunk_vectors", [], |row| row.get(0))?;
        let last_indexed = index::last_indexed(conn)?;
        Ok(Stats {
            files: files.max(0).unsigned_abs(),
            chunks: chunks.max(0).unsigned_abs(),
            vectors: vectors.max(0).unsigned_abs(),
            bytes: bytes.max(0).unsigned_abs(),
            index_bytes: self.store.size_on_disk(),
            last_indexed,
        })
    }

    /// The indexed file a person or model names: a path relative to the workspace, or an
    /// absolute path of a file that is part of memory.
    /// A memory file for a tool or a script: [`Memory::resolve`], then the policy's one
    /// path check with memory's own folders as readable roots — so a symlink in the
    /// workspace that leads out of memory (`etclink/passwd`) is refused as `read_file`
    /// refuses it, and no protected file is reached this way either.
    pub(crate) fn resolve_for(
        &self,
        home: &Home,
        name: &str,
        policy: &crate::policy::Policy,
    ) -> Result<PathBuf, String> {
        let path = self.resolve(home, name).map_err(|err| err.to_string())?;
        policy.resolve_read_in(&path.to_string_lossy(), &self.sources.folders())
    }

    pub(crate) fn resolve(&self, home: &Home, name: &str) -> Result<PathBuf, MemoryError> {
        if Path::new(name).is_absolute() {
            let known: Option<String> = self
                .store
                .conn
                .query_row("SELECT path FROM files WHERE path = ?1", [name], |row| {
                    row.get(0)
                })
                .ok();
            return known.map(PathBuf::from).ok_or_else(|| {
                MemoryError::NotMemory(format!(
                    "{name} is not part of memory (see memory.paths and memory.extra_paths)"
                ))
            });
        }
        crate::home::resolve_under(&home.workspace(), name)
            .map_err(|err| MemoryError::NotMemory(err.to_string()))
    }
}

/// Runs `work` with the memory kept in `slot`, opening it there on first use: the model's
/// tools and a script's bindings both hold one this way, so a turn or script that never
/// touches memory never opens the index.
pub(crate) fn with_lazy<T>(
    slot: &std::sync::Mutex<Option<Memory>>,
    home: &Home,
    config: &MemoryConfig,
    work: impl FnOnce(&mut Memory) -> Result<T, String>,
) -> Result<T, String> {
    let mut guard = slot
        .lock()
        .map_err(|_| "the memory index is unavailable after an earlier failure".to_string())?;
    if guard.is_none() {
        *guard = Some(Memory::open(home, config, today()).map_err(|err| err.to_string())?);
    }
    match guard.as_mut() {
        Some(memory) => work(memory),
        None => Err("the memory index could not be opened".to_string()),
    }
}

/// After a front door wrote a note to `path`: the memory in `slot` (opened on first use)
/// indexes it and, when the embedding model is there, embeds its new chunks now. The note
/// is already safe on disk, so a failure here is logged, never reported as a failed save.
pub(crate) fn index_written(
    slot: &std::sync::Mutex<Option<Memory>>,
    home: &Home,
    config: &crate::config::Config,
    embedder: &embed::LazyEmbedder,
    path: &Path,
) {
    let embedder = embedder.get(home, config);
    let done = with_lazy(slot, home, &config.memory, |memory| {
        memory
            .note_written(path, embedder.as_deref())
            .map_err(|err| err.to_string())
    });
    if let Err(err) = done {
        tracing::warn!("{} was saved but not indexed yet: {err}", path.display());
    }
}

/// After a command changed `path`: it is indexed (and embedded, when the model is there)
/// now. The change is already safe on disk, so a failure here is logged only.
pub(crate) fn index_written_now(home: &Home, config: &crate::config::Config, path: &Path) {
    let embedder = embed::configured(home, config).ok().flatten();
    let done = Memory::open(home, &config.memory, today())
        .and_then(|mut memory| memory.note_written(path, embedder.as_ref()));
    if let Err(err) = done {
        tracing::warn!("{} was changed but not indexed yet: {err}", path.display());
    }
}

/// Today's date in local time, the day daily logs are named after.
pub fn today() -> NaiveDate {
    Local::now().date_naive()
}
