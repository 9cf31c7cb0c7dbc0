//! The SQLite side of memory: `index.sqlite` (WAL mode), its schema, and recovery.
//!
//! The index is a cache of the Markdown files and can always be rebuilt from them, so a
//! damaged or foreign file is moved aside and a new index made rather than refusing to
//! start, and a database locked by another program is replaced, for this run, by a
//! temporary one in memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use super::MemoryError;

/// Bumped whenever the tables change shape; an index of another version is rebuilt.
const SCHEMA_VERSION: i64 = 5;

/// How long to wait for another process (the daemon, another prompt) to finish writing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How much heavier a match in the heading path counts than one in the body.
pub(crate) const HEADING_WEIGHT: f64 = 5.0;

const SCHEMA: &str = "
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,      -- the real path on disk
    display TEXT NOT NULL,          -- how people see it: relative to the workspace if inside
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash BLOB NOT NULL,
    indexed_at INTEGER NOT NULL     -- unix seconds
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    -- Heading and text with each Chinese, Japanese or Korean character set apart, so the
    -- tokenizer sees them one by one (see cjk.rs); empty when there is none.
    cjk TEXT NOT NULL DEFAULT ''
);
CREATE INDEX chunks_by_file ON chunks(file_id);
CREATE TABLE dirs (
    path TEXT PRIMARY KEY,
    mtime_ns INTEGER NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The text lives once, in `chunks`; the FTS table indexes it (external content).
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    heading, text, cjk,
    content = 'chunks', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_added AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, heading, text, cjk)
        VALUES (new.id, new.heading, new.text, new.cjk);
END;
CREATE TRIGGER chunks_removed AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, heading, text, cjk)
        VALUES ('delete', old.id, old.heading, old.text, old.cjk);
    DELETE FROM chunk_vectors WHERE chunk_id = old.id;
END;
-- Sentence embeddings of chunks (little-endian f32), for semantic search.
CREATE TABLE chunk_vectors (
    chunk_id INTEGER PRIMARY KEY,
    vector BLOB NOT NULL
);
";

/// Tables this module owns, dropped when the schema version changes.
const TABLES: [&str; 6] = [
    "chunks_fts",
    "chunks",
    "files",
    "dirs",
    "meta",
    "chunk_vectors",
];

pub struct Store {
    pub conn: Connection,
    /// Where the database lives; `None` for the in-memory fallback.
    pub path: Option<PathBuf>,
    /// True when this is a temporary stand-in for a database another program locked.
    pub busy_fallback: bool,
}

impl Store {
    /// Opens (creating or rebuilding as needed) the index at `path`. The second value is
    /// a notice for the person when something had to be repaired.
    pub fn open(path: &Path) -> Result<(Store, Option<String>), MemoryError> {
        Store::open_with_timeout(path, BUSY_TIMEOUT)
    }

