//! Run history: every task run and HEARTBEAT.md check, in a table of `index.sqlite`
//! (the memory index's file; deleting it loses only this history). Output is capped.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// How much of a run's output is kept.
pub(crate) const OUTPUT_CAP: usize = 16 * 1024;

/// What the HEARTBEAT.md check is recorded as.
pub(crate) const HEARTBEAT_TASK: &str = "HEARTBEAT.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Error,
    Timeout,
    /// Not run: the previous run of the same task was still going.
    Skipped,
    /// Stopped before it finished, by `daemon stop` (or Ctrl-C on a manual run).
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "ok" => Status::Ok,
            "timeout" => Status::Timeout,
            "skipped" => Status::Skipped,
            "cancelled" => Status::Cancelled,
            _ => Status::Error,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub task: String,
    /// `schedule`, `manual`, `catch-up`, `reboot` or `interval`.
    pub trigger: String,
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub status: Status,
    pub output: String,
}

impl Run {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the run history in {path}: {source}")]
pub(crate) struct HistoryError {
    path: String,
    #[source]
    source: rusqlite::Error,
}

pub(crate) struct History {
    conn: Connection,
    path: String,
}

impl History {
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let fail = |source| HistoryError {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = crate::memory::open_database(path, crate::memory::BUSY_TIMEOUT).map_err(fail)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS heartbeat_runs (
                 id INTEGER PRIMARY KEY,
                 task TEXT NOT NULL,
                 trigger TEXT NOT NULL,
                 started TEXT NOT NULL,
                 duration_ms INTEGER NOT NULL,
                 status TEXT NOT NULL,
                 output TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS heartbeat_runs_task ON heartbeat_runs(task, id);",
        )
        .map_err(fail)?;
        Ok(History {
            conn,
            path: path.display().to_string(),
        })
    }

    fn fail(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError {
            path: self.path.clone(),
            source,
        }
    }

    pub fn record(&self, run: &Run) -> Result<(), HistoryError> {
        let output = crate::truncate::head_and_tail(&run.output, OUTPUT_CAP);
        self.conn
            .execute(
                "INSERT INTO heartbeat_runs (task, trigger, started, duration_ms, status, output)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run.task,
                    run.trigger,
                    run.started.to_rfc3339(),
                    i64::try_from(run.duration_ms).unwrap_or(i64::MAX),
                    run.status.as_str(),
                    output
                ],
            )
            .map(drop)
            .map_err(|err| self.fail(err))
    }

    /// The newest runs, of one task or all, newest first.
    pub fn recent(&self, task: Option<&str>, limit: usize) -> Result<Vec<Run>, HistoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self
            .conn
            .prepare(
                "SELECT task, trigger, started, duration_ms, status, output FROM heartbeat_runs
                 WHERE ?1 IS NULL OR task = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|err| self.fail(err))?;
        let rows = statement
            .query_map(params![task, limit], |row| {
                let started: String = row.get(2)?;
                let duration: i64 = row.get(3)?;
                let status: String = row.get(4)?;
                Ok(Run {
                    task: row.get(0)?,
                    trigger: row.get(1)?,
                    started: DateTime::parse_from_rfc3339(&started)
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_default(),
                    duration_ms: u64::try_from(duration).unwrap_or(0),
                    status: Status::parse(&status),
                    output: row.get(5)?,
                })
            })
            .map_err(|err| self.fail(err))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|err| self.fail(err))
    }

    pub fn last(&self, task: &str) -> Result<Option<Run>, HistoryError> {
        Ok(self.recent(Some(task), 1)?.into_iter().next())
    }

    /// When `task` last really ran (a skipped run does not count).
    pub(crate) fn last_started(&self, task: &str) -> Result<Option<DateTime<Utc>>, HistoryError> {
        let started: Option<String> = self
            .conn
            .query_row(
                "SELECT started FROM heartbeat_runs WHERE task = ?1 AND status != 'skipped'
                 ORDER BY id DESC LIMIT 1",
                params![task],
                |row| row.get(0),
            )
            .optional()
            .map_err(|err| self.fail(err))?;
        Ok(started
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc)))
    }

    /// Whether `task` recorded exactly this output since `since` (a repeated heartbeat
    /// message is not sent again).
    pub(crate) fn said_since(
        &self,
        task: &str,
        output: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, HistoryError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM heartbeat_runs
                 WHERE task = ?1 AND output = ?2 AND started >= ?3 AND status = 'ok')",
                params![task, output, since.to_rfc3339()],
                |row| row.get(0),
            )
            .map_err(|err| self.fail(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(task: &str, status: Status, started: &str, output: &str) -> Run {
        Run {
            task: task.to_string(),
            trigger: "schedule".to_string(),
            started: DateTime::parse_from_rfc3339(started)
                .unwrap()
                .with_timezone(&Utc),
            duration_ms: 12,
            status,
            output: output.to_string(),
        }
    }

    #[test]
    fn runs_are_recorded_newest_first_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("index.sqlite")).unwrap();
        history
            .record(&run("a", Status::Ok, "2026-11-24T09:00:00Z", "first"))
            .unwrap();
        history
            .record(&run("b", Status::Error, "2026-11-24T09:01:00Z", "boom"))
            .unwrap();
        history
            .record(&run("a", Status::Skipped, "2026-11-24T09:02:00Z", "busy"))
            .unwrap();
        let big = "é".repeat(OUTPUT_CAP);
        history
            .record(&run("c", Status::Ok, "2026-11-24T09:03:00Z", &big))
            .unwrap();
        let all = history.recent(None, 10).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].task, "c");
        assert!(all[0].output.len() <= OUTPUT_CAP + 64);
        assert_eq!(history.last("a").unwrap().unwrap().status, Status::Skipped);
        assert_eq!(
            history.last_started("a").unwrap().unwrap().to_rfc3339(),
            "2026-11-24T09:00:00+00:00"
        );
        let since = DateTime::parse_from_rfc3339("2026-11-24T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(history.said_since("a", "first", since).unwrap());
        assert!(!history.said_since("b", "boom", since).unwrap());
    }

    /// The daemon's memory index and `heartbeat log` open `index.sqlite` at the same
    /// moment when the daemon first starts: every one of them gets the file, none is told
    /// it is locked (nor, for the index, given a temporary one).
    #[test]
    fn the_index_and_the_history_opened_at_once_on_a_new_file_all_get_it() {
        const OPENERS: usize = 6;
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("index.sqlite");
            let start = std::sync::Barrier::new(OPENERS);
            std::thread::scope(|scope| {
                for opener in 0..OPENERS {
                    let (path, start) = (&path, &start);
                    scope.spawn(move || {
                        start.wait();
                        if opener % 2 == 0 {
                            let (_, notice) = crate::memory::Store::open(path).unwrap();
                            assert_eq!(notice, None, "round {round}");
                        } else {
                            let history = History::open(path)
                                .unwrap_or_else(|err| panic!("round {round}: {err}"));
                            history.recent(None, 1).unwrap();
                        }
                    });
                }
            });
        }
    }
}
