//! Bringing the index up to date with the files, incrementally and in one transaction.
//!
//! A file whose size and modification time are unchanged is skipped without being read;
//! one whose stamp changed is read and hashed, and re-chunked only when its content did
//! change. Files that vanished are removed. Everything happens in a single transaction,
//! so a crash or a kill mid-way leaves the previous index exactly as it was.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use super::MemoryError;
use super::chunk::chunk_markdown;
use super::sources::{Discovery, SourceFile, Sources};
use super::store::Store;

/// What a reindex did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReindexReport {
    pub files: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub chunks_written: usize,
    /// Chunks of changed files that were unchanged, kept with their vectors.
    pub chunks_kept: usize,
    /// Files saved again with the same content: only their stamps were updated.
    pub restamped: usize,
    /// Problems with particular files (not UTF-8, too large, unreadable), each once.
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

impl ReindexReport {
    pub fn changed_anything(&self) -> bool {
        self.added + self.changed + self.removed > 0
    }
}

/// What the index knows of a file.
pub(super) struct Known {
    id: i64,
    pub(super) size: u64,
    pub(super) mtime_ns: i64,
    hash: Vec<u8>,
}

/// Reindexes everything `sources` finds. `progress(done, total)` is called per file.
pub fn reindex(
    store: &mut Store,
    sources: &Sources,
    force: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReindexReport, MemoryError> {
    let started = Instant::now();
    let discovery = sources.discover();
    let mut report = ReindexReport {
        files: discovery.files.len(),
        ..ReindexReport::default()
    };
    // What the walk saw, in one number: when it equals the one stored by the last
    // reindex (and nothing was written file by file since), the index already matches
    // every file's stamp and the files need not be compared one by one.
    let fingerprint = discovery.fingerprint();
    if !force && stored_fingerprint(&store.conn)?.as_deref() == Some(fingerprint.as_str()) {
        report.unchanged = discovery.files.len();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let tx = store.write_transaction()?;
    if force {
        Store::clear(&tx)?;
    }
    let mut known = load_known(&tx)?;
    let total = discovery.files.len();
    for (done, file) in discovery.files.iter().enumerate() {
        progress(done, total);
        let prior = known.remove(file.path.to_string_lossy().as_ref());
        sync_file(&tx, sources, file, prior, &mut report)?;
    }
    progress(total, total);
    for (_, gone) in known {
        remove_file(&tx, gone.id)?;
        report.removed += 1;
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('discovery', ?1)",
        [&fingerprint],
    )?;
    // An index that was already up to date (an older index without a fingerprint, or
    // files touched back to their old stamps) is left as it is, with only the
    // fingerprint: no other write.
    if !force
        && !report.changed_anything()
        && report.restamped == 0
        && last_indexed(&tx)?.is_some()
        && dirs_unchanged(&tx, &discovery)?
    {
        tx.commit()?;
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    save_dirs(&tx, &discovery)?;
    tx.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_indexed', ?1)",
        params![unix_now().to_string()],
    )?;
    tx.commit()?;
    if report.changed_anything() {
        // A big reindex leaves a write-ahead log as large as the index; fold it in and
        // give the space back. Readers in other processes may delay this; that is fine.
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Re-checks particular files only (those behind search results, or the ones the
/// assistant writes to), without walking any folder.
pub(crate) fn refresh_files(
    store: &mut Store,
    sources: &Sources,
    paths: &[&Path],
) -> Result<ReindexReport, MemoryError> {
    let started = Instant::now();
    let mut report = ReindexReport::default();
    let tx = store.write_transaction()?;
    for path in paths {
        let prior = known_file(&tx, path)?;
        match super::sources::source_file(path) {
            Some(file) => {
                report.files += 1;
                sync_file(&tx, sources, &file, prior, &mut report)?;
            }
            None => {
                if let Some(gone) = prior {
                    remove_file(&tx, gone.id)?;
                    report.removed += 1;
                }
            }
        }
    }
    if report.changed_anything() || report.restamped > 0 {
        forget_fingerprint(&tx)?;
    }
    tx.commit()?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The walk that the index was last brought up to date with ([`Discovery::fingerprint`]).
fn stored_fingerprint(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = 'discovery'")?
        .query_row([], |row| row.get(0))
        .optional()
}

/// After a file was indexed outside a full walk, the index no longer matches the stored
/// walk exactly: the next search compares every file again.
fn forget_fingerprint(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM meta WHERE key = 'discovery'", [])
        .map(drop)
}

fn load_known(conn: &Connection) -> rusqlite::Result<HashMap<String, Known>> {
    let mut statement = conn.prepare("SELECT id, size, mtime_ns, hash, path FROM files")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(4)?, known_from_row(row)?))
    })?;
    rows.collect()
}

/// What the index knows of one file, looked up alone (no full table load).
pub(super) fn known_file(conn: &Connection, path: &Path) -> rusqlite::Result<Option<Known>> {
    conn.prepare_cached("SELECT id, size, mtime_ns, hash FROM files WHERE path = ?1")?
        .query_row([path.to_string_lossy()], known_from_row)
        .optional()
}

fn known_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Known> {
    Ok(Known {
        id: row.get(0)?,
        size: row.get::<_, i64>(1)?.max(0).unsigned_abs(),
        mtime_ns: row.get(2)?,
        hash: row.get(3)?,
    })
}

/// When the index was last brought up to date (unix seconds), `None` if never.
pub(crate) fn last_indexed(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'last_indexed'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(value.and_then(|value| value.parse().ok()))
}

fn sync_file(
    conn: &Connection,
    sources: &Sources,
    file: &SourceFile,
    prior: Option<Known>,
    report: &mut ReindexReport,
) -> Result<(), MemoryError> {
    if let Some(known) = &prior
        && known.size == file.size
        && known.mtime_ns == file.mtime_ns
    {
        report.unchanged += 1;
        return Ok(());
    }
    let content = match read_capped(&file.path, sources.max_file_bytes) {
        Ok(content) => content,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            // Deleted between the walk and the read: it is simply gone.
            if let Some(gone) = prior {
                remove_file(conn, gone.id)?;
                report.removed += 1;
            }
            return Ok(());
        }
        Err(err) => {
            // Keep what the index had; say why it could not be refreshed.
            report.warnings.push(format!(
                "{}: cannot read it ({err}); skipped",
                sources.display_name(&file.path)
            ));
            return Ok(());
        }
    };
    let display = sources.display_name(&file.path);
    let hash = xxhash_rust::xxh3::xxh3_128(&content.bytes)
        .to_le_bytes()
        .to_vec();
    let file_id = match prior {
        Some(known) if known.hash == hash => {
            // Touched but not changed: remember the new stamp so it is not read again.
            conn.prepare_cached("UPDATE files SET size = ?1, mtime_ns = ?2 WHERE id = ?3")?
                .execute(params![size_param(file.size), file.mtime_ns, known.id])?;
            report.unchanged += 1;
            report.restamped += 1;
            return Ok(());
        }
        Some(known) => {
            conn.prepare_cached(
                "UPDATE files SET size = ?1, mtime_ns = ?2, hash = ?3, indexed_at = ?4 WHERE id = ?5",
            )?
            .execute(params![size_param(file.size), file.mtime_ns, hash, unix_now(), known.id])?;
            report.changed += 1;
            known.id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO files(path, display, size, mtime_ns, hash, indexed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                file.path.to_string_lossy(),
                display,
                size_param(file.size),
                file.mtime_ns,
                hash,
                unix_now()
            ])?;
            report.added += 1;
            conn.last_insert_rowid()
        }
    };
    if content.truncated {
        report.warnings.push(format!(
            "{}: larger than memory.max_file_kb ({} KB); indexed the first {} KB",
            display,
            sources.max_file_bytes / 1024,
            content.bytes.len() / 1024
        ));
    }
    let text = match String::from_utf8(content.bytes) {
        Ok(text) => text,
        Err(err) => {
            report.warnings.push(format!(
                "{}: not valid UTF-8; indexed the readable text",
                display
            ));
            String::from_utf8_lossy(err.as_bytes()).into_owned()
        }
    };
    // A chunk whose heading and text are unchanged keeps its row — and so its vector: a
    // note added to a long file costs one new embedding, not the whole file's.
    let mut unchanged: HashMap<(String, String), Vec<i64>> = HashMap::new();
    {
        let mut existing =
            conn.prepare_cached("SELECT id, heading, text FROM chunks WHERE file_id = ?1")?;
        let rows = existing.query_map(params![file_id], |row| {
            Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?))
        })?;
        for row in rows {
            let (id, heading, text) = row?;
            unchanged.entry((heading, text)).or_default().push(id);
        }
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO chunks(file_id, start_line, end_line, heading, text, cjk) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut moved =
        conn.prepare_cached("UPDATE chunks SET start_line = ?1, end_line = ?2 WHERE id = ?3")?;
    for chunk in chunk_markdown(&text) {
        let key = (chunk.heading, chunk.text);
        if let Some(id) = unchanged.get_mut(&key).and_then(Vec::pop) {
            moved.execute(params![chunk.start_line as i64, chunk.end_line as i64, id])?;
            report.chunks_kept += 1;
            continue;
        }
        let cjk = super::cjk::spaced(&format!("{}\n{}", key.0, key.1));
        insert.execute(params![
            file_id,
            chunk.start_line as i64,
            chunk.end_line as i64,
            key.0,
            key.1,
            cjk
        ])?;
        report.chunks_written += 1;
    }
    let mut gone = conn.prepare_cached("DELETE FROM chunks WHERE id = ?1")?;
    for id in unchanged.into_values().flatten() {
        gone.execute(params![id])?;
    }
    Ok(())
}