    /// [`Store::open`] with a chosen wait for locks held by other processes.
    pub(crate) fn open_with_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<(Store, Option<String>), MemoryError> {
        match Store::try_open(path, busy_timeout) {
            Ok(store) => Ok((store, None)),
            Err(err) if is_damaged(&err) => {
                let aside = move_aside(path);
                let store = Store::try_open(path, busy_timeout).map_err(|source| {
                    MemoryError::Database {
                        path: path.to_path_buf(),
                        source,
                    }
                })?;
                let notice = format!(
                    "{} was damaged ({err}); rebuilt it from your Markdown files{}",
                    path.display(),
                    aside
                        .map(|p| format!(" (the damaged copy is {})", p.display()))
                        .unwrap_or_default()
                );
                Ok((store, Some(notice)))
            }
            Err(err) if is_busy(&err) => {
                let mut store = Store::in_memory()?;
                store.busy_fallback = true;
                let notice = format!(
                    "{} is locked by another program; using a temporary index for this run",
                    path.display()
                );
                Ok((store, Some(notice)))
            }
            Err(source) => Err(MemoryError::Database {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub(crate) fn in_memory() -> Result<Store, MemoryError> {
        let conn = Connection::open_in_memory().map_err(|source| MemoryError::Database {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        prepare(&conn).map_err(|source| MemoryError::Database {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Ok(Store {
            conn,
            path: None,
            busy_fallback: false,
        })
    }

    fn try_open(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Store> {
        let conn = open_database(path, busy_timeout)?;
        // WAL with NORMAL is durable against process crashes and keeps commits cheap;
        // the index is a cache, so a power loss costing the last commit is harmless.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        prepare(&conn)?;
        Ok(Store {
            conn,
            path: Some(path.to_path_buf()),
            busy_fallback: false,
        })
    }

    /// Recreates every table empty, for `reindex --force`. Meant to run inside the
    /// reindexing transaction, so a crash keeps the old index.
    pub fn clear(conn: &Connection) -> rusqlite::Result<()> {
        create_schema(conn)
    }

    /// A transaction that reads and then writes. Its write lock is waited for before
    /// anything is read: SQLite refuses at once, without waiting, a write begun on a
    /// snapshot another process has since changed, so a reindex beside the daemon's
    /// would fail with "database is locked".
    pub(crate) fn write_transaction(&mut self) -> rusqlite::Result<Transaction<'_>> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
    }

    /// Bytes on disk, the write-ahead log included.
    pub(crate) fn size_on_disk(&self) -> u64 {
        let Some(path) = &self.path else { return 0 };
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        [path.clone(), PathBuf::from(wal)]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Opens `index.sqlite` (the memory index and the heartbeat's run history) in WAL mode,
/// waiting up to `busy_timeout` for other processes.
///
/// Turning a new file to WAL is the one step SQLite refuses at once, without waiting,
/// when another process does it at the same moment (each holds the shared lock the other
/// needs gone) — as when the daemon first starts and `heartbeat log` or a search runs
/// beside it. The refused side has given its lock back, so it tries again until the wait
/// is over.
pub(crate) fn open_database(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    let deadline = Instant::now() + busy_timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(err) if is_busy(&err) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(err);
                }
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            done => return done.map(|()| conn),
        }
    }
}

fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    // Memory-mapped reads let a query over a long doclist touch pages without copying
    // them; the mapping is address space, not memory the process owns.
    conn.execute_batch(
        "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000; PRAGMA mmap_size = 268435456;",
    )?;
    let version = |conn: &Connection| -> rusqlite::Result<i64> {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
    };
    if version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    // Immediate: the write lock is waited for before anything is read, so another process
    // making the schema at the same moment is waited for rather than refused at once; and
    // once it is ours, the schema it made is not made again.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    if version(&tx)? != SCHEMA_VERSION {
        create_schema(&tx)?;
    }
    tx.commit()
}

fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    for table in TABLES {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {table};"))?;
    }
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(&format!(
        "INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('rank', 'bm25({HEADING_WEIGHT}, 1.0, 1.0)');
         PRAGMA user_version = {SCHEMA_VERSION};"
    ))
}

fn code(err: &rusqlite::Error) -> Option<ErrorCode> {
    match err {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.code),
        _ => None,
    }
}

/// Errors that mean the file is not a usable database, as opposed to a busy one.
pub(crate) fn is_damaged(err: &rusqlite::Error) -> bool {
    matches!(
        code(err),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

pub(crate) fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        code(err),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Renames a damaged database (and its WAL) out of the way; returns the new name.
fn move_aside(path: &Path) -> Option<PathBuf> {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".damaged-{stamp}"));
    let aside = PathBuf::from(aside);
    let moved = std::fs::rename(path, &aside).is_ok();
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    moved.then_some(aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_garbage_file_is_moved_aside_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        std::fs::write(
            &path,
            "this is not a database, it is a grocery list".repeat(100),
        )
        .unwrap();
        let (store, notice) = Store::open(&path).unwrap();
        assert!(notice.unwrap().contains("damaged"));
        let count: i64 = store
            .conn
            .query_row("SELECT count(*) FROM files", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0);
        let kept = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains(".damaged-"));
        assert!(kept);
    }

    #[test]
    fn a_database_locked_by_another_program_is_replaced_for_this_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let holder = Connection::open(&path).unwrap();
        // Rollback-journal mode with an exclusive lock: nobody else may even read.
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE t(x);")
            .unwrap();
        let (store, notice) = Store::open_with_timeout(&path, Duration::from_millis(50)).unwrap();
        assert!(notice.unwrap().contains("locked"));
        assert!(store.busy_fallback && store.path.is_none());
        holder.execute_batch("COMMIT").unwrap();
    }

    #[test]
    fn an_index_of_another_version_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE files(x); PRAGMA user_version = 99;")
                .unwrap();
        }
        let (store, notice) = Store::open(&path).unwrap();
        assert!(notice.is_none());
        store
            .conn
            .execute_batch("SELECT path, display, hash FROM files")
            .unwrap();
    }
}