fn remove_file(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM chunks WHERE file_id = ?1")?
        .execute(params![id])?;
    conn.prepare_cached("DELETE FROM files WHERE id = ?1")?
        .execute(params![id])?;
    Ok(())
}

/// Whether the folders walked, and their times, are the ones stored.
fn dirs_unchanged(conn: &Connection, discovery: &Discovery) -> rusqlite::Result<bool> {
    let mut statement = conn.prepare_cached("SELECT path, mtime_ns FROM dirs")?;
    let stored: HashMap<String, i64> = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(stored.len() == discovery.dirs.len()
        && discovery
            .dirs
            .iter()
            .all(|dir| stored.get(dir.path.to_string_lossy().as_ref()) == Some(&dir.mtime_ns)))
}

fn save_dirs(conn: &Connection, discovery: &Discovery) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM dirs", [])?;
    let mut insert =
        conn.prepare_cached("INSERT OR REPLACE INTO dirs(path, mtime_ns) VALUES (?1, ?2)")?;
    for dir in &discovery.dirs {
        insert.execute(params![dir.path.to_string_lossy(), dir.mtime_ns])?;
    }
    Ok(())
}

struct Content {
    bytes: Vec<u8>,
    truncated: bool,
}

/// Reads at most `cap` bytes, cutting a longer file after its last whole line.
fn read_capped(path: &Path, cap: u64) -> io::Result<Content> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)?;
    let limit = usize::try_from(cap).unwrap_or(usize::MAX);
    if bytes.len() <= limit {
        return Ok(Content {
            bytes,
            truncated: false,
        });
    }
    bytes.truncate(limit);
    if let Some(last_newline) = bytes.iter().rposition(|b| *b == b'\n') {
        bytes.truncate(last_newline + 1);
    } else if let Err(err) = std::str::from_utf8(&bytes)
        && err.error_len().is_none()
    {
        // One giant line cut inside a character: drop the partial character.
        bytes.truncate(err.valid_up_to());
    }
    Ok(Content {
        bytes,
        truncated: true,
    })
}

/// SQLite integers are signed; a file over 8 EiB is not a concern, but never wrap.
fn size_param(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
